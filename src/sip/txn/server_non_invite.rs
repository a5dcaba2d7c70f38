//! The non-INVITE server transaction (RFC 3261 §17.2.2).
//!
//! Exists to answer retransmitted requests with the last response sent (none while in
//! Trying) and to keep doing so for timer J after the final response. It must never pass
//! a retransmitted request to the TU, nor send a second final response.

use std::time::Instant;

use bytes::Bytes;

use super::TxnState;
use super::error::TxnError;
use super::machine::Effects;
use super::timers::{TimerConfig, due};

#[derive(Debug, Clone)]
pub(crate) struct ServerNonInvite {
    state: TxnState,
    timers: TimerConfig,
    reliable: bool,
    last: Option<Bytes>,
    /// Timer J (Completed only).
    deadline: Option<Instant>,
}

impl ServerNonInvite {
    /// Enters Trying.
    pub(crate) fn start(timers: TimerConfig, reliable: bool) -> ServerNonInvite {
        ServerNonInvite { state: TxnState::Trying, timers, reliable, last: None, deadline: None }
    }

    pub(crate) fn state(&self) -> TxnState {
        self.state
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    pub(crate) fn terminate(&mut self) {
        self.state = TxnState::Terminated;
        self.deadline = None;
    }

    /// A retransmission of the request: answered with the last response, if any.
    pub(crate) fn on_request(&mut self) -> Effects {
        match self.state {
            TxnState::Proceeding | TxnState::Completed => Effects::send(self.last.clone()),
            _ => Effects::default(),
        }
    }

    pub(crate) fn send_response(&mut self, status: u16, response: Bytes, now: Instant) -> Result<Effects, TxnError> {
        match (self.state, status) {
            (TxnState::Trying | TxnState::Proceeding, 100..=199) => self.state = TxnState::Proceeding,
            (TxnState::Trying | TxnState::Proceeding, 200..=699) => {
                self.state = TxnState::Completed;
                self.deadline = Some(now + self.timers.timer_j(self.reliable));
            }
            (state, status) => return Err(TxnError::State { status, state }),
        }
        self.last = Some(response.clone());
        Ok(Effects::send(Some(response)))
    }

    pub(crate) fn on_timer(&mut self, now: Instant) -> Effects {
        if due(self.deadline, now) {
            self.terminate();
        }
        Effects::default()
    }
}
