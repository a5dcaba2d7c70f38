//! The SIP core: one task that owns the transaction layer, the registrar's location service,
//! digest authentication and the flood guard, fed by the transports.
//!
//! Everything it owns is sans-IO; this module is where messages, time and sockets meet.
//! Keeping it on one task means no locks on the hot path: a REGISTER is parsed, checked,
//! authenticated, bound and answered without leaving it. Slow work (storage) goes to other
//! tasks through bounded queues. It must never block and never panic on what a peer sent.

mod calls;
mod keepalive;
mod options;
pub mod register;
mod replies;
mod trunks;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};

use crate::call::actor::CallEvent;
use crate::config::daemon::SipConfig;
use crate::reconcile::RoutingSnapshot;
use crate::sip::auth::Authenticator;
use crate::sip::guard::{AuthFailures, RateLimiter};
use crate::sip::msg::{
    Limits, Message, Method, ParseError, ResponseBuilder, check_request, parse_datagram, parse_head,
    parse_stream_message,
};
use crate::sip::registrar::{KeepAlive, KeepAliveConfig, Location, Ping};
use crate::sip::transport::{Inbound, ListenSpec, Outbox, Source};
use crate::sip::txn::{TimerConfig, TxnConfig, TxnEvent, TxnKey, TxnLayer};
use crate::store::RegistrationWrite;

pub use calls::{Calls, CallsSnapshot};
pub use trunks::Trunks;

pub use register::RegistrationView;
use replies::RecentReplies;

/// How an answer leaves: through the request's server transaction, or statelessly (with
/// the request's id, so its retransmissions get the same answer from `RecentReplies`).
pub enum Reply {
    Txn(TxnKey),
    Stateless(u64),
}

/// The methods pbxd answers; the rest get 405 with this list.
const ALLOW: &str = crate::call::dialog::ALLOW;
/// Option tags pbxd supports; a Require of anything else gets 420.
const SUPPORTED: &str = "timer";
/// The Server / User-Agent header value.
pub const SERVER: &str = concat!("pbx/", env!("CARGO_PKG_VERSION"));

/// Requests to the core from the rest of pbxd (the admin API).
pub enum CoreCommand {
    Registrations {
        tenant: Option<String>,
        reply: oneshot::Sender<Vec<RegistrationView>>,
    },
    /// Refuse new calls; after `grace`, hang up the rest; answer `done` once none is left.
    Drain {
        grace: Duration,
        done: oneshot::Sender<()>,
    },
    /// The trunks to monitor (from `crate::trunk::resolver`).
    Trunks(Vec<crate::trunk::TrunkSpec>),
}

/// A drain in progress.
struct Drain {
    hang_up_at: Instant,
    give_up_at: Instant,
    hung_up: bool,
    done: oneshot::Sender<()>,
}

/// A handle to talk to the running core.
#[derive(Clone)]
pub struct CoreHandle {
    pub commands: mpsc::Sender<CoreCommand>,
    /// Where the listeners really are (ports resolved).
    pub local: Arc<Vec<ListenSpec>>,
    /// The RTP relay, for its counters.
    pub relay: Arc<crate::media::relay::Relay>,
    /// The live calls, republished when they change.
    pub calls: watch::Receiver<Arc<CallsSnapshot>>,
    /// The trunks' status, republished when it changes.
    pub trunks: watch::Receiver<Arc<Vec<crate::trunk::TrunkView>>>,
}

impl CoreHandle {
    /// The live calls of `tenant` (all when `None`).
    pub fn calls(&self, tenant: Option<&str>) -> Vec<crate::call::CallView> {
        let snapshot = self.calls.borrow();
        snapshot
            .calls
            .iter()
            .filter(|c| tenant.is_none_or(|t| t == c.tenant))
            .map(|c| crate::call::CallView::clone(c))
            .collect()
    }
}

pub struct SipCore {
    txn: TxnLayer<Source>,
    location: Location,
    auth: Authenticator,
    failures: AuthFailures,
    rate: RateLimiter,
    snapshot: watch::Receiver<Arc<RoutingSnapshot>>,
    outbox: Outbox,
    persist: mpsc::Sender<RegistrationWrite>,
    limits: Limits,
    config: SipConfig,
    /// The listeners, for loop detection and the Via of pings.
    local: Vec<ListenSpec>,
    keepalive: KeepAlive,
    /// Keep-alive pings in flight, by their client transaction.
    pings: std::collections::HashMap<TxnKey, Ping>,
    /// Recent stateless answers, for retransmissions.
    replies: RecentReplies,
    /// A random password no one knows: unknown users are checked against it, so they cost
    /// and look exactly like a wrong password.
    decoy: crate::sip::auth::Credential,
    calls: calls::Calls,
    trunks: Trunks,
    drain: Option<Drain>,
}

/// Seconds since the Unix epoch: registrations are stored with wall-clock expiry so they
/// survive restarts; transactions and bans use the monotonic `Instant`.
fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl SipCore {
    pub fn new(
        config: SipConfig,
        snapshot: watch::Receiver<Arc<RoutingSnapshot>>,
        outbox: Outbox,
        local: Vec<ListenSpec>,
        location: Location,
        persist: mpsc::Sender<RegistrationWrite>,
        calls: calls::Calls,
    ) -> Result<Self, String> {
        let timers = TimerConfig { t1: config.t1.as_std(), t2: config.t2.as_std(), t4: config.t4.as_std() };
        let txn =
            TxnLayer::new(TxnConfig { timers, max_transactions: config.max_transactions, ..TxnConfig::default() });
        let seed = random_u64();
        let auth = register::authenticator(&config, seed);
        let (failures, rate) = register::guards(&config)?;
        let limits = Limits { max_message_size: config.max_message_size, ..Limits::default() };
        let config_interval = config.registration.keepalive_interval.as_std().as_secs().max(1);
        let config_trunks = config.trunks.qualify_interval.as_std();
        Ok(Self {
            txn,
            location,
            auth,
            failures,
            rate,
            snapshot,
            outbox,
            persist,
            limits,
            config,
            local,
            keepalive: KeepAlive::new(KeepAliveConfig { interval: config_interval, ..KeepAliveConfig::default() }),
            pings: std::collections::HashMap::new(),
            replies: RecentReplies::new(4_096),
            decoy: crate::sip::auth::Credential::Password(format!("{:x}{:x}", random_u64(), seed)),
            calls,
            trunks: Trunks::new(config_trunks),
            drain: None,
        })
    }

    /// The trunks' status, republished when it changes.
    pub fn subscribe_trunks(&self) -> watch::Receiver<Arc<Vec<crate::trunk::TrunkView>>> {
        self.trunks.subscribe()
    }

    /// Runs until every transport and command sender is gone.
    pub async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut commands: mpsc::Receiver<CoreCommand>,
        mut call_events: mpsc::UnboundedReceiver<CallEvent>,
    ) {
        let mut housekeeping = tokio::time::interval(Duration::from_secs(1));
        loop {
            let wake = [self.txn.poll_timeout(), self.calls.publish_due(), self.trunks_due()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                input = inbound.recv() => {
                    let Some(input) = input else { break };
                    let now = Instant::now();
                    self.on_input(input, now);
                    // Drain what else is queued before sleeping again: fewer wake-ups under load.
                    for _ in 0..256 {
                        match inbound.try_recv() {
                            Ok(input) => self.on_input(input, now),
                            Err(_) => break,
                        }
                    }
                }
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command, Instant::now()),
                    None => break,
                },
                event = call_events.recv() => {
                    let now = Instant::now();
                    if let Some(event) = event {
                        self.on_call_event(event, now);
                    }
                    for _ in 0..256 {
                        match call_events.try_recv() {
                            Ok(event) => self.on_call_event(event, now),
                            Err(_) => break,
                        }
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    self.txn.handle_timeout(now);
                    self.drive_trunks(now);
                }
                _ = housekeeping.tick() => self.housekeeping(Instant::now()),
            }
            let now = Instant::now();
            self.flush(now);
            self.calls.publish(now);
        }
    }

    fn on_command(&mut self, command: CoreCommand, now: Instant) {
        match command {
            CoreCommand::Registrations { tenant, reply } => {
                let _ = reply.send(self.registrations(tenant.as_deref()));
            }
            CoreCommand::Drain { grace, done } => {
                tracing::info!(calls = self.calls.len(), grace = ?grace, "draining: new calls are refused");
                self.calls.draining = true;
                let hang_up_at = now + grace;
                self.drain =
                    Some(Drain { hang_up_at, give_up_at: hang_up_at + Duration::from_secs(10), hung_up: false, done });
                self.check_drain(now);
            }
            CoreCommand::Trunks(specs) => self.set_trunks(specs, now),
        }
    }

    /// Ends the drain once no call is left, hanging up those still there after the grace.
    fn check_drain(&mut self, now: Instant) {
        let Some(drain) = self.drain.as_mut() else { return };
        if !drain.hung_up && now >= drain.hang_up_at {
            drain.hung_up = true;
            tracing::info!(calls = self.calls.len(), "drain grace over: hanging up the remaining calls");
            self.calls.hang_up_all("shutdown");
        }
        if (self.calls.is_empty() || now >= drain.give_up_at)
            && let Some(drain) = self.drain.take()
        {
            let _ = drain.done.send(());
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        for change in self.location.expire(unix_now()) {
            self.location_changed(change);
        }
        self.send_due_pings(now);
        self.failures.purge(now);
        self.rate.purge(now);
        self.auth.purge(unix_now());
        self.calls.purge();
        self.txn.shrink();
        self.check_drain(now);
    }

    /// Sends what the transaction layer queued and handles its events.
    fn flush(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(t) = self.txn.poll_transmit() {
                self.outbox.send(&t.dest, t.bytes);
                progressed = true;
            }
            while let Some(event) = self.txn.poll_event() {
                self.on_txn_event(event, now);
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
    }

    fn on_input(&mut self, input: Inbound, now: Instant) {
        match input {
            Inbound::Message { bytes, source } => self.on_message(bytes, source, now),
            Inbound::FlowOpened { flow, sender } => self.outbox.flow_opened(flow, sender),
            Inbound::FlowClosed { flow } => {
                self.outbox.flow_closed(flow);
                for change in self.location.remove_flow(flow) {
                    self.location_changed(change);
                }
            }
        }
    }

    fn on_message(&mut self, bytes: Bytes, source: Source, now: Instant) {
        let ip = source.addr.ip();
        // Banned and flooding sources are ignored, like a firewall would: an answer would only
        // tell them to try harder.
        if self.failures.is_banned_ip(ip, now) || !self.rate.allow(ip, now) {
            return;
        }
        if bytes.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            // A CRLF keep-alive on UDP: answered so NAT-keeping phones see the path is alive.
            if bytes.len() >= 4 {
                self.outbox.send(&source, Bytes::from_static(b"\r\n"));
            }
            return;
        }
        let parsed = if source.transport == crate::sip::txn::PeerTransport::Udp {
            parse_datagram(bytes.clone(), &self.limits)
        } else {
            parse_stream_message(bytes.clone(), &self.limits)
        };
        let msg = match parsed {
            Ok(msg) => msg,
            Err(error) => return self.reject_unparsed(bytes, source, error),
        };
        if !msg.is_request() {
            if let Some(event) = self.txn.handle_incoming(msg, source, now) {
                self.on_txn_event(event, now);
            }
            return;
        }
        let is_ack = msg.method() == Some(Method::Ack);
        if let Err(reject) = check_request(&msg) {
            if !is_ack {
                let reason = explained(reject.status, reject.error);
                let response = ResponseBuilder::new(&msg, reject.status)
                    .source(source.addr)
                    .reason(&reason)
                    .header("Server", SERVER);
                self.txn.send_stateless(source, response.build());
            }
            return;
        }
        if matches!(msg.method(), Some(Method::Register | Method::Options)) {
            // Answered statelessly: see `replies`.
            let id = self.replies.request_id(&msg, &source);
            match self.replies.get(id, now) {
                Some(answer) => self.txn.send_stateless(source, answer),
                None => self.on_request(Reply::Stateless(id), msg, source, now),
            }
            return;
        }
        if let Some(event) = self.txn.handle_incoming(msg, source, now) {
            self.on_txn_event(event, now);
        }
    }

    /// Sends an answer the way the request asked for.
    fn send(&mut self, reply: &Reply, source: Source, bytes: Bytes, now: Instant) {
        match reply {
            Reply::Txn(key) => {
                let _ = self.txn.send_response(key, bytes, now);
            }
            Reply::Stateless(id) => {
                self.replies.insert(*id, bytes.clone(), now);
                self.txn.send_stateless(source, bytes);
            }
        }
    }

    /// A message that did not parse: answered 400 (513 when too large) if enough of it parses
    /// to address an answer, dropped otherwise.
    fn reject_unparsed(&mut self, bytes: Bytes, source: Source, error: ParseError) {
        let Ok(head) = parse_head(bytes, &self.limits) else { return };
        if !head.is_request() || head.method() == Some(Method::Ack) || head.top_via().is_err() {
            return;
        }
        let status = if error == ParseError::TooLarge { 513 } else { 400 };
        let reason = explained(status, error);
        let response = ResponseBuilder::new(&head, status).source(source.addr).reason(&reason).build();
        self.txn.send_stateless(source, response);
    }

    fn on_txn_event(&mut self, event: TxnEvent<Source>, now: Instant) {
        match event {
            TxnEvent::Request { key, msg, source } => self.on_request(Reply::Txn(key), msg, source, now),
            TxnEvent::Rejected { msg, source, error } => {
                let status = if matches!(error, crate::sip::txn::TxnError::Full { .. }) { 503 } else { 400 };
                if msg.is_request() && msg.method() != Some(Method::Ack) {
                    let response =
                        ResponseBuilder::new(&msg, status).source(source.addr).header("Retry-After", 5).build();
                    self.txn.send_stateless(source, response);
                }
            }
            // Client transactions are trunks' requests, keep-alive pings or requests of calls.
            TxnEvent::Response { key, msg } => {
                if self.on_trunk_response(&key, Some(&msg), now) {
                    return;
                }
                if self.pings.contains_key(&key) {
                    self.ping_answered(&key, msg.status());
                } else {
                    self.on_call_response(&key, Some(msg));
                }
            }
            TxnEvent::Timeout(key) | TxnEvent::TransportError(key) => {
                if self.on_trunk_response(&key, None, now) {
                    return;
                }
                if self.pings.contains_key(&key) {
                    self.ping_failed(&key);
                } else {
                    self.on_call_response(&key, None);
                }
            }
            TxnEvent::Terminated(key) => {
                if !self.on_trunk_terminated(&key) && self.pings.remove(&key).is_none() {
                    self.on_call_terminated(&key);
                }
            }
            TxnEvent::Ack { msg, .. } => self.on_call_ack(msg),
        }
    }

    fn on_request(&mut self, reply: Reply, msg: Message, source: Source, now: Instant) {
        let method = msg.method();
        if let Some(status) = self.screen(&msg) {
            let tag = self.tag();
            let mut response =
                ResponseBuilder::new(&msg, status).source(source.addr).to_tag(&tag).header("Server", SERVER);
            let tags: String;
            if status == 420 {
                tags = msg.require().filter_map(Result::ok).collect::<Vec<_>>().join(", ");
                response = response.header("Unsupported", &tags);
            }
            let bytes = response.build();
            self.send(&reply, source, bytes, now);
            return;
        }
        match method {
            Some(Method::Register) => self.on_register(&reply, &msg, source, now),
            Some(Method::Options) => self.on_options(&reply, &msg, source, now),
            Some(Method::Invite | Method::Cancel | Method::Bye | Method::Update | Method::Info | Method::Prack)
                if matches!(reply, Reply::Txn(_)) =>
            {
                let Reply::Txn(key) = reply else { return };
                self.on_call_request(key, msg, source, now);
            }
            // Served only inside a call, where they are relayed to the other side.
            Some(Method::Message | Method::Notify | Method::Refer)
                if matches!(reply, Reply::Txn(_)) && msg.to().ok().is_some_and(|to| to.tag().is_some()) =>
            {
                let Reply::Txn(key) = reply else { return };
                self.on_call_request(key, msg, source, now);
            }
            _ => {
                let tag = self.tag();
                let bytes = ResponseBuilder::new(&msg, 405)
                    .source(source.addr)
                    .to_tag(&tag)
                    .header("Allow", ALLOW)
                    .header("Server", SERVER)
                    .build();
                self.send(&reply, source, bytes, now);
            }
        }
    }

    /// Checks every request owes before its method is looked at: hops (483), loops (482)
    /// and extensions it requires (420).
    fn screen(&self, msg: &Message) -> Option<u16> {
        let method = msg.method();
        if msg.max_forwards().ok().flatten() == Some(0) && method != Some(Method::Options) {
            return Some(483);
        }
        if self.is_loop(msg) {
            return Some(482);
        }
        let requires_any =
            msg.require().any(|tag| tag.is_ok_and(|t| !SUPPORTED.split(", ").any(|s| !s.is_empty() && s == t)));
        if requires_any && !matches!(method, Some(Method::Cancel) | Some(Method::Ack)) {
            return Some(420);
        }
        None
    }

    /// A request carrying a Via that pbxd itself wrote (its branch prefix, one of its
    /// ports) has come back to it: a loop (RFC 3261 §16.3 step 4, for a B2BUA's own legs).
    fn is_loop(&self, msg: &Message) -> bool {
        msg.vias().filter_map(Result::ok).any(|via| {
            via.branch().is_some_and(|b| b.starts_with(BRANCH_PREFIX))
                && self.local.iter().any(|l| via.port().unwrap_or(5060) == l.addr.port())
        })
    }

    /// A response with a fresh To tag and the Server header.
    fn respond(&mut self, reply: &Reply, msg: &Message, source: Source, status: u16, now: Instant) {
        let tag = self.tag();
        let bytes = ResponseBuilder::new(msg, status).source(source.addr).to_tag(&tag).header("Server", SERVER).build();
        self.send(reply, source, bytes, now);
    }

    /// A To tag: unique per response, and unpredictable from the tags seen before.
    fn tag(&self) -> String {
        format!("{:x}", random_u64())
    }

    fn persist_change(&self, change: RegistrationWrite) {
        // A full queue means storage is far behind; the binding still works in memory and
        // the next refresh writes it again.
        if self.persist.try_send(change).is_err() {
            tracing::warn!("registration store queue is full; a change was not persisted");
        }
    }
}

/// The prefix of branches pbxd generates, to recognise its own requests coming back.
pub const BRANCH_PREFIX: &str = "z9hG4bKpbx";

/// 64 unpredictable bits, for tags, Call-IDs, seeds and secrets: SipHash-1-3 (a keyed
/// pseudo-random function) of a counter, under a 128-bit key std draws from the OS once per
/// thread. No syscall per call: opening /dev/urandom per call cost 1.5% of a call's CPU.
pub fn random_u64() -> u64 {
    use std::cell::Cell;
    use std::hash::{BuildHasher, RandomState};
    thread_local! {
        static PRF: (RandomState, Cell<u64>) = (RandomState::new(), Cell::new(0));
    }
    PRF.with(|(key, counter)| {
        let n = counter.get();
        counter.set(n.wrapping_add(1));
        key.hash_one(n)
    })
}

/// A reason phrase that says what was wrong, without echoing the peer's bytes.
fn explained(status: u16, error: ParseError) -> String {
    format!("{} ({error})", crate::sip::msg::reason_phrase(status))
}
