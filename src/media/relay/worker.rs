//! A relay worker: one OS thread, one epoll set, the sockets of its sessions.
//!
//! Exists to move packets with as few syscalls as possible: edge-triggered epoll tells which
//! sockets became readable, `recvmmsg` drains them a batch at a time, the session core
//! judges each datagram, and one `sendmmsg` forwards the accepted ones in place from the other
//! leg's socket. Control messages arrive over a channel plus an eventfd wake-up; inactivity is
//! checked on a coarse tick. It must never block on anything but `epoll_wait`, never allocate
//! per packet, and never run call logic: it only reports events.

use crate::fast_map::FastMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use crate::media::relay::engine::{RelayEvent, SessionId};
use crate::media::relay::io::{Events, Poller, RecvBatch, Waker};
use crate::media::relay::kernel::{Forward, KernelLink, KernelOp};
use crate::media::relay::port_pool::PortPair;
use crate::media::relay::session::{Channel, Leg, SessionCore};
use crate::media::relay::tap::Tap;

/// Token of the worker's eventfd; socket tokens are `port << 1 | rtcp` and never reach it.
const WAKE: u64 = u64::MAX;
/// Ready descriptors taken per `epoll_wait`.
const EVENTS: usize = 1024;
/// `recvmmsg` calls per socket before moving on to the others; a socket not drained by then
/// goes to the backlog (edge-triggered epoll will not report it again).
const MAX_ROUNDS: usize = 4;

/// Requests from session handles to the worker that owns the session.
pub(crate) enum Control {
    Add(Box<NewSession>),
    Remove(SessionId),
    UpdateRemote {
        id: SessionId,
        leg: Leg,
        rtp: Option<SocketAddr>,
        rtcp: Option<SocketAddr>,
    },
    Hold {
        id: SessionId,
        hold: bool,
    },
    ReopenLatch(SessionId),
    /// Start (Some) or stop (None) copying the session's RTP to a recorder.
    Tap {
        id: SessionId,
        tap: Option<Tap>,
    },
    Shutdown,
}

/// A session handed to its worker: the core and both legs' port pairs.
pub(crate) struct NewSession {
    pub id: SessionId,
    pub core: SessionCore,
    pub ports: [PortPair; 2],
}

struct Entry {
    id: SessionId,
    core: SessionCore,
    ports: [PortPair; 2],
    tap: Option<Tap>,
    /// The directions the kernel forwards, if it does.
    kernel: Option<InKernel>,
}

/// A session's rules, and what their counters showed last (packets, IP bytes) by leg.
struct InKernel {
    forwards: [Forward; 2],
    seen: [(u64, u64); 2],
    /// Counts read before this are of an earlier install of the same ports.
    since: Instant,
}

impl Entry {
    fn socket(&self, leg: Leg, ch: Channel) -> &UdpSocket {
        let p = &self.ports[leg.index()];
        match ch {
            Channel::Rtp => p.rtp(),
            Channel::Rtcp => p.rtcp(),
        }
    }
}

/// A socket's token is its port (and which of the pair it is), not its session: a warm pair
/// stays in the epoll set between calls, so its token must outlive them.
fn decode(token: u64) -> (u16, Channel) {
    let ch = if token & 1 == 0 { Channel::Rtp } else { Channel::Rtcp };
    ((token >> 1) as u16, ch)
}

fn encode(rtp_port: u16, ch: Channel) -> u64 {
    u64::from(rtp_port) << 1 | u64::from(ch == Channel::Rtcp)
}

/// Settings a worker runs with.
pub(crate) struct WorkerSettings {
    /// This worker's place among the relay's workers.
    pub index: usize,
    pub batch: usize,
    pub inactivity_timeout: Duration,
    pub coalesce: Duration,
    /// Forward latched sessions in the kernel, on this media address.
    pub kernel: Option<Ipv4Addr>,
}

pub(crate) struct Worker {
    /// First, so it is dropped first: its rules go before the sessions' ports are freed.
    kernel: Option<KernelLink>,
    poller: Poller,
    waker: Arc<Waker>,
    rx: Receiver<Control>,
    events_tx: Sender<RelayEvent>,
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    by_id: FastMap<SessionId, usize>,
    /// RTP port of each leg's pair to its session's slot and leg.
    by_port: FastMap<u16, (usize, Leg)>,
    /// Tokens of sockets that may still hold datagrams.
    backlog: Vec<u64>,
    batch: RecvBatch,
    fwd: Vec<u16>,
    settings: WorkerSettings,
}

impl Worker {
    pub(crate) fn new(
        poller: Poller,
        waker: Arc<Waker>,
        rx: Receiver<Control>,
        events_tx: Sender<RelayEvent>,
        settings: WorkerSettings,
    ) -> std::io::Result<Self> {
        poller.add(waker.fd(), WAKE)?;
        let batch = RecvBatch::new(settings.batch);
        let fwd = Vec::with_capacity(batch.capacity());
        let kernel = settings.kernel.and_then(|ip| match KernelLink::start(settings.index, ip) {
            Ok(link) => Some(link),
            Err(e) => {
                tracing::error!(error = %e, "kernel forwarding unavailable (needs nft and CAP_NET_ADMIN); relaying in userspace");
                None
            }
        });
        Ok(Worker {
            poller,
            waker,
            rx,
            events_tx,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: FastMap::default(),
            by_port: FastMap::default(),
            backlog: Vec::new(),
            batch,
            fwd,
            kernel,
            settings,
        })
    }

    /// The thread body; returns on [`Control::Shutdown`] or when every handle and the relay are gone.
    pub(crate) fn run(mut self) {
        let tick = (self.settings.inactivity_timeout / 8).clamp(Duration::from_millis(5), Duration::from_secs(1));
        let mut events = Events::with_capacity(EVENTS);
        let mut next_tick = Instant::now() + tick;
        let mut backlog = Vec::new();
        loop {
            let timeout = match self.backlog.is_empty() {
                true => next_tick.saturating_duration_since(Instant::now()),
                false => Duration::ZERO,
            };
            let ready = match self.poller.wait(&mut events, Some(timeout)) {
                Ok(n) => n,
                Err(_) => {
                    // Only EBADF/EINVAL/EFAULT are possible here; none can heal. Avoid a hot spin.
                    std::thread::sleep(Duration::from_millis(10));
                    0
                }
            };
            std::mem::swap(&mut backlog, &mut self.backlog);
            for token in backlog.drain(..) {
                self.readable(token);
            }
            let mut control = false;
            for token in events.tokens() {
                if token == WAKE {
                    control = true;
                } else {
                    self.readable(token);
                }
            }
            if control {
                self.waker.drain();
                if !self.control() {
                    return;
                }
            }
            let now = Instant::now();
            if now >= next_tick {
                self.housekeeping(now);
                next_tick = now + tick;
            }
            // Coalesce: let packets (and control messages: calls start and end in bursts)
            // gather for a while unless the last wait was already full.
            if ready > 0 && ready < EVENTS && !self.settings.coalesce.is_zero() {
                std::thread::sleep(self.settings.coalesce);
            }
        }
    }

    fn readable(&mut self, token: u64) {
        let (port, ch) = decode(token);
        // A warm pair between calls, or a late event for a closed socket: what waits there is
        // left for the pool's check before the pair's next call.
        let Some(&(slot, leg)) = self.by_port.get(&port) else { return };
        let Some(Some(entry)) = self.slots.get_mut(slot) else { return };
        let to = leg.other();
        for round in 0..MAX_ROUNDS {
            let n = match self.batch.recv(entry.socket(leg, ch).as_fd()) {
                Ok(n) => n,
                // A queued ICMP error, reported once: datagrams may wait behind it.
                Err(_) => {
                    if round + 1 == MAX_ROUNDS {
                        self.backlog.push(token);
                    }
                    continue;
                }
            };
            if n == 0 {
                break;
            }
            let now = Instant::now();
            self.fwd.clear();
            for i in 0..n {
                match self.batch.packet_mut(i) {
                    Some((pkt, src)) => {
                        if entry.core.on_packet(leg, ch, src, pkt, now) {
                            self.fwd.push(i as u16); // i < batch capacity <= 1024
                            if ch == Channel::Rtp
                                && let Some(tap) = &entry.tap
                            {
                                tap.offer(leg, pkt, now);
                            }
                        }
                    }
                    None => entry.core.on_unreadable(leg),
                }
            }
            if !self.fwd.is_empty() {
                match entry.core.target(to, ch) {
                    Some(dst) => {
                        let sent = self.batch.forward(entry.socket(to, ch).as_fd(), &self.fwd, dst).unwrap_or(0);
                        let bytes = self.fwd[..sent].iter().map(|&i| self.batch.len_of(usize::from(i))).sum();
                        entry.core.on_sent(to, ch, sent, bytes, self.fwd.len() - sent);
                    }
                    None => entry.core.on_no_target(to, self.fwd.len()),
                }
            }
            if n < self.batch.capacity() {
                break; // drained: the next datagram is a new edge
            }
            if round + 1 == MAX_ROUNDS {
                self.backlog.push(token);
            }
        }
    }

    /// Apply pending control messages; false when the worker must stop.
    fn control(&mut self) -> bool {
        loop {
            let msg = match self.rx.try_recv() {
                Ok(msg) => msg,
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            };
            let now = Instant::now();
            match msg {
                Control::Add(new) => self.add(*new),
                Control::Remove(id) => self.remove(id),
                Control::UpdateRemote { id, leg, rtp, rtcp } => {
                    self.leave_kernel(id);
                    if let Some(e) = self.entry(id) {
                        e.core.update_remote(leg, rtp, rtcp, now);
                    }
                }
                Control::Hold { id, hold } => {
                    self.leave_kernel(id);
                    if let Some(e) = self.entry(id) {
                        e.core.set_hold(hold, now);
                    }
                }
                Control::ReopenLatch(id) => {
                    self.leave_kernel(id);
                    if let Some(e) = self.entry(id) {
                        e.core.reopen_latch(now);
                    }
                }
                Control::Tap { id, tap } => {
                    self.leave_kernel(id);
                    if let Some(e) = self.entry(id) {
                        e.tap = tap;
                    }
                }
                Control::Shutdown => return false,
            }
        }
    }

    fn entry(&mut self, id: SessionId) -> Option<&mut Entry> {
        let slot = *self.by_id.get(&id)?;
        self.slots.get_mut(slot)?.as_mut()
    }

    fn add(&mut self, new: NewSession) {
        let slot = self.free.pop().unwrap_or(self.slots.len());
        let mut entry = Entry { id: new.id, core: new.core, ports: new.ports, tap: None, kernel: None };
        let mut result = Ok(());
        for pair in &mut entry.ports {
            let port = pair.rtp_addr().port();
            if pair.worker() == Some(self.settings.index) {
                // Still in the set from its last call: look at RTP once, in case a packet
                // arrived since the pool checked it (that edge found no session here). An
                // RTCP report waiting there goes out with the next one.
                self.backlog.push(encode(port, Channel::Rtp));
                continue;
            }
            result = result
                .and_then(|()| self.poller.add_edge(pair.rtp().as_fd(), encode(port, Channel::Rtp)))
                .and_then(|()| self.poller.add_edge(pair.rtcp().as_fd(), encode(port, Channel::Rtcp)));
            if result.is_ok() {
                pair.set_worker(self.settings.index);
            }
        }
        if let Err(e) = result {
            // Dropping the entry closes its sockets (which leaves epoll) and frees its ports.
            let _ = self.events_tx.send(RelayEvent::Failed { session: entry.id, reason: e.to_string() });
            if slot < self.slots.len() {
                self.free.push(slot);
            }
            return;
        }
        for leg in [Leg::A, Leg::B] {
            self.by_port.insert(entry.ports[leg.index()].rtp_addr().port(), (slot, leg));
        }
        if slot == self.slots.len() {
            self.slots.push(Some(entry));
        } else {
            self.slots[slot] = Some(entry);
        }
        self.by_id.insert(new.id, slot);
    }

    fn remove(&mut self, id: SessionId) {
        let Some(slot) = self.by_id.remove(&id) else { return };
        if let Some(entry) = self.slots.get_mut(slot).and_then(Option::take) {
            // The pairs may stay open (warm, for a later call) and in this worker's set;
            // forwarded in the kernel, only once their rules are gone.
            for pair in &entry.ports {
                self.by_port.remove(&pair.rtp_addr().port());
            }
            match (entry.kernel, &self.kernel) {
                (Some(InKernel { forwards, .. }), Some(link)) => {
                    link.send(KernelOp::Remove { forwards: forwards.to_vec(), release: entry.ports.into() });
                }
                _ => entry.ports.into_iter().for_each(PortPair::release),
            }
            self.free.push(slot);
        }
    }

    /// Back to userspace (a re-INVITE, hold, recording...): packets reach the sockets again
    /// once the rules are gone; the session may go back to the kernel once latched again.
    fn leave_kernel(&mut self, id: SessionId) {
        let Some(&slot) = self.by_id.get(&id) else { return };
        let Some(Some(entry)) = self.slots.get_mut(slot) else { return };
        if let (Some(InKernel { forwards, .. }), Some(link)) = (entry.kernel.take(), &self.kernel) {
            link.send(KernelOp::Remove { forwards: forwards.to_vec(), release: Vec::new() });
        }
    }

    /// Counts what the kernel forwarded, and hands it the sessions that have latched.
    fn kernel_housekeeping(&mut self, now: Instant) {
        let Some(link) = &self.kernel else { return };
        for (read_at, counts) in link.counts.try_iter() {
            for c in counts {
                let Some(&(slot, leg)) = self.by_port.get(&c.port) else { continue };
                let Some(Some(entry)) = self.slots.get_mut(slot) else { continue };
                let Some(InKernel { forwards, seen, since }) = &mut entry.kernel else { continue };
                if forwards[leg.index()].port != c.port || read_at < *since {
                    continue;
                }
                let last = &mut seen[leg.index()];
                let (packets, bytes) = (c.packets.saturating_sub(last.0), c.bytes.saturating_sub(last.1));
                *last = (c.packets, c.bytes);
                entry.core.on_kernel_forwarded(leg, packets, bytes, now);
            }
        }
        for entry in self.slots.iter_mut().flatten() {
            if entry.kernel.is_some() || entry.tap.is_some() {
                continue;
            }
            let ports = [entry.ports[0].rtp_addr().port(), entry.ports[1].rtp_addr().port()];
            if let Some(forwards) = entry.core.kernel_forwards(ports, now)
                && forwards.iter().all(|f| link.reaches(*f.to.ip()))
            {
                link.send(KernelOp::Install(forwards.to_vec()));
                entry.kernel = Some(InKernel { forwards, seen: [(0, 0); 2], since: now });
            }
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        self.kernel_housekeeping(now);
        for entry in self.slots.iter_mut().flatten() {
            if let Some(idle) = entry.core.poll_inactive(now, self.settings.inactivity_timeout) {
                let _ = self.events_tx.send(RelayEvent::Inactive { session: entry.id, idle });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for port in [0u16, 1, 20_000, u16::MAX] {
            for ch in [Channel::Rtp, Channel::Rtcp] {
                let t = encode(port, ch);
                assert_ne!(t, WAKE);
                assert_eq!(decode(t), (port, ch));
            }
        }
    }
}
