//! The non-INVITE client transaction (RFC 3261 §17.1.2).
//!
//! Exists to retransmit a request over unreliable transports (timer E: T1 doubling up to
//! T2, then T2 once a provisional response arrived), give up after timer F, and absorb
//! retransmitted final responses for timer K. It must never pass more than one final
//! response to the TU.

use std::time::Instant;

use bytes::Bytes;

use super::TxnState;
use super::machine::Effects;
use super::timers::{Retransmit, TimerConfig, due, earliest};
use crate::sip::msg::Message;

#[derive(Debug, Clone)]
pub(crate) struct ClientNonInvite {
    state: TxnState,
    request: Bytes,
    timers: TimerConfig,
    reliable: bool,
    /// Timer E (Trying and Proceeding).
    retransmit: Option<Retransmit>,
    /// Timer F in Trying and Proceeding, K in Completed.
    deadline: Option<Instant>,
}

impl ClientNonInvite {
    /// Enters Trying; the layer sends the request itself.
    pub(crate) fn start(request: Bytes, timers: TimerConfig, reliable: bool, now: Instant) -> ClientNonInvite {
        ClientNonInvite {
            state: TxnState::Trying,
            request,
            timers,
            reliable,
            retransmit: Retransmit::start(now, timers.first_retransmit(reliable)),
            deadline: Some(now + timers.txn_timeout()),
        }
    }

    pub(crate) fn state(&self) -> TxnState {
        self.state
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        earliest([self.retransmit.map(|r| r.at), self.deadline])
    }

    pub(crate) fn terminate(&mut self) {
        self.state = TxnState::Terminated;
        self.retransmit = None;
        self.deadline = None;
    }

    pub(crate) fn on_response(&mut self, response: &Message, now: Instant) -> Effects {
        let status = response.status().unwrap_or(0);
        match (self.state, status) {
            (TxnState::Trying | TxnState::Proceeding, 100..=199) => {
                // Timer E keeps running; it re-arms with T2 from now on.
                self.state = TxnState::Proceeding;
                Effects::deliver()
            }
            (TxnState::Trying | TxnState::Proceeding, _) => {
                self.state = TxnState::Completed;
                self.retransmit = None;
                self.deadline = Some(now + self.timers.timer_i_k(self.reliable));
                Effects::deliver()
            }
            _ => Effects::default(),
        }
    }

    pub(crate) fn on_timer(&mut self, now: Instant) -> Effects {
        if due(self.deadline, now) {
            let timed_out = matches!(self.state, TxnState::Trying | TxnState::Proceeding);
            self.terminate();
            return Effects { timed_out, ..Effects::default() };
        }
        let Some(e) = self.retransmit.filter(|e| e.at <= now) else {
            return Effects::default();
        };
        self.retransmit = Some(match self.state {
            TxnState::Proceeding => Retransmit::fixed(now, self.timers.t2),
            _ => e.backoff(now, Some(self.timers.t2)),
        });
        Effects::send(Some(self.request.clone()))
    }
}
