//! The registrar: the location service and REGISTER processing of RFC 3261 §10.3, with the
//! NAT handling of RFC 3581 and a lite RFC 5626 (flows, keep-alives).
//!
//! Why it exists: every call to a user is routed through the bindings kept here, for every
//! tenant at once, so it must be exact about §10.3 (ordering by Call-ID/CSeq, `*`, expiry
//! bounds) and cheap at scale (100,000 bindings in well under 100 MB, expiry and keep-alive
//! work proportional to what is due, not to what is stored).
//!
//! How it works, sans-IO like `sip::txn`: the caller parses the REGISTER, authenticates it,
//! resolves the tenant and the To user, and calls [`Location::register`] with the source
//! address, transport, flow and `now` (unix seconds). It gets back the bindings for the 200 OK
//! ([`contact_header_value`]) and the [`LocationChange`]s to persist, batched and
//! asynchronously; at startup it feeds them back with [`Location::restore`]. The caller asks
//! [`Location::poll_timeout`] / [`KeepAlive::poll_timeout`] when to call [`Location::expire`]
//! and [`KeepAlive::due`].
//!
//! What it must never do: I/O, read the clock, panic or allocate without bound on peer
//! input (contact count, URI and Call-ID length, User-Agent length are all capped), or
//! answer a REGISTER it only partly applied: a request either applies completely or not
//! at all.

mod binding;
mod keepalive;
mod location;
mod nat;
mod register;
#[cfg(test)]
mod testutil;

pub use binding::{Binding, LocationChange, Reach, RemoveReason, Transport, contact_header_value, format_q};
pub use keepalive::{KeepAlive, KeepAliveConfig, Ping};
pub use location::{Location, LocationLimits, RestoreOutcome};
pub use nat::{NatAssessment, assess, is_private};
pub use register::{ExpiryPolicy, RegisterError, RegisterOutcome};
