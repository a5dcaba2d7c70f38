//! The transaction layer: owns every transaction, matches messages to them, runs their
//! timers and queues what they send (RFC 3261 §17).
//!
//! Exists so the TU deals in requests, responses and a few events, never in
//! retransmissions. Sans-IO like quinn-proto: inputs carry `now`, output is pulled with
//! [`TxnLayer::poll_transmit`], [`TxnLayer::poll_event`] and [`TxnLayer::poll_timeout`].
//! It is bounded by [`TxnConfig::max_transactions`]; terminated transactions are removed
//! at once. It must never do I/O, read a clock, or panic on what a peer sent.

use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use super::TxnState;
use super::client_invite::ClientInvite;
use super::client_non_invite::ClientNonInvite;
use super::error::TxnError;
use super::event::{Transmit, TxnEvent};
use super::key::{ToTag, TxnKey};
use super::machine::{Effects, Machine};
use super::peer::{Peer, TxnPeer};
use super::server_invite::ServerInvite;
use super::server_non_invite::ServerNonInvite;
use super::timers::TimerConfig;
use crate::fast_map::{FastMap, shrink_map};
use crate::sip::msg::Limits;
use crate::sip::msg::Message;
use crate::sip::msg::Method;
use crate::sip::msg::ResponseBuilder;
use crate::sip::msg::parse_datagram;

/// Settings of a [`TxnLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnConfig {
    /// T1, T2, T4.
    pub timers: TimerConfig,
    /// Most transactions alive at once; beyond it new requests are
    /// [`TxnEvent::Rejected`] with [`TxnError::Full`]. Example: `10000`.
    pub max_transactions: usize,
    /// Send `100 Trying` for a new INVITE server transaction with the next transmits taken,
    /// unless the TU has answered it by then (RFC 3261 §17.2.1: only a TU that will not
    /// answer within 200 ms needs it). When `false` the TU sends it. Example: `true`.
    pub auto_trying: bool,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig { timers: TimerConfig::default(), max_transactions: 10_000, auto_trying: true }
    }
}

#[derive(Debug)]
struct Entry<P> {
    key: TxnKey,
    peer: P,
    machine: Machine,
    /// The deadline currently in `TxnLayer::timers`.
    scheduled: Option<Instant>,
    /// RFC 2543 INVITE server: the To tag of our final response, which its ACK carries.
    response_to_tag: Option<Box<str>>,
}

/// All transactions of one SIP endpoint.
#[derive(Debug)]
pub struct TxnLayer<P: TxnPeer = Peer> {
    config: TxnConfig,
    /// Boxed: an entry is a few hundred bytes, and growing the table moves every entry.
    entries: FastMap<u64, Box<Entry<P>>>,
    index: FastMap<TxnKey, u64>,
    timers: BTreeSet<(Instant, u64)>,
    next_id: u64,
    transmits: VecDeque<Transmit<P>>,
    /// INVITE server transactions whose `100 Trying` goes out with the next transmits,
    /// unless the TU answers first.
    trying: Vec<(u64, Bytes, Instant)>,
    events: VecDeque<TxnEvent<P>>,
    evicted: u64,
}

impl<P: TxnPeer> TxnLayer<P> {
    pub fn new(config: TxnConfig) -> TxnLayer<P> {
        TxnLayer {
            config,
            entries: FastMap::default(),
            index: FastMap::default(),
            timers: BTreeSet::new(),
            next_id: 0,
            transmits: VecDeque::new(),
            trying: Vec::new(),
            events: VecDeque::new(),
            evicted: 0,
        }
    }

    pub fn config(&self) -> &TxnConfig {
        &self.config
    }

    /// Live transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The state of transaction `key`; `None` once it has terminated.
    pub fn state(&self, key: &TxnKey) -> Option<TxnState> {
        self.index.get(key).and_then(|id| self.entries.get(id)).map(|e| e.machine.state())
    }

    /// A message from the network. Returns what the TU must see now: a new request, a
    /// response, an ACK without transaction, or a rejected request; `None` when the message
    /// was a retransmission the layer absorbed (or a stray response, which is dropped,
    /// §17.1.3).
    pub fn handle_incoming(&mut self, msg: Message, source: P, now: Instant) -> Option<TxnEvent<P>> {
        match msg.method() {
            Some(Method::Ack) => self.incoming_ack(msg, source, now),
            Some(method) => {
                let invite = method == Method::Invite;
                self.incoming_request(msg, invite, source, now)
            }
            None => self.incoming_response(msg, now),
        }
    }

    fn incoming_response(&mut self, msg: Message, now: Instant) -> Option<TxnEvent<P>> {
        let key = TxnKey::client(&msg).ok()?;
        let id = *self.index.get(&key)?;
        let effects = self.entries.get_mut(&id)?.machine.on_response(&msg, now);
        let deliver = self.apply(id, effects);
        deliver.then_some(TxnEvent::Response { key, msg })
    }

    fn incoming_request(&mut self, msg: Message, invite: bool, source: P, now: Instant) -> Option<TxnEvent<P>> {
        let key = match TxnKey::server(&msg) {
            Ok(key) => key,
            Err(e) => return Some(TxnEvent::Rejected { msg, source, error: e.into() }),
        };
        if let Some(&id) = self.index.get(&key) {
            let effects = self.entries.get_mut(&id)?.machine.on_request();
            self.apply(id, effects);
            return None;
        }
        if let Err(error) = self.check_room() {
            return Some(TxnEvent::Rejected { msg, source, error });
        }
        let reliable = source.is_reliable();
        let machine = if invite {
            Machine::Ist(ServerInvite::start(self.config.timers, reliable))
        } else {
            Machine::Nist(ServerNonInvite::start(self.config.timers, reliable))
        };
        let id = self.insert(key.clone(), source.clone(), machine);
        if invite && self.config.auto_trying {
            self.trying.push((id, ResponseBuilder::new(&msg, 100).build(), now));
        }
        Some(TxnEvent::Request { key, msg, source })
    }

    fn incoming_ack(&mut self, msg: Message, source: P, now: Instant) -> Option<TxnEvent<P>> {
        let Some(id) = self.match_ack(&msg) else {
            return Some(TxnEvent::Ack { msg, source });
        };
        let effects = self.entries.get_mut(&id)?.machine.on_ack(now);
        let deliver = self.apply(id, effects);
        deliver.then_some(TxnEvent::Ack { msg, source })
    }

    /// The INVITE server transaction an ACK belongs to (§17.2.3). For an RFC 2543 ACK the
    /// To tag is the one of our final response, so the INVITE's key is tried without a To
    /// tag (initial INVITE) and with the ACK's (re-INVITE), and the tag is checked.
    fn match_ack(&self, ack: &Message) -> Option<u64> {
        let key = TxnKey::server(ack).ok()?;
        if !key.is_rfc2543() {
            return self.index.get(&key).copied();
        }
        let ack_tag = ack.to().ok()?.tag();
        let untagged = TxnKey::server_as(ack, Method::Invite, ToTag::Absent).ok()?;
        [untagged, key].iter().filter_map(|k| self.index.get(k)).copied().find(|id| {
            self.entries.get(id).is_some_and(|e| e.response_to_tag.as_deref().is_some_and(|t| Some(t) == ack_tag))
        })
    }

    /// The INVITE server transaction a received CANCEL refers to (§9.2): same key but for
    /// the method. The TU answers the CANCEL 200 (or 481 when this is `None`) and, if the
    /// INVITE is still [`TxnState::Proceeding`], answers it 487.
    pub fn cancel_target(&self, cancel: &Message) -> Option<TxnKey> {
        if cancel.method() != Some(Method::Cancel) {
            return None;
        }
        let key = TxnKey::server_as(cancel, Method::Invite, ToTag::Message).ok()?;
        self.index.contains_key(&key).then_some(key)
    }

    /// Starts a client transaction for `request` (built by the TU, with a top Via whose
    /// branch starts with `z9hG4bK`) and queues its first transmission to `dest`.
    pub fn send_request(&mut self, request: Bytes, dest: P, now: Instant) -> Result<TxnKey, TxnError> {
        let msg = parse_datagram(request, &Limits::default())?;
        let method = msg.method().ok_or(TxnError::NotRequest)?;
        if method == Method::Ack {
            return Err(TxnError::Ack);
        }
        let key = TxnKey::client_request(&msg)?;
        if self.index.contains_key(&key) {
            return Err(TxnError::Duplicate);
        }
        self.check_room()?;
        let (timers, reliable, bytes) = (self.config.timers, dest.is_reliable(), msg.buffer().clone());
        let machine = if method == Method::Invite {
            Machine::Ict(ClientInvite::start(msg, timers, reliable, now))
        } else {
            Machine::Nict(ClientNonInvite::start(bytes.clone(), timers, reliable, now))
        };
        self.insert(key.clone(), dest.clone(), machine);
        self.transmits.push_back(Transmit { dest, bytes, key: Some(key.clone()) });
        Ok(key)
    }

    /// Sends `response` (built by the TU, e.g. with [`ResponseBuilder`]) in server
    /// transaction `key`, to the address the request came from.
    pub fn send_response(&mut self, key: &TxnKey, response: Bytes, now: Instant) -> Result<(), TxnError> {
        let msg = parse_datagram(response, &Limits::default())?;
        let status = msg.status().ok_or(TxnError::NotResponse)?;
        let id = *self.index.get(key).ok_or(TxnError::Unknown)?;
        let entry = self.entries.get_mut(&id).ok_or(TxnError::Unknown)?;
        let effects = entry.machine.send_response(status, msg.buffer().clone(), now)?;
        if entry.key.is_rfc2543() && status >= 200 {
            entry.response_to_tag = msg.to().ok().and_then(|to| to.tag()).map(Into::into);
        }
        self.apply(id, effects);
        Ok(())
    }

    /// Queues bytes outside any transaction: the ACK for a 2xx, a 2xx retransmission
    /// after its transaction ended, a stateless 503 or 400.
    pub fn send_stateless(&mut self, dest: P, bytes: Bytes) {
        self.transmits.push_back(Transmit { dest, bytes, key: None });
    }

    /// The shell could not send a transmit of transaction `key` (§17.1.4, §17.2.4): the
    /// transaction ends with [`TxnEvent::TransportError`].
    pub fn handle_transport_error(&mut self, key: &TxnKey) {
        let Some(&id) = self.index.get(key) else { return };
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.machine.terminate();
            self.events.push_back(TxnEvent::TransportError(key.clone()));
        }
        self.settle(id);
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit<P>> {
        self.send_due_trying();
        self.transmits.pop_front()
    }

    /// Sends the `100 Trying` of INVITEs the TU has not answered by now. Deferred to here so
    /// a TU that answers at once (a 407 challenge, a 486) sends one response, not two.
    fn send_due_trying(&mut self) {
        for (id, trying, at) in std::mem::take(&mut self.trying) {
            if let Some(entry) = self.entries.get_mut(&id)
                && let Machine::Ist(ist) = &entry.machine
                && ist.unanswered()
                && let Ok(effects) = entry.machine.send_response(100, trying, at)
            {
                self.apply(id, effects);
            }
        }
    }

    /// The next event for the TU (timeouts, transport errors, terminations).
    pub fn poll_event(&mut self) -> Option<TxnEvent<P>> {
        self.events.pop_front()
    }

    /// When [`TxnLayer::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|&(at, _)| at)
    }

    /// Gives back table space a burst left behind (a hash table never shrinks by itself):
    /// after 200,000 lingering transactions are gone, their slots would otherwise stay
    /// allocated for good. Cheap when there is nothing to do; call it now and then.
    pub fn shrink(&mut self) {
        shrink_map(&mut self.entries);
        shrink_map(&mut self.index);
        if self.transmits.capacity() > 1024 && self.transmits.len() * 4 < self.transmits.capacity() {
            self.transmits.shrink_to(self.transmits.len() * 2);
        }
        if self.events.capacity() > 1024 && self.events.len() * 4 < self.events.capacity() {
            self.events.shrink_to(self.events.len() * 2);
        }
    }

    /// Fires every timer due at `now`. Each transaction fires at most once per call, so a
    /// timer re-armed at `now` waits for the next call.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<u64> = self.timers.iter().take_while(|&&(at, _)| at <= now).map(|&(_, id)| id).collect();
        for id in due {
            if let Some(entry) = self.entries.get_mut(&id) {
                let effects = entry.machine.on_timer(now);
                self.apply(id, effects);
            }
        }
    }

    /// Room for one more transaction. When the table is full, the transaction closest to its
    /// end among those that only linger (Completed, Confirmed, Accepted: absorbing
    /// retransmissions) makes way; live ones are never dropped, so only a table full of
    /// those refuses new requests.
    fn check_room(&mut self) -> Result<(), TxnError> {
        let max = self.config.max_transactions;
        if self.entries.len() < max {
            return Ok(());
        }
        let lingering = self.timers.iter().map(|&(_, id)| id).find(|id| {
            self.entries.get(id).is_some_and(|e| {
                matches!(e.machine.state(), TxnState::Completed | TxnState::Confirmed | TxnState::Accepted)
            })
        });
        let Some(id) = lingering else { return Err(TxnError::Full { max }) };
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.machine.terminate();
        }
        self.settle(id);
        self.evicted += 1;
        Ok(())
    }

    /// Lingering transactions dropped early to make room (see `check_room`).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    fn insert(&mut self, key: TxnKey, peer: P, machine: Machine) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.index.insert(key.clone(), id);
        self.entries.insert(id, Box::new(Entry { key, peer, machine, scheduled: None, response_to_tag: None }));
        self.settle(id);
        id
    }

    /// Queues what a machine did; returns whether the input goes to the TU.
    fn apply(&mut self, id: u64, effects: Effects) -> bool {
        let Effects { send, deliver, timed_out } = effects;
        if let Some(entry) = self.entries.get(&id) {
            if let Some(bytes) = send {
                self.transmits.push_back(Transmit { dest: entry.peer.clone(), bytes, key: Some(entry.key.clone()) });
            }
            if timed_out {
                self.events.push_back(TxnEvent::Timeout(entry.key.clone()));
            }
        }
        self.settle(id);
        deliver
    }

    /// Reschedules the transaction's timer, or removes it once terminated.
    fn settle(&mut self, id: u64) {
        let Some(entry) = self.entries.get_mut(&id) else { return };
        if let Some(at) = entry.scheduled.take() {
            self.timers.remove(&(at, id));
        }
        if entry.machine.state() == TxnState::Terminated {
            if let Some(entry) = self.entries.remove(&id) {
                self.index.remove(&entry.key);
                self.events.push_back(TxnEvent::Terminated(entry.key));
            }
            return;
        }
        entry.scheduled = entry.machine.deadline();
        if let Some(at) = entry.scheduled {
            self.timers.insert((at, id));
        }
    }
}
