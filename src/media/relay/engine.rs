//! The relay's thread-safe control API: start the workers, create sessions, steer them.
//!
//! Exists so call actors (tokio tasks) can set up and steer media without ever running on the
//! media threads: every call here is non-blocking — it leases ports, sends a message to the
//! session's worker and wakes it. Dropping a [`SessionHandle`] removes the session and frees
//! its ports, so no call path can leak them. It must never block on a worker, and never let a
//! dead worker turn into a panic in the caller.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::media::relay::error::RelayError;
use crate::media::relay::io::{Poller, Waker};
use crate::media::relay::latch::LatchPolicy;
use crate::media::relay::port_pool::PortPool;
use crate::media::relay::session::{Leg, LegConfig, SessionCore, SessionShared};
use crate::media::relay::stats::SessionStats;
use crate::media::relay::tap::Tap;
use crate::media::relay::worker::{Control, NewSession, Worker, WorkerSettings};

/// Relay-wide settings.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Worker threads, each with its own epoll set, e.g. 1 on a 2-core box, 2–4 on larger ones.
    pub workers: usize,
    /// Most sessions at once, e.g. 2000; one more is refused with [`RelayError::TooManySessions`].
    pub max_sessions: usize,
    /// No RTP on either leg for this long (and not on hold) raises [`RelayEvent::Inactive`], e.g. 60 s.
    pub inactivity_timeout: Duration,
    /// Latching window and guard.
    pub latch: LatchPolicy,
    /// Datagrams taken per `recvmmsg` call, e.g. 32.
    pub batch: usize,
    /// After a round of work, sleep this long before looking again, so one wake-up serves many
    /// sockets instead of one per packet (interrupt coalescing). Adds at most this much delay
    /// (and jitter) per packet; e.g. 500 µs. Zero wakes for every packet.
    pub coalesce: Duration,
    /// Hand sessions whose RTP legs have latched to the kernel (nftables), e.g. `false`.
    /// Needs `nft` and CAP_NET_ADMIN, an IPv4 media address, and for peers on other hosts
    /// `net.ipv4.ip_forward = 1`; without them the relay stays in userspace and says why.
    pub kernel_forwarding: bool,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            workers: 1,
            max_sessions: 2000,
            inactivity_timeout: Duration::from_secs(60),
            latch: LatchPolicy::default(),
            batch: 32,
            coalesce: Duration::from_micros(500),
            kernel_forwarding: false,
        }
    }
}

/// Identifies a session in events; unique for the life of the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

/// Something the call layer should act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayEvent {
    /// No RTP arrived on either leg for `idle` (≥ the configured timeout) while not on hold:
    /// the call is probably dead. Sent once per idle spell.
    Inactive { session: SessionId, idle: Duration },
    /// The worker could not watch the session's sockets (epoll refused); it relays nothing.
    Failed { session: SessionId, reason: String },
}

struct WorkerLink {
    tx: Sender<Control>,
    waker: Arc<Waker>,
    sessions: AtomicUsize,
}

impl WorkerLink {
    fn send(&self, msg: Control) -> Result<(), RelayError> {
        self.tx.send(msg).map_err(|_| RelayError::ShutDown)?;
        self.waker.wake();
        Ok(())
    }
}

struct Shared {
    sessions: AtomicUsize,
    max_sessions: usize,
    next_id: AtomicU64,
    origin: Instant,
}

/// The RTP relay: worker threads plus the port pool. Share it behind an `Arc`.
pub struct Relay {
    shared: Arc<Shared>,
    workers: Vec<Arc<WorkerLink>>,
    threads: Vec<JoinHandle<()>>,
    events: Mutex<Option<Receiver<RelayEvent>>>,
    pool: PortPool,
    latch: LatchPolicy,
}

impl Relay {
    /// Start the workers. Sessions take their ports from `pool`.
    pub fn new(config: RelayConfig, pool: PortPool) -> Result<Self, RelayError> {
        if config.workers == 0 || config.workers > 64 {
            return Err(RelayError::Config("workers must be 1..=64"));
        }
        if config.coalesce > Duration::from_millis(10) {
            return Err(RelayError::Config("coalesce above 10 ms would add audible delay"));
        }
        if config.inactivity_timeout.is_zero() {
            return Err(RelayError::Config("inactivity_timeout must be above zero"));
        }
        let (events_tx, events_rx) = mpsc::channel();
        let mut workers = Vec::new();
        let mut threads = Vec::new();
        for i in 0..config.workers {
            let poller = Poller::new().map_err(RelayError::io("epoll_create1"))?;
            let waker = Arc::new(Waker::new().map_err(RelayError::io("eventfd"))?);
            let (tx, rx) = mpsc::channel();
            let settings = WorkerSettings {
                index: i,
                batch: config.batch,
                inactivity_timeout: config.inactivity_timeout,
                coalesce: config.coalesce,
                kernel: match (config.kernel_forwarding, pool.ip()) {
                    (true, IpAddr::V4(ip)) => Some(ip),
                    (true, IpAddr::V6(_)) => {
                        tracing::error!("kernel forwarding needs an IPv4 media address; relaying in userspace");
                        None
                    }
                    (false, _) => None,
                },
            };
            let worker = Worker::new(poller, Arc::clone(&waker), rx, events_tx.clone(), settings)
                .map_err(RelayError::io("epoll_ctl eventfd"))?;
            let thread = std::thread::Builder::new()
                .name(format!("rtp-relay-{i}"))
                .spawn(move || worker.run())
                .map_err(RelayError::io("spawn relay worker"))?;
            workers.push(Arc::new(WorkerLink { tx, waker, sessions: AtomicUsize::new(0) }));
            threads.push(thread);
        }
        let shared = Arc::new(Shared {
            sessions: AtomicUsize::new(0),
            max_sessions: config.max_sessions,
            next_id: AtomicU64::new(1),
            origin: Instant::now(),
        });
        Ok(Relay { shared, workers, threads, events: Mutex::new(Some(events_rx)), pool, latch: config.latch })
    }

    /// The event stream (inactivity, failures); the first call takes it, later calls get `None`.
    pub fn events(&self) -> Option<Receiver<RelayEvent>> {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// The port pool sessions lease from.
    pub fn pool(&self) -> &PortPool {
        &self.pool
    }

    /// Sessions alive now.
    pub fn sessions(&self) -> usize {
        self.shared.sessions.load(Relaxed)
    }

    /// Lease two port pairs and start relaying between legs `a` and `b`.
    pub fn create_session(&self, a: LegConfig, b: LegConfig) -> Result<SessionHandle, RelayError> {
        let max = self.shared.max_sessions;
        self.shared
            .sessions
            .fetch_update(Relaxed, Relaxed, |n| (n < max).then_some(n + 1))
            .map_err(|_| RelayError::TooManySessions { max })?;
        let slot = SessionSlot(Arc::clone(&self.shared)); // gives the count back on any early return
        let (index, worker) = self
            .workers
            .iter()
            .enumerate()
            .min_by_key(|(_, w)| w.sessions.load(Relaxed))
            .ok_or(RelayError::ShutDown)?;
        let ports = [self.pool.allocate_for(Some(index))?, self.pool.allocate_for(Some(index))?];
        let local = [(ports[0].rtp_addr(), ports[0].rtcp_addr()), (ports[1].rtp_addr(), ports[1].rtcp_addr())];
        let now = Instant::now();
        let shared = Arc::new(SessionShared::new(&a, &b, self.shared.origin));
        let core = SessionCore::new(&a, &b, self.latch, Arc::clone(&shared), now);
        let id = SessionId(self.shared.next_id.fetch_add(1, Relaxed));
        worker.send(Control::Add(Box::new(NewSession { id, core, ports })))?;
        worker.sessions.fetch_add(1, Relaxed);
        Ok(SessionHandle { id, shared, local, worker: Arc::clone(worker), _slot: slot })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for w in &self.workers {
            let _ = w.send(Control::Shutdown);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Holds one unit of the relay's session count.
struct SessionSlot(Arc<Shared>);

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.0.sessions.fetch_sub(1, Relaxed);
    }
}

/// A live session. Dropping it removes the session and frees its ports.
pub struct SessionHandle {
    id: SessionId,
    shared: Arc<SessionShared>,
    local: [(SocketAddr, SocketAddr); 2],
    worker: Arc<WorkerLink>,
    _slot: SessionSlot,
}

impl SessionHandle {
    /// The id events carry.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// Our RTP address on `leg`, for that leg's SDP.
    pub fn local_rtp(&self, leg: Leg) -> SocketAddr {
        self.local[leg.index()].0
    }

    /// Our RTCP address on `leg`.
    pub fn local_rtcp(&self, leg: Leg) -> SocketAddr {
        self.local[leg.index()].1
    }

    /// New SDP address of `leg`'s peer (re-INVITE); `rtcp: None` means RTP port + 1. Reopens
    /// that leg's latch window.
    pub fn update_remote(&self, leg: Leg, rtp: SocketAddr, rtcp: Option<SocketAddr>) -> Result<(), RelayError> {
        self.worker.send(Control::UpdateRemote { id: self.id, leg, rtp: Some(rtp), rtcp })
    }

    /// Hold stops the inactivity timer; unhold restarts it and reopens the latch windows.
    pub fn set_hold(&self, hold: bool) -> Result<(), RelayError> {
        self.shared.on_hold.store(hold, Relaxed);
        self.worker.send(Control::Hold { id: self.id, hold })
    }

    /// Reopen both legs' latch windows (re-INVITE without address change).
    pub fn reopen_latch(&self) -> Result<(), RelayError> {
        self.worker.send(Control::ReopenLatch(self.id))
    }

    /// Copy (Some) or stop copying (None) the session's accepted RTP to a recorder.
    pub fn set_tap(&self, tap: Option<Tap>) -> Result<(), RelayError> {
        self.worker.send(Control::Tap { id: self.id, tap })
    }

    /// Counters and quality figures of both legs, as of now.
    pub fn stats(&self) -> SessionStats {
        self.shared.snapshot()
    }
}

impl Drop for SessionHandle {
    fn drop(&mut self) {
        self.worker.sessions.fetch_sub(1, Relaxed);
        let _ = self.worker.send(Control::Remove(self.id));
    }
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle").field("id", &self.id).field("local", &self.local).finish()
    }
}
