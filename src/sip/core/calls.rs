//! The core's side of calls: a new INVITE is authenticated (407), routed to an extension of
//! the caller's tenant, admitted by the limits and handed to a call task; afterwards the
//! registry sends each call what belongs to it and sends what the calls produce.
//!
//! The registry maps the caller's dialog (Call-ID and From tag) and the B-leg Call-ID (ours,
//! unique) to the call, and our client transactions to (call, request). A request that names
//! no live call gets 481. Tenants stay apart: a call is routed only inside the tenant whose
//! domain the caller authenticated in.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::register::{Auth, Challenger};
use super::{Reply, SERVER, SipCore, unix_now};
use crate::call::actor::{self, CallEvent};
use crate::call::limits::{CallLimits, Refusal};
use crate::call::machine::{Input, Output};
use crate::call::{CallSettings, CallSetup, CallView, Party, Side, Target};
use crate::config::model::RecordPolicy;
use crate::events::{EventBus, EventKind};
use crate::fast_map::{FastMap, shrink_map};
use crate::media::record::Recorder;
use crate::media::relay::{Relay, SessionId};
use crate::sip::msg::{Message, Method, ResponseBuilder, Uri};
use crate::sip::registrar::{Reach, Transport};
use crate::sip::transport::Source;
use crate::sip::txn::{PeerTransport, TxnKey};
use crate::store::Cdr;

struct Entry {
    mailbox: mpsc::UnboundedSender<Input>,
    /// Shared with the published snapshots, so publishing copies pointers, not calls.
    view: Arc<CallView>,
    a_dialog: (String, String),
    b_call_id: String,
    session: Option<SessionId>,
}

/// The live calls as readers see them, republished (at most every [`PUBLISH_EVERY`]) when
/// they change: the APIs read it without asking the core, so a thousand requests a second
/// cost the core nothing.
#[derive(Debug, Default)]
pub struct CallsSnapshot {
    /// Increases with every publication; caches of rendered answers key on it.
    pub version: u64,
    /// Sorted by call id.
    pub calls: Vec<Arc<CallView>>,
}

/// How stale the published calls may be.
pub const PUBLISH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Live calls and what the core needs to run them.
pub struct Calls {
    entries: FastMap<u64, Entry>,
    by_a: FastMap<(String, String), u64>,
    by_b: FastMap<String, u64>,
    by_request: FastMap<TxnKey, (u64, u64)>,
    by_session: FastMap<SessionId, u64>,
    next_id: u64,
    limits: CallLimits,
    /// Set on SIGTERM: new calls get 503.
    pub draining: bool,
    events: mpsc::UnboundedSender<CallEvent>,
    cdrs: mpsc::Sender<Cdr>,
    relay: Arc<Relay>,
    recorder: Option<Arc<Recorder>>,
    media_ip: IpAddr,
    settings: CallSettings,
    bus: EventBus,
    published: tokio::sync::watch::Sender<Arc<CallsSnapshot>>,
    /// Changed since the last publication.
    dirty: bool,
    last_published: Option<Instant>,
}

impl Calls {
    pub fn new(
        events: mpsc::UnboundedSender<CallEvent>,
        cdrs: mpsc::Sender<Cdr>,
        relay: Arc<Relay>,
        recorder: Option<Arc<Recorder>>,
        media_ip: IpAddr,
        settings: CallSettings,
        bus: EventBus,
    ) -> Calls {
        Calls {
            entries: FastMap::default(),
            by_a: FastMap::default(),
            by_b: FastMap::default(),
            by_request: FastMap::default(),
            by_session: FastMap::default(),
            next_id: 1,
            limits: CallLimits::default(),
            draining: false,
            events,
            cdrs,
            relay,
            recorder,
            media_ip,
            settings,
            bus,
            published: tokio::sync::watch::Sender::new(Arc::new(CallsSnapshot::default())),
            dirty: false,
            last_published: None,
        }
    }

    /// Readers of the published calls.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Arc<CallsSnapshot>> {
        self.published.subscribe()
    }

    /// When the next publication is due, if a change waits for one.
    pub fn publish_due(&self) -> Option<Instant> {
        self.dirty.then(|| self.last_published.map_or_else(Instant::now, |at| at + PUBLISH_EVERY))
    }

    /// Publishes the calls if they changed and the last publication is old enough.
    pub fn publish(&mut self, now: Instant) {
        if !self.dirty || self.last_published.is_some_and(|at| now < at + PUBLISH_EVERY) {
            return;
        }
        let mut calls: Vec<Arc<CallView>> = self.entries.values().map(|e| Arc::clone(&e.view)).collect();
        calls.sort_by_key(|c| c.id);
        let version = self.published.borrow().version + 1;
        self.published.send_replace(Arc::new(CallsSnapshot { version, calls }));
        self.dirty = false;
        self.last_published = Some(now);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The call and leg a request or ACK belongs to.
    fn find(&self, msg: &Message) -> Option<(u64, Side)> {
        let call_id = msg.call_id().ok()?;
        if let Some(&id) = self.by_b.get(call_id) {
            return Some((id, Side::B));
        }
        let from_tag = msg.from().ok()?.tag()?.to_owned();
        self.by_a.get(&(call_id.to_owned(), from_tag)).map(|&id| (id, Side::A))
    }

    fn deliver(&self, id: u64, input: Input) {
        if let Some(entry) = self.entries.get(&id) {
            let _ = entry.mailbox.send(input);
        }
    }

    /// Tells every call to end now (the end of a drain).
    pub fn hang_up_all(&self, cause: &'static str) {
        for entry in self.entries.values() {
            let _ = entry.mailbox.send(Input::Hangup { cause });
        }
    }

    pub fn purge(&mut self) {
        self.limits.purge();
        shrink_map(&mut self.entries);
        shrink_map(&mut self.by_a);
        shrink_map(&mut self.by_b);
        shrink_map(&mut self.by_request);
        shrink_map(&mut self.by_session);
    }

    pub fn bus(&self) -> &EventBus {
        &self.bus
    }
}

impl SipCore {
    /// A request that may belong to a call: INVITE, CANCEL, BYE and other in-dialog requests.
    pub(super) fn on_call_request(&mut self, key: TxnKey, msg: Message, source: Source, now: Instant) {
        let in_dialog = msg.to().ok().is_some_and(|to| to.tag().is_some());
        let method = msg.method();
        if method == Some(Method::Invite) && !in_dialog {
            return self.on_new_invite(key, msg, source, now);
        }
        match self.calls.find(&msg) {
            Some((id, side)) => self.calls.deliver(id, Input::Request { side, key, msg }),
            None => self.respond(&Reply::Txn(key), &msg, source, 481, now),
        }
    }

    pub(super) fn on_call_ack(&mut self, msg: Message) {
        if let Some((id, side)) = self.calls.find(&msg) {
            self.calls.deliver(id, Input::Ack { side, msg });
        }
    }

    /// A response or failure of a client transaction; false when no call owns it.
    pub(super) fn on_call_response(&mut self, key: &TxnKey, msg: Option<Message>) -> bool {
        let Some(&(id, req)) = self.calls.by_request.get(key) else { return false };
        let input = match msg {
            Some(msg) => Input::Response { req, msg },
            None => Input::Failed { req },
        };
        self.calls.deliver(id, input);
        true
    }

    pub(super) fn on_call_terminated(&mut self, key: &TxnKey) {
        self.calls.by_request.remove(key);
    }

    pub(super) fn on_call_event(&mut self, event: CallEvent, now: Instant) {
        match event {
            CallEvent::Output(id, output) => self.on_call_output(id, output, now),
            CallEvent::Ended(id, cdr) => {
                if let Some(cdr) = cdr {
                    let tenant = cdr.tenant.clone();
                    let missed = matches!(cdr.disposition.as_str(), "busy" | "no_answer" | "cancelled");
                    if missed {
                        self.calls.bus.publish(Some(&tenant), EventKind::CallMissed { cdr: (*cdr).clone() });
                    }
                    self.calls.bus.publish(Some(&tenant), EventKind::CallEnded { cdr: *cdr });
                }
                self.calls.dirty = true;
                if let Some(entry) = self.calls.entries.remove(&id) {
                    self.calls.by_a.remove(&entry.a_dialog);
                    self.calls.by_b.remove(&entry.b_call_id);
                    if let Some(s) = entry.session {
                        self.calls.by_session.remove(&s);
                    }
                    self.calls.by_request.retain(|_, (call, _)| *call != id);
                }
            }
            CallEvent::MediaInactive(session) => {
                if let Some(&id) = self.calls.by_session.get(&session) {
                    self.calls.deliver(id, Input::MediaInactive);
                }
            }
        }
    }

    fn on_call_output(&mut self, id: u64, output: Output, now: Instant) {
        match output {
            Output::Respond { key, bytes, fallback } => {
                if self.txn.send_response(&key, bytes.clone(), now).is_err() {
                    self.txn.send_stateless(fallback, bytes);
                }
            }
            Output::Request { req, bytes, dest } => match self.txn.send_request(bytes, dest, now) {
                Ok(key) => {
                    self.calls.by_request.insert(key, (id, req));
                }
                Err(e) => {
                    tracing::warn!(call = id, error = %e, "call request not sent");
                    self.calls.deliver(id, Input::Failed { req });
                }
            },
            Output::Stateless { bytes, dest } => self.txn.send_stateless(dest, bytes),
            Output::State(view) => {
                if let Some(entry) = self.calls.entries.get_mut(&id) {
                    if let Some(session) = view.session.map(SessionId) {
                        entry.session = Some(session);
                        self.calls.by_session.insert(session, id);
                    }
                    if view.state != entry.view.state {
                        let call = view.clone();
                        match view.state.as_str() {
                            "ringing" => self.calls.bus.publish(Some(&view.tenant), EventKind::CallRinging { call }),
                            "answered" => self.calls.bus.publish(Some(&view.tenant), EventKind::CallAnswered { call }),
                            _ => {}
                        }
                    }
                    entry.view = Arc::new(view);
                    self.calls.dirty = true;
                }
            }
        }
    }

    /// A new call: authenticate the caller, route the number, check limits, start the call.
    fn on_new_invite(&mut self, key: TxnKey, msg: Message, source: Source, now: Instant) {
        let reply = Reply::Txn(key.clone());
        if self.calls.draining {
            let bytes = ResponseBuilder::new(&msg, 503)
                .source(source.addr)
                .reason("Service Unavailable (shutting down)")
                .header("Retry-After", 30)
                .header("Server", SERVER)
                .build();
            return self.send(&reply, source, bytes, now);
        }
        let snapshot = self.snapshot.borrow().clone();
        // The caller's domain picks the tenant; its credentials are the only ones consulted.
        let Some((caller, domain)) = msg.from().ok().and_then(|from| match from.uri() {
            Uri::Sip(sip) => Some((sip.user_unescaped()?.into_owned(), sip.host().to_string().to_ascii_lowercase())),
            _ => None,
        }) else {
            return self.respond_reason(&reply, &msg, source, 403, "Forbidden (caller is not a SIP address)", now);
        };
        let Some(tenant) = snapshot.domains.get(&domain).and_then(|id| snapshot.tenants.get(id)).cloned() else {
            return self.respond_reason(&reply, &msg, source, 403, "Forbidden (caller domain not served here)", now);
        };
        let credential = tenant.credentials.get(&caller);
        match self.authenticate(&msg, Challenger::Proxy, &domain, &caller, credential, &source, now) {
            Auth::Passed => {}
            Auth::Challenge { stale } => {
                let challenges = self.auth.challenge(&domain, stale, credential, unix_now());
                let tag = self.tag();
                let mut response =
                    ResponseBuilder::new(&msg, 407).source(source.addr).to_tag(&tag).header("Server", SERVER);
                for c in &challenges {
                    response = response.header("Proxy-Authenticate", c);
                }
                let bytes = response.build();
                return self.send(&reply, source, bytes, now);
            }
            Auth::Refuse(status, reason) => return self.respond_reason(&reply, &msg, source, status, reason, now),
        }
        // The dial plan: an extension of the same tenant (DIDs, trunks and apps come later).
        let Some(number) = msg.request_uri().and_then(Result::ok).and_then(|uri| match uri {
            Uri::Sip(sip) if host_is_ours(&sip.host().to_string(), &tenant.model.tenant.domains) => {
                sip.user_unescaped().map(|u| u.into_owned())
            }
            _ => None,
        }) else {
            return self.respond_reason(&reply, &msg, source, 404, "Not Found (not a number of this tenant)", now);
        };
        let (Some(callee), Some(caller_ext)) = (tenant.extension(&number), tenant.extension(&caller)) else {
            return self.respond_reason(&reply, &msg, source, 404, "Not Found", now);
        };
        let limits = &tenant.model.tenant.limits;
        let guard = match self.calls.limits.admit(
            &tenant.id,
            limits,
            &caller,
            caller_ext.max_calls.unwrap_or(limits.calls_per_extension),
            &number,
            callee.max_calls.unwrap_or(limits.calls_per_extension),
            now,
        ) {
            Ok(guard) => guard,
            Err(refusal) => {
                let status = if refusal == Refusal::CalleeCalls { 486 } else { 503 };
                let tag = self.tag();
                let bytes = ResponseBuilder::new(&msg, status)
                    .source(source.addr)
                    .to_tag(&tag)
                    .reason(refusal.reason())
                    .header("Retry-After", 5)
                    .header("Server", SERVER)
                    .build();
                return self.send(&reply, source, bytes, now);
            }
        };
        let targets: Vec<Target> = self
            .location
            .lookup(&tenant.id, &number, unix_now())
            .into_iter()
            .filter_map(|b| self.target_of(&b.contact, b.reach(), b.transport))
            .collect();
        if targets.is_empty() {
            return self.respond_reason(&reply, &msg, source, 480, "Temporarily Unavailable (not registered)", now);
        }
        let Some(call_id) = msg.call_id().ok().map(str::to_owned) else { return };
        let Some(from_tag) = msg.from().ok().and_then(|f| f.tag().map(str::to_owned)) else {
            return self.respond_reason(&reply, &msg, source, 400, "Bad Request (From has no tag)", now);
        };
        let id = self.calls.next_id;
        self.calls.next_id += 1;
        let seed = super::random_u64() ^ id;
        let b_call_id = format!("{seed:016x}-{id:x}@pbx");
        let primary = tenant.model.tenant.domains.first().cloned().unwrap_or(domain);
        let setup = CallSetup {
            id,
            tenant: tenant.id.clone(),
            caller: Party { number: caller.clone(), name: Some(caller_ext.name.clone()), domain: primary.clone() },
            callee: Party { number: number.clone(), name: Some(callee.name.clone()), domain: primary },
            invite: msg,
            invite_key: key,
            source,
            local_addr: self.local_addr(source.transport, Some(source.listener)),
            targets,
            settings: self.calls.settings,
            relay: Arc::clone(&self.calls.relay),
            media_ip: self.calls.media_ip,
            seed,
            b_call_id: b_call_id.clone(),
            recorder: [caller_ext, callee]
                .iter()
                .any(|e| e.record == RecordPolicy::Always)
                .then(|| self.calls.recorder.clone())
                .flatten(),
        };
        let mailbox = actor::spawn(setup, guard, self.calls.events.clone(), self.calls.cdrs.clone());
        let view = CallView {
            id,
            tenant: tenant.id.clone(),
            caller,
            callee: number,
            state: "calling".to_owned(),
            start_ms: crate::store::now_ms(),
            answer_ms: 0,
            codec: String::new(),
            legs: vec![call_id.clone()],
            session: None,
        };
        self.calls.bus.publish(Some(&view.tenant), EventKind::CallStarted { call: view.clone() });
        let a_dialog = (call_id, from_tag);
        self.calls.by_a.insert(a_dialog.clone(), id);
        self.calls.by_b.insert(b_call_id.clone(), id);
        self.calls.entries.insert(id, Entry { mailbox, view: Arc::new(view), a_dialog, b_call_id, session: None });
        self.calls.dirty = true;
    }

    /// Where a callee's binding is reached, and our listener on that path.
    fn target_of(&self, contact: &str, reach: Reach, transport: Transport) -> Option<Target> {
        let (peer, addr, flow) = match reach {
            Reach::Flow { flow, addr } => {
                let t = match transport {
                    Transport::Tls => PeerTransport::Tls,
                    Transport::Ws => PeerTransport::Ws,
                    Transport::Wss => PeerTransport::Wss,
                    _ => PeerTransport::Tcp,
                };
                (t, addr, flow)
            }
            Reach::Udp(addr) => (PeerTransport::Udp, addr, 0),
            Reach::Contact => return None, // needs DNS (RFC 3263): not yet
        };
        let listener = self.local.iter().position(|l| l.transport == peer && l.addr.is_ipv4() == addr.is_ipv4())?;
        let listener = u16::try_from(listener).ok()?;
        Some(Target {
            uri: contact.to_owned(),
            dest: Source { transport: peer, addr, listener, flow },
            local_addr: self.local_addr(peer, Some(listener)),
        })
    }

    /// The address of our listener `index` (or the first of `transport`), as peers see it.
    fn local_addr(&self, transport: PeerTransport, index: Option<u16>) -> SocketAddr {
        let spec = index
            .and_then(|i| self.local.get(usize::from(i)))
            .or_else(|| self.local.iter().find(|l| l.transport == transport))
            .or_else(|| self.local.first());
        spec.map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 5060)), |l| l.addr)
    }
}

/// The Request-URI host names this tenant: one of its domains, or an address literal (phones
/// that dial by our IP).
fn host_is_ours(host: &str, domains: &[String]) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok() || domains.iter().any(|d| d.eq_ignore_ascii_case(host))
}
