//! RTP/RTCP port pairs from a configured range, leased with a guard.
//!
//! Exists so every leg gets an even RTP port with RTCP on the next port, and so no call path
//! can leak ports: the [`PortPair`] owns both sockets and returns the pair to the pool when it
//! is dropped, after its sockets are closed. It must never hand out a port twice, and never
//! give up on the pool because one port is held by someone else: such a port is skipped.
//!
//! A pair handed back with [`PortPair::release`] may stay open ("warm") for the next call:
//! creating, binding and closing four sockets was 7% of a call's CPU. A warm pair is reused
//! only after resting [`WARM_REST`] with nothing arriving on it, so RTP still flowing from
//! the last call's peer (a lost BYE) never reaches the next call: such a pair is closed.
//! A warm pair stays in the epoll set of the worker it served (edge-triggered, so what
//! arrives meanwhile stays queued for that check) and goes back only to that worker: no
//! `epoll_ctl` per call, and never one socket in two workers' sets.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::media::relay::error::RelayError;

/// Where and how the pool binds its sockets.
#[derive(Debug, Clone)]
pub struct PortPoolConfig {
    /// Address every RTP/RTCP socket binds to, e.g. `127.0.0.1` or the node's media address.
    pub ip: IpAddr,
    /// Port range, e.g. `20000..=29999`; RTP ports are the even ones, RTCP the odd one above.
    pub ports: RangeInclusive<u16>,
    /// `SO_RCVBUF` asked for each socket, e.g. `Some(256 * 1024)`; `None` keeps the system default.
    pub recv_buffer: Option<usize>,
    /// `SO_SNDBUF` asked for each socket; `None` keeps the system default.
    pub send_buffer: Option<usize>,
}

impl PortPoolConfig {
    /// A pool on `ip` over `ports` with the system's socket buffer sizes.
    pub fn new(ip: IpAddr, ports: RangeInclusive<u16>) -> Self {
        PortPoolConfig { ip, ports, recv_buffer: None, send_buffer: None }
    }
}

/// Thread-safe pool of RTP/RTCP pairs; clones share the same pool.
#[derive(Clone, Debug)]
pub struct PortPool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    config: PortPoolConfig,
    first: u16,
    last: u16,
    pairs: usize,
    /// Free RTP ports; freed ports go to the back so a port rests before it is reused.
    free: Mutex<VecDeque<u16>>,
    /// Released pairs kept open, oldest first.
    warm: Mutex<VecDeque<Warm>>,
    /// Most pairs kept warm.
    warm_cap: usize,
}

/// How long a released pair rests, open and watched, before a new call may use it.
pub const WARM_REST: Duration = Duration::from_millis(500);
/// A warm pair unused for this long is closed (its descriptors are not held forever).
const WARM_IDLE: Duration = Duration::from_secs(30);
/// At most this many pairs are kept warm (two descriptors each), and at most a quarter of
/// the range.
const WARM_MAX: usize = 4096;

/// A released pair kept open; its port is in neither `free` nor a lease. It holds no
/// reference to the pool (that would be a cycle: a dropped pool would keep its sockets open).
#[derive(Debug)]
struct Warm {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    port: u16,
    since: Instant,
    worker: Option<usize>,
}

/// How many rested warm pairs an allocation looks through for one of its worker's.
const WARM_SCAN: usize = 64;

/// A leased RTP/RTCP pair: two bound non-blocking sockets. Dropping it closes the sockets, then
/// gives the ports back.
#[derive(Debug)]
pub struct PortPair {
    // Field order matters: the sockets are dropped (closed) before the lease returns the ports.
    rtp: UdpSocket,
    rtcp: UdpSocket,
    ip: IpAddr,
    /// The relay worker whose epoll set holds both sockets, once one has added them.
    worker: Option<usize>,
    lease: Lease,
}

#[derive(Debug)]
struct Lease {
    /// `None` once the pair has been kept warm instead of freed.
    pool: Option<Arc<PoolInner>>,
    rtp_port: u16,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            lock(&pool.free).push_back(self.rtp_port);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave the queue half-updated: recover the data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PortPool {
    /// Build the pool; fails when the range holds no RTP/RTCP pair.
    pub fn new(config: PortPoolConfig) -> Result<Self, RelayError> {
        let (start, end) = (*config.ports.start(), *config.ports.end());
        let first = start.saturating_add(start % 2);
        let free: VecDeque<u16> =
            (u32::from(first)..u32::from(end)).step_by(2).filter_map(|p| u16::try_from(p).ok()).collect();
        if free.is_empty() {
            return Err(RelayError::EmptyRange { first: start, last: end });
        }
        let pairs = free.len();
        let warm_cap = (pairs / 4).min(WARM_MAX);
        let inner = PoolInner {
            first,
            last: end,
            pairs,
            free: Mutex::new(free),
            warm: Mutex::new(VecDeque::new()),
            warm_cap,
            config,
        };
        Ok(PortPool { inner: Arc::new(inner) })
    }

    /// Lease a pair: the first free even port whose pair binds. Ports that fail to bind are put
    /// back at the end of the queue and skipped.
    pub fn allocate(&self) -> Result<PortPair, RelayError> {
        self.allocate_for(None)
    }

    /// Lease a pair for relay worker `worker`: a warm pair only if no worker, or that one,
    /// watches it.
    pub fn allocate_for(&self, worker: Option<usize>) -> Result<PortPair, RelayError> {
        if let Some(pair) = self.take_warm(Instant::now(), worker) {
            return Ok(pair);
        }
        match self.bind_free() {
            // Descriptors may run short because warm pairs hold some: close those, try again.
            Err(RelayError::NoBindablePorts { .. }) if self.close_warm() => self.bind_free(),
            result => result,
        }
    }

    /// Binds the first free pair that binds.
    fn bind_free(&self) -> Result<PortPair, RelayError> {
        let pool = &self.inner;
        let mut free = lock(&pool.free);
        if free.is_empty() {
            return Err(RelayError::PortsExhausted {
                ip: pool.config.ip,
                first: pool.first,
                last: pool.last,
                pairs: pool.pairs,
            });
        }
        let mut last_err = None;
        for _ in 0..free.len() {
            let Some(port) = free.pop_front() else { break };
            match bind_pair(&pool.config, port) {
                Ok((rtp, rtcp)) => {
                    return Ok(self.leased(rtp, rtcp, port, None));
                }
                Err(e) => {
                    free.push_back(port);
                    last_err = Some(e);
                }
            }
        }
        let source = last_err.unwrap_or_else(|| io::Error::other("no free port"));
        Err(RelayError::NoBindablePorts { ip: pool.config.ip, source })
    }

    /// Pairs no call holds (free, or warm).
    pub fn available(&self) -> usize {
        lock(&self.inner.free).len() + lock(&self.inner.warm).len()
    }

    fn leased(&self, rtp: UdpSocket, rtcp: UdpSocket, port: u16, worker: Option<usize>) -> PortPair {
        let lease = Lease { pool: Some(Arc::clone(&self.inner)), rtp_port: port };
        PortPair { rtp, rtcp, ip: self.inner.config.ip, worker, lease }
    }

    /// The oldest warm pair that has rested, is `worker`'s (or no worker's), and received
    /// nothing meanwhile. Pairs that received something, and pairs idle too long, are closed
    /// on the way.
    fn take_warm(&self, now: Instant, worker: Option<usize>) -> Option<PortPair> {
        loop {
            let warm = {
                let mut warm = lock(&self.inner.warm);
                let rested = warm.iter().take(WARM_SCAN).take_while(|w| now.duration_since(w.since) >= WARM_REST);
                let mut found = None;
                for (i, w) in rested.enumerate() {
                    let stale = now.duration_since(w.since) >= WARM_IDLE;
                    if stale || w.worker.is_none() || w.worker == worker {
                        found = Some(i);
                        break;
                    }
                }
                warm.remove(found?)?
            };
            let fresh = now.duration_since(warm.since) < WARM_IDLE;
            if fresh && !drain(&warm.rtp) && !drain(&warm.rtcp) {
                return Some(self.leased(warm.rtp, warm.rtcp, warm.port, warm.worker));
            }
            retire(&self.inner, warm);
        }
    }

    /// Closes every warm pair; false when there was none.
    fn close_warm(&self) -> bool {
        let warm = std::mem::take(&mut *lock(&self.inner.warm));
        let any = !warm.is_empty();
        for w in warm {
            retire(&self.inner, w);
        }
        any
    }

    /// The address every pair binds to.
    pub fn ip(&self) -> IpAddr {
        self.inner.config.ip
    }

    /// Pairs the range holds in all.
    pub fn capacity(&self) -> usize {
        self.inner.pairs
    }
}

impl PortPair {
    /// The RTP socket (even port).
    pub fn rtp(&self) -> &UdpSocket {
        &self.rtp
    }

    /// The RTCP socket (RTP port + 1).
    pub fn rtcp(&self) -> &UdpSocket {
        &self.rtcp
    }

    /// The relay worker whose epoll set holds this pair's sockets.
    pub fn worker(&self) -> Option<usize> {
        self.worker
    }

    /// Records that `worker` added both sockets to its epoll set.
    pub fn set_worker(&mut self, worker: usize) {
        self.worker = Some(worker);
    }

    /// Local RTP address, for the SDP `c=`/`m=` lines.
    pub fn rtp_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.lease.rtp_port)
    }

    /// Local RTCP address.
    pub fn rtcp_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.lease.rtp_port + 1)
    }

    /// Hands the pair back after a call, kept open for a later call when the pool has room
    /// for it (dropping it instead closes the sockets and frees the ports).
    pub fn release(self) {
        let PortPair { rtp, rtcp, ip: _, worker, mut lease } = self;
        let Some(pool) = lease.pool.take() else { return };
        let warm = Warm { rtp, rtcp, port: lease.rtp_port, since: Instant::now(), worker };
        let mut kept = lock(&pool.warm);
        if kept.len() < pool.warm_cap {
            kept.push_back(warm);
        } else {
            drop(kept);
            retire(&pool, warm);
        }
    }
}

/// Closes a warm pair's sockets, then frees its port.
fn retire(pool: &PoolInner, warm: Warm) {
    let Warm { rtp, rtcp, port, .. } = warm;
    drop((rtp, rtcp));
    lock(&pool.free).push_back(port);
}

/// Reads and discards whatever waits on `socket`; true when something did.
fn drain(socket: &UdpSocket) -> bool {
    let mut buf = [0u8; 64]; // longer datagrams are truncated, which is all we want
    let mut any = false;
    while socket.recv(&mut buf).is_ok() {
        any = true;
    }
    any
}

fn bind_pair(config: &PortPoolConfig, rtp_port: u16) -> io::Result<(UdpSocket, UdpSocket)> {
    let rtp = bind_one(config, rtp_port)?;
    let rtcp = bind_one(config, rtp_port + 1)?;
    Ok((rtp, rtcp))
}

fn bind_one(config: &PortPoolConfig, port: u16) -> io::Result<UdpSocket> {
    let addr = SocketAddr::new(config.ip, port);
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Some(size) = config.recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    if let Some(size) = config.send_buffer {
        socket.set_send_buffer_size(size)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn pairs_are_even_rtp_and_next_rtcp() {
        let pool = PortPool::new(PortPoolConfig::new(LOCAL, 41001..=41010)).unwrap();
        assert_eq!(pool.capacity(), 4, "41002/3, 41004/5, 41006/7, 41008/9; 41010 has no RTCP port");
        let pair = pool.allocate().unwrap();
        assert_eq!(pair.rtp_addr().port() % 2, 0);
        assert_eq!(pair.rtcp_addr().port(), pair.rtp_addr().port() + 1);
        assert_eq!(pair.rtp().local_addr().unwrap(), pair.rtp_addr());
        assert_eq!(pair.rtcp().local_addr().unwrap(), pair.rtcp_addr());
    }

    #[test]
    fn guard_releases_ports_and_exhaustion_is_an_error() {
        let pool = PortPool::new(PortPoolConfig::new(LOCAL, 41020..=41023)).unwrap();
        let a = pool.allocate().unwrap();
        let b = pool.allocate().unwrap();
        assert_ne!(a.rtp_addr(), b.rtp_addr());
        assert_eq!(pool.available(), 0);
        let err = pool.allocate().unwrap_err();
        assert!(matches!(err, RelayError::PortsExhausted { pairs: 2, .. }), "{err}");
        assert!(err.to_string().contains("exhausted"));
        let freed = a.rtp_addr();
        drop(a);
        assert_eq!(pool.available(), 1);
        let c = pool.allocate().unwrap();
        assert_eq!(c.rtp_addr(), freed, "the released pair is usable again (its sockets were closed)");
    }

    #[test]
    fn ports_held_elsewhere_are_skipped() {
        let squatter = UdpSocket::bind((LOCAL, 41041)).unwrap(); // RTCP port of the first pair
        let pool = PortPool::new(PortPoolConfig::new(LOCAL, 41040..=41043)).unwrap();
        let pair = pool.allocate().unwrap();
        assert_eq!(pair.rtp_addr().port(), 41042);
        let err = pool.allocate().unwrap_err();
        assert!(matches!(err, RelayError::NoBindablePorts { .. }), "{err}");
        drop(squatter);
        assert_eq!(pool.allocate().unwrap().rtp_addr().port(), 41040, "skipped port is retried later");
    }

    #[test]
    fn a_released_pair_is_reused_warm_after_resting_quietly() {
        let pool = PortPool::new(PortPoolConfig::new(LOCAL, 41100..=41115)).unwrap(); // 8 pairs, 2 warm
        let pair = pool.allocate().unwrap();
        let port = pair.rtp_addr().port();
        pair.release();
        assert_eq!(pool.available(), 8, "a warm pair counts as available");
        let now = Instant::now();
        assert!(pool.take_warm(now, None).is_none(), "not before it has rested");
        let again = pool.take_warm(now + WARM_REST, None).expect("rested and quiet");
        assert_eq!(again.rtp_addr().port(), port);
        assert_eq!(again.rtp().local_addr().unwrap().port(), port, "the same open socket");
    }

    #[test]
    fn a_warm_pair_goes_back_only_to_the_worker_that_watches_it() {
        let pool = PortPool::new(PortPoolConfig::new(LOCAL, 41180..=41195)).unwrap();
        let mut pair = pool.allocate_for(Some(0)).unwrap();
        assert_eq!(pair.worker(), None, "a fresh pair is in no epoll set yet");
        pair.set_worker(0);
        let port = pair.rtp_addr().port();
        pair.release();
        let later = Instant::now() + WARM_REST;
        assert!(pool.take_warm(later, Some(1)).is_none(), "worker 1 never gets worker 0's pair");
        assert!(pool.take_warm(later, None).is_none());
        let again = pool.take_warm(later, Some(0)).expect("worker 0 gets it back");
        assert_eq!((again.rtp_addr().port(), again.worker()), (port, Some(0)));
    }

    #[test]
    fn a_pair_that_receives_while_resting_is_closed_not_reused() {
        let pool = PortPool::new(PortPoolConfig::new(LOCAL, 41120..=41135)).unwrap();
        let pair = pool.allocate().unwrap();
        let (rtp, port) = (pair.rtp_addr(), pair.rtp_addr().port());
        pair.release();
        // The last call's peer is still sending (its BYE was lost, say).
        let peer = UdpSocket::bind((LOCAL, 0)).unwrap();
        peer.send_to(&[0x80; 172], rtp).unwrap();
        std::thread::sleep(Duration::from_millis(20)); // loopback delivery
        assert!(pool.take_warm(Instant::now() + WARM_REST, None).is_none(), "the stream disqualifies it");
        assert_eq!(pool.available(), 8);
        let next = pool.allocate().unwrap();
        assert_ne!(next.rtp_addr().port(), port, "its port went to the back of the queue, closed");
        assert!(UdpSocket::bind(rtp).is_ok(), "its socket is closed");
    }

    #[test]
    fn warm_pairs_are_bounded_and_the_rest_are_closed() {
        let pool = PortPool::new(PortPoolConfig::new(LOCAL, 41140..=41155)).unwrap(); // room for 2 warm
        let pairs: Vec<PortPair> = (0..3).map(|_| pool.allocate().unwrap()).collect();
        let third = pairs[2].rtp_addr();
        for p in pairs {
            p.release();
        }
        assert_eq!(lock(&pool.inner.warm).len(), 2);
        assert!(UdpSocket::bind(third).is_ok(), "the third was closed");
        assert_eq!(pool.available(), 8);
    }

    #[test]
    fn dropping_the_pool_closes_its_warm_pairs() {
        let pool = PortPool::new(PortPoolConfig::new(LOCAL, 41160..=41175)).unwrap();
        let pair = pool.allocate().unwrap();
        let rtp = pair.rtp_addr();
        pair.release();
        drop(pool);
        assert!(UdpSocket::bind(rtp).is_ok(), "no reference cycle keeps the warm socket open");
    }

    #[test]
    fn empty_range_is_rejected() {
        let err = PortPool::new(PortPoolConfig::new(LOCAL, 41051..=41052)).unwrap_err();
        assert!(matches!(err, RelayError::EmptyRange { .. }), "{err}");
    }
}
