//! SIP transactions (RFC 3261 §17, RFC 6026) as a sans-IO core.
//!
//! Why it exists: the TU (UA core, B2BUA) should see each request and response once,
//! whatever UDP loses or duplicates. This module owns retransmission, absorption of
//! retransmitted messages, the ACK for non-2xx responses, and the §17 timers, so the TU
//! only answers requests and reads responses.
//!
//! How it works: [`TxnLayer`] holds the four state machines (INVITE / non-INVITE,
//! client / server), keyed by [`TxnKey`]. The I/O shell feeds it parsed messages with
//! [`TxnLayer::handle_incoming`] and the time with [`TxnLayer::handle_timeout`], and pulls
//! [`Transmit`]s, [`TxnEvent`]s and the next deadline. Time only enters as an `Instant`
//! argument, so tests run in virtual time.
//!
//! A 2xx to an INVITE follows RFC 6026: both INVITE transactions wait in
//! [`TxnState::Accepted`] for `64*T1` (timers L and M) instead of terminating, so 2xx
//! retransmissions still match (client) and INVITE retransmissions are still absorbed
//! (server). Retransmitting the 2xx and ACKing it stay with the TU (§13.3.1.4, §13.2.2.4).
//!
//! What it must never do: I/O, read a clock, spawn tasks, panic or allocate without bound
//! on peer input (the number of transactions is capped by [`TxnConfig::max_transactions`]).
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use pbx::sip::txn::{Peer, PeerTransport, TxnConfig, TxnEvent, TxnLayer};
//!
//! let mut layer: TxnLayer = TxnLayer::new(TxnConfig::default());
//! let server = Peer::new(PeerTransport::Udp, "192.0.2.2:5060".parse().unwrap());
//! let now = Instant::now();
//! let key = layer.send_request(Bytes::from_static(b"OPTIONS sip:b@192.0.2.2 SIP/2.0\r\n\
//! Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@192.0.2.1>;tag=1\r\n\
//! To: <sip:b@192.0.2.2>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\
//! Content-Length: 0\r\n\r\n"), server, now)?;
//! let first = layer.poll_transmit().unwrap();
//! assert_eq!(first.dest, server);
//! // Nothing comes back: timer E retransmits after T1.
//! assert_eq!(layer.poll_timeout(), Some(now + std::time::Duration::from_millis(500)));
//! layer.handle_timeout(now + std::time::Duration::from_millis(500));
//! assert_eq!(layer.poll_transmit().unwrap().bytes, first.bytes);
//! # let _ = key;
//! # Ok::<(), pbx::sip::txn::TxnError>(())
//! ```

use std::fmt;

mod client_invite;
mod client_non_invite;
mod error;
mod event;
mod key;
mod layer;
mod machine;
mod peer;
mod server_invite;
mod server_non_invite;
mod timers;

#[cfg(test)]
mod tests;

pub use error::TxnError;
pub use event::{Transmit, TxnEvent};
pub use key::{Role, TxnKey};
pub use layer::{TxnConfig, TxnLayer};
pub use peer::{Peer, PeerTransport, TxnPeer};
pub use timers::TimerConfig;

/// The states of RFC 3261 Figures 5–8 and RFC 6026's Accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    /// INVITE client: request sent, nothing received.
    Calling,
    /// Non-INVITE client or server: request sent / received, no response yet.
    Trying,
    /// A provisional response was received (client) or sent (server).
    Proceeding,
    /// A final (non-2xx for INVITE) response was received / sent; absorbing retransmissions.
    Completed,
    /// INVITE server: the ACK for the non-2xx arrived (timer I).
    Confirmed,
    /// INVITE client or server after a 2xx (RFC 6026, timers M and L).
    Accepted,
    /// Gone; the layer removes the transaction.
    Terminated,
}

impl fmt::Display for TxnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            TxnState::Calling => "calling",
            TxnState::Trying => "trying",
            TxnState::Proceeding => "proceeding",
            TxnState::Completed => "completed",
            TxnState::Confirmed => "confirmed",
            TxnState::Accepted => "accepted",
            TxnState::Terminated => "terminated",
        };
        f.write_str(s)
    }
}
