//! `sip::msg`: the SIP message layer of the PBX — a zero-copy parser, typed header access,
//! a printer and a response builder (RFC 3261 §7, §8.2.6, §20, §25; RFC 4475; RFC 5118;
//! RFC 3966 for `tel:`).
//!
//! Why it exists: every packet the PBX receives goes through here first, so it must be fast
//! (well under 2 µs for a typical INVITE), exact about what RFC 3261 allows, and lenient
//! only where RFC 4475 says a robust element may be.
//!
//! How it works: [`parse_datagram`] / [`parse_stream_message`] split the received
//! [`bytes::Bytes`] into a start line, a small `Vec` of header spans and a body span; no
//! header is copied. Typed values ([`Via`], [`NameAddr`], [`CSeq`], [`Credentials`], ...) are
//! parsed on demand from those spans and borrow from the buffer. [`check_request`] is the
//! validation a server runs before acting on a request and tells it which status to answer.
//!
//! ```
//! use bytes::Bytes;
//! use pbx::sip::msg::{check_request, parse_datagram, Limits, Method, ResponseBuilder};
//!
//! let raw = Bytes::from_static(b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
//! v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9\r\n\
//! Max-Forwards: 70\r\nf: <sip:alice@example.com>;tag=9fxced76sl\r\n\
//! t: <sip:bob@example.com>\r\ni: 3848276298220188511@192.0.2.1\r\n\
//! CSeq: 1 OPTIONS\r\nl: 0\r\n\r\n");
//! let msg = parse_datagram(raw, &Limits::default())?;
//! assert_eq!(msg.method(), Some(Method::Options));
//! assert_eq!(msg.top_via()?.branch(), Some("z9hG4bK74bf9"));
//! let answer = match check_request(&msg) {
//!     Ok(()) => ResponseBuilder::new(&msg, 200).to_tag("a6c85cf").build(),
//!     Err(reject) => ResponseBuilder::new(&msg, reject.status).to_tag("a6c85cf").build(),
//! };
//! assert!(answer.starts_with(b"SIP/2.0 200 OK\r\n"));
//! # Ok::<(), pbx::sip::msg::ParseError>(())
//! ```
//!
//! What it must never do: panic, allocate per header, or echo peer input inside an error
//! (errors are a small `Copy` enum). It contains no `unsafe` and does no I/O.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, clippy::unreachable)
)]

mod auth;
mod build;
mod check;
mod cseq;
mod error;
mod header;
mod limits;
mod media;
mod message;
mod method;
mod nameaddr;
mod params;
mod parse;
mod print;
mod scalar;
mod scan;
mod tokens;
mod uri;
mod via;

pub use auth::{Algorithm, AuthValue, Challenge, Credentials, Digest};
pub use build::{ResponseBuilder, reason_phrase};
pub use check::{Reject, check_request, check_response};
pub use cseq::CSeq;
pub use error::ParseError;
pub use header::{HeaderField, HeaderName};
pub use limits::Limits;
pub use media::MediaType;
pub use message::{Message, StartLine, Version};
pub use method::Method;
pub use nameaddr::{Contact, DisplayName, NameAddr};
pub use params::{Param, Params};
pub use parse::{Frame, frame_stream, parse_datagram, parse_head, parse_stream_message};
pub use print::MessageWriter;
pub use uri::{AbsoluteUri, Host, SipUri, TelUri, Uri, unescape};
pub use via::{Transport, Via};
