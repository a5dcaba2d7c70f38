//! `media::sdp`: the SDP layer of the B2BUA — parse and print session descriptions
//! (RFC 8866, RFC 4566), negotiate them (RFC 3264 offer/answer), and anchor media through our
//! relay.
//!
//! Why it exists: every call leg exchanges SDP, and the PBX sits between the legs. It must
//! read what each peer offers, answer with what the tenant allows, show each peer our relay
//! instead of the other peer, present one stable origin per leg, and keep payload type
//! numbers consistent across legs so the relay can stay a passthrough.
//!
//! How it works: [`Sdp::parse`] turns a body into an owned [`Sdp`] that keeps every line in
//! order (typed `o=`, `c=`, `m=`, `a=`; everything else verbatim), so printing gives the same
//! text with CRLF. [`answer`] negotiates, [`align_payload_types`] maps a callee's answer
//! onto the caller's numbers, [`rewrite_for_relay`] anchors, and [`build_offer`] starts a
//! leg we originate.
//!
//! ```
//! use pbx::media::sdp::{AnswerPolicy, Codec, Limits, OriginState, Sdp, answer, rewrite_for_relay};
//!
//! let offer = Sdp::parse(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n\
//! t=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n\
//! a=fmtp:101 0-16\r\n", &Limits::default())?;
//! let ours = [Codec::PCMA, Codec::PCMU, Codec::telephone_event(101)];
//! let mut reply = answer(&offer, &AnswerPolicy::new(&ours));
//! let mut origin = OriginState::new(4242);
//! rewrite_for_relay(&mut reply, "203.0.113.1".parse()?, &[30000], &mut origin)?;
//! assert!(reply.to_string().contains("m=audio 30000 RTP/AVP 8 0 101\r\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What it must never do: panic on peer input, put peer text in an error, do I/O or read the
//! clock (session ids come from the caller), or forward an ICE or other transport promise it
//! cannot keep in an answer it writes. It contains no `unsafe`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, clippy::unreachable)
)]

mod answer;
mod attr;
mod codec;
mod direction;
mod error;
#[cfg(test)]
mod fixtures;
mod hold;
mod limits;
mod line;
mod media;
mod offer;
mod origin;
mod origin_state;
#[cfg(test)]
mod proptests;
mod ptmap;
mod relay;
mod session;

pub use answer::{AnswerPolicy, CodecOrder, PLAIN_RTP, answer};
pub use attr::{Fmtp, Rtcp, RtpMap};
pub use codec::Codec;
pub use direction::Direction;
pub use error::{ParseError, RelayError};
pub use limits::Limits;
pub use line::{Attribute, Connection, Line};
pub use media::Media;
pub use offer::{OfferOptions, build_offer};
pub use origin::Origin;
pub use origin_state::OriginState;
pub use ptmap::{PtMap, PtPair, align_payload_types};
pub use relay::rewrite_for_relay;
pub use session::Sdp;
