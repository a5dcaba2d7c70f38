//! One enum over the four state machines, and what an input made a machine do.
//!
//! Exists so the layer drives every transaction the same way: feed an input, get
//! [`Effects`] (bytes to send, whether the TU sees the message, whether a timer expired),
//! then reschedule or reap. It must never send or deliver anything itself: effects are
//! data the layer turns into transmits and events.

use std::time::Instant;

use bytes::Bytes;

use super::TxnState;
use super::client_invite::ClientInvite;
use super::client_non_invite::ClientNonInvite;
use super::error::TxnError;
use super::server_invite::ServerInvite;
use super::server_non_invite::ServerNonInvite;
use crate::sip::msg::Message;

/// What one input made a state machine do.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Effects {
    /// Bytes to send to the transaction's peer.
    pub(crate) send: Option<Bytes>,
    /// The input message goes to the TU.
    pub(crate) deliver: bool,
    /// Timer B, F or H expired: the TU gets [`super::TxnEvent::Timeout`].
    pub(crate) timed_out: bool,
}

impl Effects {
    pub(crate) fn deliver() -> Effects {
        Effects { deliver: true, ..Effects::default() }
    }

    pub(crate) fn send(bytes: Option<Bytes>) -> Effects {
        Effects { send: bytes, ..Effects::default() }
    }
}

#[derive(Debug, Clone)]
/// The RFC 3261 names: INVITE / non-INVITE client / server transaction.
pub(crate) enum Machine {
    Ict(ClientInvite),
    Nict(ClientNonInvite),
    Ist(ServerInvite),
    Nist(ServerNonInvite),
}

impl Machine {
    pub(crate) fn state(&self) -> TxnState {
        match self {
            Machine::Ict(m) => m.state(),
            Machine::Nict(m) => m.state(),
            Machine::Ist(m) => m.state(),
            Machine::Nist(m) => m.state(),
        }
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self {
            Machine::Ict(m) => m.deadline(),
            Machine::Nict(m) => m.deadline(),
            Machine::Ist(m) => m.deadline(),
            Machine::Nist(m) => m.deadline(),
        }
    }

    pub(crate) fn terminate(&mut self) {
        match self {
            Machine::Ict(m) => m.terminate(),
            Machine::Nict(m) => m.terminate(),
            Machine::Ist(m) => m.terminate(),
            Machine::Nist(m) => m.terminate(),
        }
    }

    pub(crate) fn on_timer(&mut self, now: Instant) -> Effects {
        match self {
            Machine::Ict(m) => m.on_timer(now),
            Machine::Nict(m) => m.on_timer(now),
            Machine::Ist(m) => m.on_timer(now),
            Machine::Nist(m) => m.on_timer(now),
        }
    }

    /// A response matched this (client) transaction.
    pub(crate) fn on_response(&mut self, response: &Message, now: Instant) -> Effects {
        match self {
            Machine::Ict(m) => m.on_response(response, now),
            Machine::Nict(m) => m.on_response(response, now),
            Machine::Ist(_) | Machine::Nist(_) => Effects::default(),
        }
    }

    /// A retransmission of the request matched this (server) transaction.
    pub(crate) fn on_request(&mut self) -> Effects {
        match self {
            Machine::Ist(m) => m.on_request(),
            Machine::Nist(m) => m.on_request(),
            Machine::Ict(_) | Machine::Nict(_) => Effects::default(),
        }
    }

    /// An ACK matched this (INVITE server) transaction.
    pub(crate) fn on_ack(&mut self, now: Instant) -> Effects {
        match self {
            Machine::Ist(m) => m.on_ack(now),
            _ => Effects::default(),
        }
    }

    /// The TU sends a response through this (server) transaction.
    pub(crate) fn send_response(&mut self, status: u16, response: Bytes, now: Instant) -> Result<Effects, TxnError> {
        match self {
            Machine::Ist(m) => m.send_response(status, response, now),
            Machine::Nist(m) => m.send_response(status, response, now),
            Machine::Ict(_) | Machine::Nict(_) => Err(TxnError::State { status, state: self.state() }),
        }
    }
}
