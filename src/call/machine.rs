//! The call state machine: one caller leg (A), the forks toward the callee's contacts, the
//! winning callee leg (B), and the media anchor between them.
//!
//! Sans-IO like the transaction layer: the actor feeds it [`Input`]s with the time, and
//! sends the [`Output`]s it queues; [`Call::poll_timeout`] says when to call
//! [`Call::handle_timeout`]. Transactions (retransmission of requests, ACK of non-2xx) are
//! the SIP core's; what stays here is the TU's part: routing between legs, the 2xx
//! retransmission and its ACK (RFC 3261 §13.3.1.4, §13.2.2.4), CANCEL of losing forks,
//! session timers (RFC 4028), limits on ringing and duration, and the CDR at the end. It
//! must never panic on what a peer sent and always end: every phase has a deadline.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::dialog::{self, ALLOW, Dialog, Extra, InviteParts};
use super::media::{self, Anchor, SDP};
use super::{CallSettings, CallSetup, CallView, Party, Side, Target};
use crate::media::record::{Recorder, RecordingMeta};
use crate::media::relay::{Leg, LegStats};
use crate::sip::core::SERVER;
use crate::sip::msg::{HeaderName, Message, Method, ResponseBuilder};
use crate::sip::transport::Source;
use crate::sip::txn::TxnKey;
use crate::store::{Cdr, CdrLeg};

/// What the actor hands the machine.
#[derive(Debug)]
pub enum Input {
    /// A request inside the call from `side` (CANCEL, BYE, re-INVITE, UPDATE, INFO, …), with
    /// its server transaction.
    Request { side: Side, key: TxnKey, msg: Message },
    /// The ACK for a 2xx we sent on `side`.
    Ack { side: Side, msg: Message },
    /// A response to our request `req`.
    Response { req: u64, msg: Message },
    /// Our request `req` got no final response (timer B/F) or could not be sent.
    Failed { req: u64 },
    /// The relay saw no RTP for its inactivity timeout.
    MediaInactive,
    /// End the call now (shutdown drain, operator).
    Hangup { cause: &'static str },
}

/// What the machine wants sent.
#[derive(Debug)]
pub enum Output {
    /// A response in server transaction `key`; sent to `fallback` when the transaction has
    /// ended (a 2xx retransmission).
    Respond { key: TxnKey, bytes: Bytes, fallback: Source },
    /// A request that starts client transaction `req`.
    Request { req: u64, bytes: Bytes, dest: Source },
    /// Bytes outside any transaction: the ACK for a 2xx, a 2xx retransmission.
    Stateless { bytes: Bytes, dest: Source },
    /// The call's public state changed.
    State(CallView),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ringing,
    Answered,
    /// BYEs or CANCELs are out; waiting for their answers.
    Ending,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ForkState {
    /// INVITE sent, nothing heard.
    Calling,
    /// A provisional response came: CANCEL may be sent.
    Proceeding,
    /// CANCEL wanted before any provisional: sent when one comes (§9.1).
    CancelWanted,
    Cancelled,
    Done,
}

struct Fork {
    target: Target,
    branch: String,
    state: ForkState,
    status: u16,
}

/// A request of ours waiting for its answer.
enum Pending {
    Invite {
        fork: usize,
    },
    Cancel,
    Bye,
    /// A request of `from`'s peer relayed to the other leg; `request` is the original.
    Relay {
        from: Side,
        key: TxnKey,
        request: Message,
        had_offer: bool,
    },
    /// Our own session refresh toward B.
    Refresh,
}

/// A 2xx to an INVITE we retransmit until its ACK (§13.3.1.4).
struct Retransmit {
    bytes: Bytes,
    dest: Source,
    interval: Duration,
    next: Instant,
    give_up: Instant,
    /// An ACK to send on the other leg when this one is acknowledged: (cseq of our
    /// INVITE there), for a re-INVITE without offer whose answer comes in the ACK.
    deferred_ack: Option<u32>,
}

/// Session timer of one leg (RFC 4028).
#[derive(Default)]
struct SessionTimer {
    interval: Option<Duration>,
    /// pbxd refreshes (B leg with refresher=uac).
    we_refresh: bool,
    deadline: Option<Instant>,
}

impl SessionTimer {
    fn touch(&mut self, now: Instant) {
        if let Some(interval) = self.interval {
            // We refresh at half time; the peer must have refreshed before the interval's end
            // minus min(32 s, a third of it) (RFC 4028 §10).
            let margin = (interval / 3).min(Duration::from_secs(32));
            let due = if self.we_refresh { interval / 2 } else { interval - margin };
            self.deadline = Some(now + due);
        }
    }
}

pub struct Call {
    id: u64,
    tenant: String,
    caller: Party,
    callee: Party,
    settings: CallSettings,
    seed: u64,
    counter: u64,
    phase: Phase,
    // Leg A.
    invite: Message,
    invite_key: TxnKey,
    a_source: Source,
    a: Dialog,
    a_timer: SessionTimer,
    // Leg B.
    b_call_id: String,
    b_from: String,
    b_to: String,
    forks: Vec<Fork>,
    b: Option<Dialog>,
    b_invite_cseq: u32,
    b_timer: SessionTimer,
    anchor: Option<Anchor>,
    pending: HashMap<u64, Pending>,
    next_req: u64,
    relay_in_flight: bool,
    retransmit: [Option<Retransmit>; 2],
    early_sent: bool,
    /// A callee's phone said it rings (180/183).
    rang: bool,
    /// The caller's INVITE had no SDP: the callee's 2xx offers, the caller's ACK answers.
    late_offer: bool,
    // Deadlines.
    ring_deadline: Option<Instant>,
    duration_deadline: Option<Instant>,
    end_deadline: Option<Instant>,
    // Record.
    start_ms: i64,
    answer_ms: i64,
    disposition: &'static str,
    cause: String,
    hangup_side: &'static str,
    outputs: VecDeque<Output>,
    final_stats: Option<crate::media::relay::SessionStats>,
    /// The callee's 2xx listed UPDATE in Allow: refreshes need no SDP.
    b_update: bool,
    /// The time of the input being handled.
    clock: Instant,
    /// The codec the callee answered with.
    codec: String,
    /// Records the call once answered.
    recorder: Option<Arc<Recorder>>,
}

fn now_ms() -> i64 {
    crate::store::now_ms()
}

impl Call {
    /// Starts the call: answers A when it cannot go on, otherwise forks the INVITE to every
    /// target.
    pub fn start(setup: CallSetup, now: Instant) -> Call {
        let CallSetup {
            id,
            tenant,
            caller,
            callee,
            invite,
            invite_key,
            source,
            local_addr,
            targets,
            settings,
            relay,
            media_ip,
            seed,
            b_call_id,
            recorder,
        } = setup;
        let a_tag = format!("{:x}", seed ^ 0x5a5a_5a5a);
        let a = Dialog::from_invite(&invite, &a_tag, source, local_addr).unwrap_or_else(|| Dialog {
            call_id: String::new(),
            local: String::new(),
            remote: String::new(),
            remote_target: String::new(),
            routes: Vec::new(),
            cseq: 0,
            remote_cseq: None,
            dest: source,
            local_addr,
        });
        let domain = caller.domain.clone();
        let b_from = match &caller.name {
            Some(name) => {
                format!("\"{}\" <sip:{}@{domain}>;tag={:x}", name.replace('"', ""), caller.number, seed.rotate_left(17))
            }
            None => format!("<sip:{}@{domain}>;tag={:x}", caller.number, seed.rotate_left(17)),
        };
        let b_to = format!("<sip:{}@{domain}>", callee.number);
        let mut call = Call {
            id,
            tenant,
            caller,
            callee,
            settings,
            seed,
            counter: 0,
            phase: Phase::Ringing,
            invite,
            invite_key,
            a_source: source,
            a,
            a_timer: SessionTimer::default(),
            b_call_id,
            b_from,
            b_to,
            forks: Vec::new(),
            b: None,
            b_invite_cseq: 1,
            b_timer: SessionTimer::default(),
            anchor: None,
            pending: HashMap::new(),
            next_req: 1,
            relay_in_flight: false,
            retransmit: [None, None],
            early_sent: false,
            rang: false,
            late_offer: false,
            ring_deadline: Some(now + settings.ring_timeout),
            duration_deadline: None,
            end_deadline: None,
            start_ms: now_ms(),
            answer_ms: 0,
            disposition: "failed",
            cause: String::new(),
            hangup_side: "system",
            outputs: VecDeque::new(),
            final_stats: None,
            b_update: false,
            clock: now,
            codec: String::new(),
            recorder,
        };
        // A session interval below our Min-SE is refused with ours (RFC 4028 §8.1).
        if !call.settings.session_expires.is_zero()
            && let Some(asked) = call.asked_session_expires()
            && asked < call.settings.min_se.as_secs()
        {
            let min_se = call.settings.min_se.as_secs().to_string();
            call.fail_a_with(422, "Session Interval Too Small", "session interval too small", &[("Min-SE", min_se)]);
            return call;
        }
        // No body is a late offer (RFC 3261 §13.2.1): the callee offers in its 2xx, the caller
        // answers in its ACK. A body that is not SDP we can read is refused.
        let offer = media::parse(call.invite.body_slice());
        if offer.is_none() && !call.invite.body_slice().is_empty() {
            call.fail_a(488, "Not Acceptable Here (the SDP offer is unreadable)", "unreadable SDP offer");
            return call;
        }
        call.late_offer = offer.is_none();
        let mut anchor = match Anchor::open(&relay, media_ip, offer.clone(), seed) {
            Ok(anchor) => anchor,
            Err(e) => {
                tracing::warn!(error = %e, "no media ports for a call");
                call.fail_a(503, "Service Unavailable (no media ports)", "no media ports");
                return call;
            }
        };
        let offer_to_b = offer.map(|o| anchor.show(o, Leg::B)).unwrap_or_default();
        call.anchor = Some(anchor);
        call.forks = targets
            .into_iter()
            .map(|target| Fork { target, branch: String::new(), state: ForkState::Calling, status: 0 })
            .collect();
        for i in 0..call.forks.len() {
            let branch = call.fresh();
            let bytes = {
                let parts = call.invite_parts(i, &offer_to_b);
                dialog::initial_invite(&parts, &branch)
            };
            if let Some(fork) = call.forks.get_mut(i) {
                fork.branch = branch;
            }
            let dest = call.forks.get(i).map(|f| f.target.dest);
            if let Some(dest) = dest {
                call.send_request(Pending::Invite { fork: i }, bytes, dest);
            }
        }
        call.publish();
        call
    }

    fn invite_parts<'a>(&'a self, fork: usize, body: &'a [u8]) -> InviteParts<'a> {
        let target = self.forks.get(fork).map(|f| &f.target);
        let dest = target.map_or(self.a_source, |t| t.dest);
        let mut headers = vec![("Supported", "timer".to_owned())];
        if !self.settings.session_expires.is_zero() {
            headers.push(("Session-Expires", self.settings.session_expires.as_secs().to_string()));
            headers.push(("Min-SE", self.settings.min_se.as_secs().to_string()));
        }
        InviteParts {
            target_uri: target.map_or("", |t| t.uri.as_str()),
            call_id: &self.b_call_id,
            from: &self.b_from,
            to: &self.b_to,
            cseq: self.b_invite_cseq,
            max_forwards: self.invite.max_forwards().ok().flatten().unwrap_or(70).saturating_sub(1).max(1),
            dest,
            local_addr: target.map_or(self.a.local_addr, |t| t.local_addr),
            extra: Extra { headers, body: (!body.is_empty()).then_some((SDP, body)) },
        }
    }

    /// A fresh branch / tag suffix, unique within this call.
    fn fresh(&mut self) -> String {
        self.counter += 1;
        format!("{:x}{:x}", self.seed.wrapping_add(self.counter.wrapping_mul(0x9e37_79b9_7f4a_7c15)), self.id)
    }

    fn send_request(&mut self, pending: Pending, bytes: Bytes, dest: Source) -> u64 {
        let req = self.next_req;
        self.next_req += 1;
        self.pending.insert(req, pending);
        self.outputs.push_back(Output::Request { req, bytes, dest });
        req
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    pub fn handle(&mut self, input: Input, now: Instant) {
        self.clock = now;
        match input {
            Input::Request { side, key, msg } => self.on_request(side, key, msg, now),
            Input::Ack { side, msg } => self.on_ack(side, &msg),
            Input::Response { req, msg } => self.on_response(req, msg, now),
            Input::Failed { req } => self.on_failed(req, now),
            Input::MediaInactive => {
                if self.phase == Phase::Answered {
                    self.hangup(None, "RTP timeout", now);
                }
            }
            Input::Hangup { cause } => match self.phase {
                Phase::Ringing => {
                    self.fail_a(503, "Service Unavailable (shutting down)", cause);
                    self.cancel_forks(now);
                    self.settle(now);
                }
                Phase::Answered => self.hangup(None, cause, now),
                Phase::Ending | Phase::Done => {}
            },
        }
    }

    // ---- Leg A: the INVITE we answer -------------------------------------------------

    /// A final non-2xx answer to A's INVITE.
    fn fail_a(&mut self, status: u16, reason: &str, cause: &str) {
        self.fail_a_with(status, reason, cause, &[]);
    }

    fn fail_a_with(&mut self, status: u16, reason: &str, cause: &str, extra: &[(&str, String)]) {
        let mut response = ResponseBuilder::new(&self.invite, status)
            .source(self.a_source.addr)
            .to_tag(self.a_tag())
            .reason(reason)
            .header("Server", SERVER);
        for (name, value) in extra {
            response = response.header(name, value);
        }
        let bytes = response.build();
        self.outputs.push_back(Output::Respond { key: self.invite_key.clone(), bytes, fallback: self.a_source });
        self.disposition = match status {
            486 | 600 | 603 => "busy",
            480 | 408 => "no_answer",
            487 => "cancelled",
            _ => "failed",
        };
        self.cause = cause.to_owned();
        self.ring_deadline = None;
        self.phase = Phase::Ending;
        self.end_deadline.get_or_insert(self.clock + self.settings.t1 * 64);
        self.settle(self.clock);
    }

    fn a_tag(&self) -> &str {
        self.a.local.rsplit_once(";tag=").map_or("", |(_, t)| t)
    }

    /// A provisional or 2xx answer to A's INVITE, with our Contact and A's Record-Route.
    fn answer_a(&mut self, status: u16, body: Option<&Bytes>, extra: &[(&str, String)]) -> Bytes {
        let routes: Vec<String> = self
            .invite
            .headers_named(HeaderName::RecordRoute)
            .filter_map(|h| h.value_str().ok().map(str::to_owned))
            .collect();
        let contact = dialog::contact(self.a.local_addr, self.a_source.transport);
        let mut response = ResponseBuilder::new(&self.invite, status)
            .source(self.a_source.addr)
            .to_tag(self.a_tag())
            .header("Contact", &contact)
            .header("Allow", ALLOW)
            .header("Server", SERVER);
        for r in &routes {
            response = response.header("Record-Route", r);
        }
        for (name, value) in extra {
            response = response.header(name, value);
        }
        if let Some(body) = body {
            response = response.body(SDP, body);
        }
        let bytes = response.build();
        self.outputs.push_back(Output::Respond {
            key: self.invite_key.clone(),
            bytes: bytes.clone(),
            fallback: self.a_source,
        });
        bytes
    }

    fn respond(&mut self, key: TxnKey, msg: &Message, status: u16, reason: Option<&str>, fallback: Source) {
        let mut response = ResponseBuilder::new(msg, status).source(fallback.addr).header("Server", SERVER);
        if let Some(reason) = reason {
            response = response.reason(reason);
        }
        let bytes = response.build();
        self.outputs.push_back(Output::Respond { key, bytes, fallback });
    }

    fn source_of(&self, side: Side) -> Source {
        match side {
            Side::A => self.a_source,
            Side::B => self.b.as_ref().map_or(self.a_source, |b| b.dest),
        }
    }

    fn dialog_mut(&mut self, side: Side) -> Option<&mut Dialog> {
        match side {
            Side::A => Some(&mut self.a),
            Side::B => self.b.as_mut(),
        }
    }

    // ---- Requests from either leg ------------------------------------------------------

    fn on_request(&mut self, side: Side, key: TxnKey, msg: Message, now: Instant) {
        let method = msg.method();
        let fallback = self.source_of(side);
        if method == Some(Method::Cancel) {
            self.respond(key, &msg, 200, None, fallback);
            if side == Side::A && self.phase == Phase::Ringing {
                self.hangup_side = "caller";
                self.fail_a(487, "Request Terminated", "CANCEL");
                self.cancel_forks(now);
                self.settle(now);
            }
            return;
        }
        if self.phase != Phase::Answered {
            // Before the answer only CANCEL (or a BYE, treated alike) makes sense from A; while
            // ending, a BYE that crossed ours is simply confirmed.
            let bye = method == Some(Method::Bye);
            let status = if bye && self.phase != Phase::Done { 200 } else { 481 };
            self.respond(key, &msg, status, None, fallback);
            if bye && self.phase == Phase::Ringing && side == Side::A {
                self.hangup_side = "caller";
                self.fail_a(487, "Request Terminated", "BYE");
                self.cancel_forks(now);
                self.settle(now);
            }
            return;
        }
        let in_order = self.dialog_mut(side).is_some_and(|d| d.accept_remote_cseq(&msg));
        if !in_order {
            return self.respond(key, &msg, 500, Some("Server Internal Error (CSeq out of order)"), fallback);
        }
        match method {
            Some(Method::Bye) => {
                self.respond(key, &msg, 200, None, fallback);
                self.hangup(Some(side), "BYE", now);
            }
            Some(Method::Invite | Method::Update) if self.relay_in_flight => {
                let bytes = ResponseBuilder::new(&msg, 491).source(fallback.addr).header("Retry-After", 1).build();
                self.outputs.push_back(Output::Respond { key, bytes, fallback });
            }
            Some(
                Method::Invite | Method::Update | Method::Info | Method::Message | Method::Notify | Method::Options,
            ) => {
                self.relay_request(side, key, msg, now);
            }
            _ => self.respond(key, &msg, 501, None, fallback),
        }
    }

    /// Forwards an in-dialog request to the other leg, anchoring any SDP it carries.
    fn relay_request(&mut self, from: Side, key: TxnKey, msg: Message, now: Instant) {
        let Some(method) = msg.method() else { return };
        let is_invite = method == Method::Invite;
        let offer = media::parse(msg.body_slice());
        let body = match (&offer, self.anchor.as_mut()) {
            (Some(sdp), Some(anchor)) => {
                anchor.learn(leg(from), sdp);
                Some(anchor.show(sdp.clone(), leg(from.other())))
            }
            _ => None,
        };
        if matches!(method, Method::Invite | Method::Update) {
            self.timer_mut(from).touch(now);
        }
        let content_type = content_type_of(&msg);
        let raw_body = msg.body();
        let mut extra = Extra::default();
        let body_ref: Option<(&str, &[u8])> = match (&body, &content_type) {
            (Some(b), _) => Some((SDP, b.as_ref())),
            (None, Some(ct)) if !raw_body.is_empty() => Some((ct.as_str(), raw_body.as_ref())),
            _ => None,
        };
        extra.body = body_ref;
        let branch = self.fresh();
        let to = from.other();
        let Some(dialog) = self.dialog_mut(to) else { return };
        let dest = dialog.dest;
        let bytes = dialog.request(method, &branch, &extra);
        if is_invite {
            self.relay_in_flight = true;
        }
        self.send_request(Pending::Relay { from, key, request: msg, had_offer: offer.is_some() }, bytes, dest);
    }

    fn timer_mut(&mut self, side: Side) -> &mut SessionTimer {
        match side {
            Side::A => &mut self.a_timer,
            Side::B => &mut self.b_timer,
        }
    }

    fn on_ack(&mut self, side: Side, msg: &Message) {
        let Some(retransmit) = self.retransmit[side.index()].take() else { return };
        if let Some(cseq) = retransmit.deferred_ack {
            // A re-INVITE without offer: the answer rides in this ACK.
            let late_answer = self.late_offer && side == Side::A;
            let body = match (media::parse(msg.body_slice()), self.anchor.as_mut()) {
                (Some(sdp), Some(anchor)) => {
                    anchor.learn(leg(side), &sdp);
                    if late_answer {
                        anchor.note_codec(&sdp); // the caller's answer picks the codec
                    }
                    Some(anchor.show(sdp, leg(side.other())))
                }
                _ => None,
            };
            if late_answer && let Some(anchor) = &self.anchor {
                self.codec = anchor.codec.clone();
            }
            let branch = self.fresh();
            if let Some(dialog) = self.dialog_mut(side.other()) {
                let bytes = dialog.ack(cseq, &branch, body.as_ref().map(|b| (SDP, b.as_ref())));
                let dest = dialog.dest;
                self.outputs.push_back(Output::Stateless { bytes, dest });
            }
        }
    }

    // ---- Responses to our requests -----------------------------------------------------

    fn on_response(&mut self, req: u64, msg: Message, now: Instant) {
        let Some(status) = msg.status() else { return };
        let final_response = status >= 200;
        let pending = if final_response { self.pending.remove(&req) } else { None };
        match pending {
            Some(Pending::Invite { fork }) => self.fork_final(fork, status, &msg, now),
            Some(Pending::Relay { from, key, request, had_offer }) => {
                self.relay_response(from, key, &request, had_offer, &msg, now)
            }
            Some(Pending::Refresh) => {
                if status == 481 || status == 408 {
                    self.hangup(None, "session refresh failed", now);
                } else if (200..300).contains(&status) && msg.cseq().is_ok_and(|c| c.method == Method::Invite) {
                    self.ack_b(msg.cseq().map_or(0, |c| c.seq), None);
                }
            }
            Some(Pending::Cancel | Pending::Bye) => {}
            None if !final_response => {
                if let Some(Pending::Invite { fork }) = self.pending.get(&req) {
                    let fork = *fork;
                    self.fork_provisional(fork, status, &msg);
                }
            }
            None => {
                // A 2xx retransmission (the transaction passes them up): ACK it again.
                if (200..300).contains(&status) && msg.cseq().is_ok_and(|c| c.method == Method::Invite) {
                    self.ack_stray_2xx(&msg);
                }
            }
        }
        self.settle(now);
    }

    fn fork_provisional(&mut self, fork: usize, status: u16, msg: &Message) {
        if status == 100 {
            return;
        }
        let wanted_cancel = self.forks.get(fork).is_some_and(|f| f.state == ForkState::CancelWanted);
        if let Some(f) = self.forks.get_mut(fork)
            && f.state == ForkState::Calling
        {
            f.state = ForkState::Proceeding;
        }
        if wanted_cancel {
            self.cancel_fork(fork);
            return;
        }
        if self.phase != Phase::Ringing {
            return;
        }
        // Early media: the first fork with SDP is heard; relay its answer to A.
        let body = match (media::parse(msg.body_slice()), self.anchor.as_mut()) {
            // With a late offer, SDP in an unreliable 18x is no answer to relay.
            (Some(sdp), Some(anchor)) if !self.early_sent && !self.late_offer => {
                self.early_sent = true;
                Some(anchor.answer_to_a(sdp))
            }
            _ => None,
        };
        let status = if body.is_some() {
            183
        } else if status == 183 {
            180
        } else {
            status
        };
        self.answer_a(status, body.as_ref(), &[]);
        if !self.rang {
            self.rang = true;
            self.publish();
        }
    }

    fn fork_final(&mut self, fork: usize, status: u16, msg: &Message, now: Instant) {
        let Some(f) = self.forks.get_mut(fork) else { return };
        f.status = status;
        f.state = ForkState::Done;
        if !(200..300).contains(&status) {
            if self.phase == Phase::Ringing && self.forks.iter().all(|f| f.state == ForkState::Done) {
                let (code, reason, cause) = self.best_failure();
                self.fail_a(code, &reason, &cause);
            }
            return;
        }
        let cseq = msg.cseq().map_or(self.b_invite_cseq, |c| c.seq);
        let dest = f.target.dest;
        let local_addr = f.target.local_addr;
        if self.phase != Phase::Ringing || self.b.is_some() {
            // Another fork won, or the caller gave up: this one is accepted and hung up.
            if let Some(mut d) = Dialog::from_response(msg, &self.b_call_id, &self.b_from, cseq, dest, local_addr) {
                let branch = self.fresh();
                let ack = d.ack(cseq, &branch, None);
                self.outputs.push_back(Output::Stateless { bytes: ack, dest });
                let branch = self.fresh();
                let bye = d.request(Method::Bye, &branch, &Extra::default());
                self.send_request(Pending::Bye, bye, dest);
            }
            return;
        }
        let Some(dialog) = Dialog::from_response(msg, &self.b_call_id, &self.b_from, cseq, dest, local_addr) else {
            self.fail_a(502, "Bad Gateway (callee answered without a Contact)", "bad 2xx from callee");
            return;
        };
        self.b = Some(dialog);
        self.b_update = msg.allow().filter_map(Result::ok).any(|m| m == Method::Update);
        // With a late offer B's ACK waits for A's answer (in A's ACK).
        if !self.late_offer {
            self.ack_b(cseq, None);
        }
        self.cancel_forks(now);
        // The callee's answer (or, late offer, its offer), anchored, goes to A in our 200.
        let body = match (media::parse(msg.body_slice()), self.anchor.as_mut()) {
            (Some(sdp), Some(anchor)) => {
                let body = if self.late_offer { anchor.offer_to_a(sdp) } else { anchor.answer_to_a(sdp) };
                self.codec = anchor.codec.clone();
                Some(body)
            }
            _ => None,
        };
        let cdr_id = self.cdr_id();
        if let (Some(recorder), Some(anchor)) = (self.recorder.as_ref(), self.anchor.as_mut()) {
            anchor.record(
                recorder,
                RecordingMeta {
                    id: format!("{cdr_id}-1"),
                    tenant: self.tenant.clone(),
                    cdr_id,
                    caller: self.caller.number.clone(),
                    callee: self.callee.number.clone(),
                    start_ms: now_ms(),
                },
            );
        }
        let mut extra = Vec::new();
        self.b_timer = session_timer_of_answer(msg);
        self.b_timer.touch(now);
        if let Some(interval) = self.a_session_interval() {
            extra.push(("Session-Expires", format!("{};refresher=uac", interval.as_secs())));
            extra.push(("Require", "timer".to_owned()));
            self.a_timer = SessionTimer { interval: Some(interval), we_refresh: false, deadline: None };
            self.a_timer.touch(now);
        }
        let bytes = self.answer_a(200, body.as_ref(), &extra);
        self.retransmit[0] = Some(Retransmit {
            bytes,
            dest: self.a_source,
            interval: self.settings.t1,
            next: now + self.settings.t1,
            give_up: now + self.settings.t1 * 64,
            deferred_ack: self.late_offer.then_some(cseq),
        });
        self.phase = Phase::Answered;
        self.answer_ms = now_ms();
        self.disposition = "answered";
        self.ring_deadline = None;
        self.duration_deadline = Some(now + self.settings.max_duration);
        self.publish();
    }

    /// The Session-Expires of the caller's INVITE, in seconds.
    fn asked_session_expires(&self) -> Option<u64> {
        let asked = self.invite.header(HeaderName::SessionExpires).and_then(|h| h.value_str().ok())?;
        asked.split(';').next()?.trim().parse::<u64>().ok()
    }

    /// The interval of A's session timer, when A supports them (RFC 4028 §9).
    fn a_session_interval(&self) -> Option<std::time::Duration> {
        if self.settings.session_expires.is_zero() {
            return None;
        }
        let supports = self.invite.supported().filter_map(Result::ok).any(|t| t.eq_ignore_ascii_case("timer"));
        let asked_secs = self.asked_session_expires();
        if !supports && asked_secs.is_none() {
            return None;
        }
        let ours = self.settings.session_expires.as_secs();
        let secs = asked_secs.map_or(ours, |a| a.min(ours)).max(self.settings.min_se.as_secs());
        supports.then_some(Duration::from_secs(secs))
    }

    fn ack_b(&mut self, cseq: u32, body: Option<&Bytes>) {
        let branch = self.fresh();
        if let Some(b) = &self.b {
            let bytes = b.ack(cseq, &branch, body.map(|b| (SDP, b.as_ref())));
            self.outputs.push_back(Output::Stateless { bytes, dest: b.dest });
        }
    }

    /// A retransmitted 2xx from the callee: our ACK was lost.
    fn ack_stray_2xx(&mut self, msg: &Message) {
        if self.retransmit[Side::A.index()].as_ref().is_some_and(|r| r.deferred_ack.is_some()) {
            return; // late offer: B's ACK (with A's answer) goes once A acknowledges
        }
        let to_tag = msg.to().ok().and_then(|t| t.tag().map(str::to_owned));
        let cseq = msg.cseq().map_or(0, |c| c.seq);
        let ours =
            self.b.as_ref().is_some_and(|b| b.remote.ends_with(&format!("tag={}", to_tag.clone().unwrap_or_default())));
        if ours {
            self.ack_b(cseq, None);
        }
    }

    /// The answer A gets when no fork answered: busy wins, then the lowest class.
    fn best_failure(&self) -> (u16, String, String) {
        let statuses: Vec<u16> = self.forks.iter().map(|f| f.status).collect();
        if let Some(&busy) = statuses.iter().find(|s| matches!(s, 486 | 600 | 603)) {
            return (
                busy,
                crate::sip::msg::reason_phrase(busy).to_owned(),
                format!("{busy} {}", crate::sip::msg::reason_phrase(busy)),
            );
        }
        let best = statuses.iter().copied().filter(|s| *s >= 300 && *s != 408 && *s != 487).min();
        match best {
            Some(s) if s < 500 => {
                (480, "Temporarily Unavailable".to_owned(), format!("{s} {}", crate::sip::msg::reason_phrase(s)))
            }
            _ => (480, "Temporarily Unavailable".to_owned(), "no reachable contact".to_owned()),
        }
    }

    fn relay_response(
        &mut self,
        from: Side,
        key: TxnKey,
        request: &Message,
        had_offer: bool,
        msg: &Message,
        now: Instant,
    ) {
        let Some(status) = msg.status() else { return };
        let is_invite = request.method() == Some(Method::Invite);
        if is_invite {
            self.relay_in_flight = false;
        }
        let to = from.other();
        let answer = media::parse(msg.body_slice());
        let body = match (&answer, self.anchor.as_mut()) {
            (Some(sdp), Some(anchor)) => {
                anchor.learn(leg(to), sdp);
                Some(anchor.show(sdp.clone(), leg(from)))
            }
            _ => None,
        };
        let fallback = self.source_of(from);
        let mut response = ResponseBuilder::new(request, status).source(fallback.addr).header("Server", SERVER);
        let local_addr = match from {
            Side::A => self.a.local_addr,
            Side::B => self.b.as_ref().map_or(self.a.local_addr, |d| d.local_addr),
        };
        let contact = dialog::contact(local_addr, fallback.transport);
        if (200..300).contains(&status) && is_invite {
            response = response.header("Contact", &contact);
        }
        let content_type = content_type_of(msg);
        let raw = msg.body();
        match (&body, &content_type) {
            (Some(b), _) => response = response.body(SDP, b),
            (None, Some(ct)) if !raw.is_empty() => response = response.body(ct, &raw),
            _ => {}
        }
        let bytes = response.build();
        self.outputs.push_back(Output::Respond { key, bytes: bytes.clone(), fallback });
        if (200..300).contains(&status) && is_invite {
            let cseq = msg.cseq().map_or(0, |c| c.seq);
            // With an offer in the re-INVITE the other leg's ACK is ours to send now;
            // without one, its answer arrives in the originator's ACK.
            let deferred_ack = if had_offer {
                self.ack_leg(to, cseq);
                None
            } else {
                Some(cseq)
            };
            self.retransmit[from.index()] = Some(Retransmit {
                bytes,
                dest: fallback,
                interval: self.settings.t1,
                next: now + self.settings.t1,
                give_up: now + self.settings.t1 * 64,
                deferred_ack,
            });
        }
        if status == 481 || status == 408 {
            self.hangup(None, &format!("{status} on {}", leg_name(to)), now);
        }
    }

    fn ack_leg(&mut self, side: Side, cseq: u32) {
        let branch = self.fresh();
        if let Some(d) = self.dialog_mut(side) {
            let bytes = d.ack(cseq, &branch, None);
            let dest = d.dest;
            self.outputs.push_back(Output::Stateless { bytes, dest });
        }
    }

    fn on_failed(&mut self, req: u64, now: Instant) {
        match self.pending.remove(&req) {
            Some(Pending::Invite { fork }) => {
                // Timer B: a contact that never answered counts as a 408.
                if let Some(f) = self.forks.get_mut(fork) {
                    f.status = 408;
                    f.state = ForkState::Done;
                }
                if self.phase == Phase::Ringing && self.forks.iter().all(|f| f.state == ForkState::Done) {
                    let (code, reason, cause) = self.best_failure();
                    self.fail_a(code, &reason, &cause);
                }
            }
            Some(Pending::Relay { from, key, request, .. }) => {
                if request.method() == Some(Method::Invite) {
                    self.relay_in_flight = false;
                }
                let fallback = self.source_of(from);
                self.respond(key, &request, 408, None, fallback);
                self.hangup(None, "request timeout", now);
            }
            Some(Pending::Refresh) => self.hangup(None, "session refresh timeout", now),
            Some(Pending::Cancel | Pending::Bye) | None => {}
        }
        self.settle(now);
    }

    // ---- Ending ---------------------------------------------------------------------------

    fn cancel_forks(&mut self, _now: Instant) {
        for i in 0..self.forks.len() {
            match self.forks.get(i).map(|f| f.state) {
                Some(ForkState::Proceeding) => self.cancel_fork(i),
                Some(ForkState::Calling) => {
                    if let Some(f) = self.forks.get_mut(i) {
                        f.state = ForkState::CancelWanted;
                    }
                }
                _ => {}
            }
        }
    }

    fn cancel_fork(&mut self, fork: usize) {
        let Some(f) = self.forks.get(fork) else { return };
        let branch = f.branch.clone();
        let dest = f.target.dest;
        let bytes = {
            let parts = self.invite_parts(fork, b"");
            dialog::cancel(&parts, &branch)
        };
        if let Some(f) = self.forks.get_mut(fork) {
            f.state = ForkState::Cancelled;
        }
        self.send_request(Pending::Cancel, bytes, dest);
    }

    /// Ends an answered call: BYE to every leg that did not hang up itself (`by`, or none
    /// when pbxd ends the call).
    fn hangup(&mut self, by: Option<Side>, cause: &str, now: Instant) {
        if self.phase != Phase::Answered {
            return;
        }
        self.hangup_side = by.map_or("system", leg_name);
        self.cause = cause.to_owned();
        if let Some(stats) = self.anchor.as_ref().map(Anchor::stats) {
            self.final_stats = Some(stats);
        }
        let targets: &[Side] = match by {
            Some(Side::A) => &[Side::B],
            Some(Side::B) => &[Side::A],
            None => &[Side::A, Side::B],
        };
        for &to in targets {
            let branch = self.fresh();
            if let Some(d) = self.dialog_mut(to) {
                let dest = d.dest;
                let bytes = d.request(Method::Bye, &branch, &Extra::default());
                self.send_request(Pending::Bye, bytes, dest);
            }
        }
        self.retransmit = [None, None];
        self.phase = Phase::Ending;
        self.end_deadline = Some(now + self.settings.t1 * 64);
        self.publish();
        self.settle(now);
    }

    /// Done once nothing is pending any more.
    fn settle(&mut self, _now: Instant) {
        if self.phase == Phase::Ending
            && self.pending.values().all(|p| matches!(p, Pending::Relay { .. }))
            && self.forks.iter().all(|f| f.state == ForkState::Done)
        {
            self.finish();
        }
    }

    fn finish(&mut self) {
        if self.phase == Phase::Done {
            return;
        }
        self.phase = Phase::Done;
        self.anchor = None; // frees the media ports now
        self.publish();
    }

    // ---- Time ---------------------------------------------------------------------------

    pub fn poll_timeout(&self) -> Option<Instant> {
        let retransmits = self.retransmit.iter().flatten().map(|r| r.next.min(r.give_up));
        [self.ring_deadline, self.duration_deadline, self.end_deadline, self.a_timer.deadline, self.b_timer.deadline]
            .into_iter()
            .flatten()
            .chain(retransmits)
            .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.clock = now;
        if self.ring_deadline.is_some_and(|d| d <= now) && self.phase == Phase::Ringing {
            self.fail_a(480, "Temporarily Unavailable", "no answer");
            self.cancel_forks(now);
        }
        if self.duration_deadline.is_some_and(|d| d <= now) {
            self.duration_deadline = None;
            self.hangup(None, "maximum call duration", now);
        }
        for side in [Side::A, Side::B] {
            let Some(r) = self.retransmit[side.index()].as_mut() else { continue };
            if r.give_up <= now {
                self.retransmit[side.index()] = None;
                self.hangup(None, &format!("no ACK from {}", leg_name(side)), now);
            } else if r.next <= now {
                r.interval = (r.interval * 2).min(self.settings.t2);
                r.next = now + r.interval;
                let (bytes, dest) = (r.bytes.clone(), r.dest);
                self.outputs.push_back(Output::Stateless { bytes, dest });
            }
        }
        if self.a_timer.deadline.is_some_and(|d| d <= now) {
            self.a_timer.deadline = None;
            self.hangup(None, "session timer expired (caller)", now);
        }
        if self.b_timer.deadline.is_some_and(|d| d <= now) {
            self.b_timer.deadline = None;
            if self.b_timer.we_refresh && self.phase == Phase::Answered {
                self.refresh_b(now);
            } else {
                self.hangup(None, "session timer expired (callee)", now);
            }
        }
        if self.end_deadline.is_some_and(|d| d <= now) && self.phase != Phase::Done {
            self.finish();
        }
    }

    /// Our session refresh toward B: UPDATE without body, else a re-INVITE repeating our
    /// last offer (same o= version: no change, RFC 3264 §8).
    fn refresh_b(&mut self, now: Instant) {
        let use_update = self.b_update;
        let offer = self.anchor.as_ref().and_then(|a| a.last_to_b.clone());
        let branch = self.fresh();
        let interval = self.b_timer.interval.map_or(0, |i| i.as_secs());
        let Some(b) = self.b.as_mut() else { return };
        let headers = vec![("Session-Expires", format!("{interval};refresher=uac")), ("Supported", "timer".to_owned())];
        let (method, body) = if use_update { (Method::Update, None) } else { (Method::Invite, offer.as_ref()) };
        let extra = Extra { headers, body: body.map(|b| (SDP, b.as_ref())) };
        let bytes = b.request(method, &branch, &extra);
        let dest = b.dest;
        self.send_request(Pending::Refresh, bytes, dest);
        self.b_timer.touch(now);
    }

    // ---- Views ----------------------------------------------------------------------------

    fn publish(&mut self) {
        let view = self.view();
        self.outputs.push_back(Output::State(view));
    }

    pub fn view(&self) -> CallView {
        CallView {
            id: self.id,
            tenant: self.tenant.clone(),
            caller: self.caller.number.clone(),
            callee: self.callee.number.clone(),
            state: match self.phase {
                Phase::Ringing if self.rang => "ringing",
                Phase::Ringing => "calling",
                Phase::Answered => "answered",
                Phase::Ending => "ending",
                Phase::Done => "ended",
            }
            .to_owned(),
            start_ms: self.start_ms,
            answer_ms: self.answer_ms,
            codec: self.codec.clone(),
            legs: vec![self.a.call_id.clone(), self.b_call_id.clone()],
            session: self.anchor.as_ref().map(|a| a.session_id().0),
        }
    }

    /// The id of the call's CDR (and prefix of its recordings' ids).
    fn cdr_id(&self) -> String {
        format!("{:013}-{:016x}", self.start_ms, self.seed ^ self.id)
    }

    /// The record of the finished call.
    pub fn cdr(&self) -> Cdr {
        let end_ms = now_ms();
        let stats = self.final_stats.clone().or_else(|| self.anchor.as_ref().map(Anchor::stats));
        let codec = self.view().codec;
        let leg = |role: &str, party: &str, call_id: &str, s: Option<&LegStats>| {
            let mut l = CdrLeg {
                role: role.to_owned(),
                party: party.to_owned(),
                call_id: call_id.to_owned(),
                codec: codec.clone(),
                ..CdrLeg::default()
            };
            if let Some(s) = s {
                l.packets_in = s.rtp_packets_in;
                l.packets_out = s.rtp_packets_out;
                l.bytes_in = s.rtp_bytes_in;
                l.bytes_out = s.rtp_bytes_out;
                l.lost = u64::try_from(s.rtp_lost.max(0)).unwrap_or(0);
                l.jitter_ms = s.jitter.as_secs_f64() * 1000.0;
            }
            l
        };
        let billsec = if self.answer_ms > 0 { (end_ms - self.answer_ms) / 1000 } else { 0 };
        Cdr {
            id: self.cdr_id(),
            tenant: self.tenant.clone(),
            call_id: self.a.call_id.clone(),
            direction: "internal".to_owned(),
            caller: self.caller.number.clone(),
            callee: self.callee.number.clone(),
            start_ms: self.start_ms,
            answer_ms: self.answer_ms,
            end_ms,
            billsec,
            disposition: self.disposition.to_owned(),
            hangup_cause: self.cause.chars().take(64).collect(),
            hangup_side: self.hangup_side.to_owned(),
            codec: codec.clone(),
            legs: vec![
                leg("a", &self.caller.number, &self.a.call_id, stats.as_ref().map(|s| &s.a)),
                leg("b", &self.callee.number, &self.b_call_id, stats.as_ref().map(|s| &s.b)),
            ],
            did: String::new(),
            queue: String::new(),
        }
    }
}

fn leg(side: Side) -> Leg {
    match side {
        Side::A => Leg::A,
        Side::B => Leg::B,
    }
}

fn leg_name(side: Side) -> &'static str {
    match side {
        Side::A => "caller",
        Side::B => "callee",
    }
}

/// The session timer a callee's 2xx sets on leg B: who refreshes, and how often.
fn session_timer_of_answer(msg: &Message) -> SessionTimer {
    let Some(value) = msg.header(HeaderName::SessionExpires).and_then(|h| h.value_str().ok()) else {
        return SessionTimer::default();
    };
    let mut parts = value.split(';');
    let Some(secs) = parts.next().and_then(|s| s.trim().parse::<u64>().ok()).filter(|s| *s >= 1) else {
        return SessionTimer::default();
    };
    let we_refresh = parts.any(|p| p.trim().eq_ignore_ascii_case("refresher=uac"));
    SessionTimer { interval: Some(Duration::from_secs(secs)), we_refresh, deadline: None }
}

fn content_type_of(msg: &Message) -> Option<String> {
    msg.header(HeaderName::ContentType).and_then(|h| h.value_str().ok()).map(|v| v.trim().to_owned())
}
