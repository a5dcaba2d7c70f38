//! The INVITE server transaction (RFC 3261 §17.2.1, with RFC 6026's Accepted state).
//!
//! Exists to answer retransmitted INVITEs with the last response, retransmit a non-2xx
//! final response over unreliable transports until the ACK arrives (timer G, T1 doubling
//! up to T2; timer H gives up), and absorb that ACK and its retransmissions (timer I).
//! After a 2xx it stays in Accepted for timer L (RFC 6026 §7.1), absorbing INVITE
//! retransmissions and letting the TU send 2xx retransmissions through it. It must never
//! pass a retransmitted INVITE or the ACK for a non-2xx to the TU, and never retransmit a
//! 2xx itself (the TU core does, §13.3.1.4).

use std::time::Instant;

use bytes::Bytes;

use super::TxnState;
use super::error::TxnError;
use super::machine::Effects;
use super::timers::{Retransmit, TimerConfig, due, earliest};

#[derive(Debug, Clone)]
pub(crate) struct ServerInvite {
    state: TxnState,
    timers: TimerConfig,
    reliable: bool,
    /// The last response sent, for retransmitted INVITEs and timer G.
    last: Option<Bytes>,
    /// Timer G (Completed only).
    retransmit: Option<Retransmit>,
    /// Timer H in Completed, I in Confirmed, L in Accepted.
    deadline: Option<Instant>,
}

impl ServerInvite {
    /// Enters Proceeding.
    pub(crate) fn start(timers: TimerConfig, reliable: bool) -> ServerInvite {
        ServerInvite { state: TxnState::Proceeding, timers, reliable, last: None, retransmit: None, deadline: None }
    }

    pub(crate) fn state(&self) -> TxnState {
        self.state
    }

    /// True until the first response (provisional or final) is sent.
    pub(crate) fn unanswered(&self) -> bool {
        self.state == TxnState::Proceeding && self.last.is_none()
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        earliest([self.retransmit.map(|r| r.at), self.deadline])
    }

    pub(crate) fn terminate(&mut self) {
        self.state = TxnState::Terminated;
        self.retransmit = None;
        self.deadline = None;
    }

    /// A retransmission of the INVITE.
    pub(crate) fn on_request(&mut self) -> Effects {
        match self.state {
            TxnState::Proceeding | TxnState::Completed => Effects::send(self.last.clone()),
            _ => Effects::default(),
        }
    }

    /// An ACK matching this transaction: absorbed, except in Accepted (RFC 6026 §8.7:
    /// the TU sees it).
    pub(crate) fn on_ack(&mut self, now: Instant) -> Effects {
        match self.state {
            TxnState::Completed => {
                self.state = TxnState::Confirmed;
                self.retransmit = None;
                self.deadline = Some(now + self.timers.timer_i_k(self.reliable));
                Effects::default()
            }
            TxnState::Accepted => Effects::deliver(),
            _ => Effects::default(),
        }
    }

    pub(crate) fn send_response(&mut self, status: u16, response: Bytes, now: Instant) -> Result<Effects, TxnError> {
        match (self.state, status) {
            (TxnState::Proceeding, 100..=199) => {}
            (TxnState::Proceeding | TxnState::Accepted, 200..=299) => {
                if self.state == TxnState::Proceeding {
                    self.state = TxnState::Accepted;
                    self.deadline = Some(now + self.timers.txn_timeout());
                }
            }
            (TxnState::Proceeding, 300..=699) => {
                self.state = TxnState::Completed;
                self.retransmit = Retransmit::start(now, self.timers.first_retransmit(self.reliable));
                self.deadline = Some(now + self.timers.txn_timeout());
            }
            (state, status) => return Err(TxnError::State { status, state }),
        }
        // In Accepted retransmitted INVITEs are absorbed and the TU retransmits the 2xx, so
        // the response is not kept (it would only weigh on memory for 64*T1).
        self.last = (self.state != TxnState::Accepted).then(|| response.clone());
        Ok(Effects::send(Some(response)))
    }

    pub(crate) fn on_timer(&mut self, now: Instant) -> Effects {
        if due(self.deadline, now) {
            // Timer H: the ACK never came; the TU is told. I and L end quietly.
            let timed_out = self.state == TxnState::Completed;
            self.terminate();
            return Effects { timed_out, ..Effects::default() };
        }
        match self.retransmit {
            Some(g) if g.at <= now && self.state == TxnState::Completed => {
                self.retransmit = Some(g.backoff(now, Some(self.timers.t2)));
                Effects::send(self.last.clone())
            }
            _ => Effects::default(),
        }
    }
}
