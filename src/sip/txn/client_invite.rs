//! The INVITE client transaction (RFC 3261 §17.1.1, with RFC 6026's Accepted state).
//!
//! Exists to retransmit an INVITE over unreliable transports (timer A, doubling with no
//! cap, as §17.1.1.2 says), give up after timer B, and acknowledge non-2xx final responses
//! itself (§17.1.1.3) so the TU only sees each response once. A 2xx moves it to Accepted
//! (RFC 6026 §7.2) for timer M, so retransmitted or forked 2xx still reach the TU, which
//! sends their ACKs. It must never ACK a 2xx (that ACK is the TU's, end to end) and never
//! retransmit after a provisional response.

use std::time::Instant;

use bytes::Bytes;

use super::TxnState;
use super::machine::Effects;
use super::timers::{Retransmit, TimerConfig, due, earliest};
use crate::sip::msg::HeaderName;
use crate::sip::msg::Message;
use crate::sip::msg::MessageWriter;
use crate::sip::msg::Method;

#[derive(Debug, Clone)]
pub(crate) struct ClientInvite {
    state: TxnState,
    /// The INVITE, for retransmission and the ACK of a non-2xx; dropped in Accepted, where
    /// the transaction only lingers to pass 2xx retransmissions up (it holds no bytes then).
    request: Option<Message>,
    timers: TimerConfig,
    reliable: bool,
    /// The ACK for the non-2xx final response, sent again for each retransmission of it.
    ack: Option<Bytes>,
    /// Timer A (Calling only).
    retransmit: Option<Retransmit>,
    /// Timer B in Calling, D in Completed, M in Accepted.
    deadline: Option<Instant>,
}

impl ClientInvite {
    /// Enters Calling; the layer sends the request itself.
    pub(crate) fn start(request: Message, timers: TimerConfig, reliable: bool, now: Instant) -> ClientInvite {
        ClientInvite {
            state: TxnState::Calling,
            request: Some(request),
            timers,
            reliable,
            ack: None,
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
            (TxnState::Calling | TxnState::Proceeding, 100..=199) => {
                // No more retransmissions, and no timer B: the TU cancels if it wants to.
                self.state = TxnState::Proceeding;
                self.retransmit = None;
                self.deadline = None;
                Effects::deliver()
            }
            (TxnState::Calling | TxnState::Proceeding, 200..=299) => {
                self.state = TxnState::Accepted;
                self.request = None;
                self.retransmit = None;
                self.deadline = Some(now + self.timers.txn_timeout());
                Effects::deliver()
            }
            (TxnState::Calling | TxnState::Proceeding, _) => {
                self.state = TxnState::Completed;
                self.retransmit = None;
                self.deadline = Some(now + self.timers.timer_d(self.reliable));
                let ack = self.request.take().map(|request| build_ack(&request, response));
                self.ack.clone_from(&ack);
                Effects { send: ack, deliver: true, timed_out: false }
            }
            // Retransmitted or forked 2xx: the TU ACKs each one.
            (TxnState::Accepted, 200..=299) => Effects::deliver(),
            // Retransmitted final response: ACK again, absorb.
            (TxnState::Completed, 300..) => Effects::send(self.ack.clone()),
            _ => Effects::default(),
        }
    }

    pub(crate) fn on_timer(&mut self, now: Instant) -> Effects {
        if due(self.deadline, now) {
            let timed_out = self.state == TxnState::Calling;
            self.terminate();
            return Effects { timed_out, ..Effects::default() };
        }
        match self.retransmit {
            Some(a) if a.at <= now && self.state == TxnState::Calling => {
                self.retransmit = Some(a.backoff(now, None));
                Effects::send(self.request.as_ref().map(|r| r.buffer().clone()))
            }
            _ => Effects::default(),
        }
    }
}

/// The ACK for a non-2xx final response (§17.1.1.3): Request-URI, Call-ID, From, CSeq
/// number and Route of the INVITE, its top Via only, and the response's To (with tag).
fn build_ack(request: &Message, response: &Message) -> Bytes {
    let mut w = MessageWriter::request(Method::Ack, request.request_uri_str().unwrap_or_default());
    if let Some(Ok(via)) = request.values(HeaderName::Via).next() {
        w.header("Via", via);
    }
    for route in request.headers_named(HeaderName::Route) {
        w.raw_header(b"Route", route.value());
    }
    w.header("Max-Forwards", 70);
    for (kind, from) in [(HeaderName::From, request), (HeaderName::To, response), (HeaderName::CallId, request)] {
        if let Some(h) = from.header(kind) {
            w.raw_header(kind.as_str().as_bytes(), h.value());
        }
    }
    if let Ok(cseq) = request.cseq() {
        w.header("CSeq", format_args!("{} ACK", cseq.seq));
    }
    w.finish(b"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::msg::Limits;
    use crate::sip::msg::parse_datagram;

    #[test]
    fn ack_copies_invite_and_response_fields() {
        let invite = parse_datagram(
            Bytes::from_static(
                b"INVITE sip:bob@b.example SIP/2.0\r\n\
Via: SIP/2.0/UDP a.example;branch=z9hG4bKa1, SIP/2.0/UDP p.example;branch=z9hG4bKp\r\n\
Route: <sip:p1.example;lr>\r\nRoute: <sip:p2.example;lr>\r\nMax-Forwards: 69\r\n\
From: <sip:alice@a.example>;tag=f\r\nTo: <sip:bob@b.example>\r\nCall-ID: c@a\r\n\
CSeq: 4 INVITE\r\nContent-Length: 0\r\n\r\n",
            ),
            &Limits::default(),
        )
        .unwrap();
        let resp = parse_datagram(
            Bytes::from_static(
                b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP a.example;branch=z9hG4bKa1\r\n\
From: <sip:alice@a.example>;tag=f\r\nTo: <sip:bob@b.example>;tag=b\r\nCall-ID: c@a\r\n\
CSeq: 4 INVITE\r\nContent-Length: 0\r\n\r\n",
            ),
            &Limits::default(),
        )
        .unwrap();
        let ack = build_ack(&invite, &resp);
        assert_eq!(
            std::str::from_utf8(&ack).unwrap(),
            "ACK sip:bob@b.example SIP/2.0\r\n\
Via: SIP/2.0/UDP a.example;branch=z9hG4bKa1\r\n\
Route: <sip:p1.example;lr>\r\nRoute: <sip:p2.example;lr>\r\nMax-Forwards: 70\r\n\
From: <sip:alice@a.example>;tag=f\r\nTo: <sip:bob@b.example>;tag=b\r\nCall-ID: c@a\r\n\
CSeq: 4 ACK\r\nContent-Length: 0\r\n\r\n"
        );
    }
}
