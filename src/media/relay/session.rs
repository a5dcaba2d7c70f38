//! The sans-IO core of one relayed session: two legs, each with RTP and RTCP latches, receive
//! statistics, a negotiated payload-type set and an optional PT rewrite.
//!
//! Exists so every per-packet decision (accept, drop, rewrite, where to send) and the
//! inactivity rule can be tested without sockets or sleeps; the worker only moves bytes. It
//! must never do I/O, allocate per packet, or read the clock itself: `now` comes in.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::media::relay::kernel::Forward;
use crate::media::relay::latch::{Latch, LatchPolicy, Verdict};
use crate::media::relay::rtp::{self, PtMap, PtSet};
use crate::media::relay::stats::{LegCounters, RecvStats, SessionStats, bump};

/// One side of a relayed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leg {
    A,
    B,
}

impl Leg {
    pub(crate) fn index(self) -> usize {
        match self {
            Leg::A => 0,
            Leg::B => 1,
        }
    }

    /// The leg packets received on `self` are sent to.
    pub fn other(self) -> Leg {
        match self {
            Leg::A => Leg::B,
            Leg::B => Leg::A,
        }
    }
}

/// RTP or RTCP socket of a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    Rtp,
    Rtcp,
}

/// Media parameters of one leg, from its SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegConfig {
    /// The peer's RTP address from SDP, e.g. `192.0.2.10:4000`; `None` until known.
    pub remote_rtp: Option<SocketAddr>,
    /// The peer's RTCP address (`a=rtcp`); `None` means RTP port + 1.
    pub remote_rtcp: Option<SocketAddr>,
    /// Negotiated payload types, e.g. `[0, 101]`; a source can only latch with one of these.
    /// Empty accepts any.
    pub payload_types: Vec<u8>,
    /// RTP clock rate of the codec, e.g. 8000 for G.711; used for jitter.
    pub clock_rate: u32,
    /// PT rewrite for RTP sent *to* this leg's peer, e.g. `[(96, 101)]` when the other leg
    /// calls telephone-event 96 and this one 101.
    pub pt_rewrite: Vec<(u8, u8)>,
}

impl LegConfig {
    /// A G.711 leg (clock 8000, any PT, no rewrite) towards `remote_rtp`.
    pub fn new(remote_rtp: Option<SocketAddr>) -> Self {
        LegConfig { remote_rtp, remote_rtcp: None, payload_types: Vec::new(), clock_rate: 8000, pt_rewrite: Vec::new() }
    }

    pub(crate) fn rtcp_target(&self) -> Option<SocketAddr> {
        self.remote_rtcp.or_else(|| {
            let rtp = self.remote_rtp?;
            Some(SocketAddr::new(rtp.ip(), rtp.port().checked_add(1)?))
        })
    }
}

/// State shared between a session's worker and its handle.
#[derive(Debug)]
pub(crate) struct SessionShared {
    pub legs: [LegCounters; 2],
    pub clock_rates: [u32; 2],
    pub on_hold: AtomicBool,
    pub origin: Instant,
}

impl SessionShared {
    pub(crate) fn new(a: &LegConfig, b: &LegConfig, origin: Instant) -> Self {
        SessionShared {
            legs: [LegCounters::default(), LegCounters::default()],
            clock_rates: [a.clock_rate, b.clock_rate],
            on_hold: AtomicBool::new(false),
            origin,
        }
    }

    pub(crate) fn snapshot(&self) -> SessionStats {
        SessionStats {
            a: self.legs[0].snapshot(self.origin, self.clock_rates[0]),
            b: self.legs[1].snapshot(self.origin, self.clock_rates[1]),
            on_hold: self.on_hold.load(Relaxed),
        }
    }
}

#[derive(Debug)]
struct LegCore {
    rtp: Latch,
    rtcp: Latch,
    recv: RecvStats,
    pts: PtSet,
    /// Applied to RTP sent to this leg; `None` when it would change nothing.
    pt_out: Option<PtMap>,
}

impl LegCore {
    fn new(cfg: &LegConfig, policy: LatchPolicy, now: Instant) -> Self {
        let map = PtMap::from_pairs(&cfg.pt_rewrite);
        LegCore {
            rtp: Latch::new(policy, cfg.remote_rtp, now),
            rtcp: Latch::new(policy, cfg.rtcp_target(), now),
            recv: RecvStats::new(cfg.clock_rate),
            pts: PtSet::of(&cfg.payload_types),
            pt_out: (!map.is_identity()).then_some(map),
        }
    }
}

/// Per-packet and per-tick logic of a session.
#[derive(Debug)]
pub(crate) struct SessionCore {
    legs: [LegCore; 2],
    shared: Arc<SessionShared>,
    hold: bool,
    /// Last RTP accepted on either leg, or the last (un)hold / remote change.
    last_activity: Instant,
    inactive_reported: bool,
}

impl SessionCore {
    pub(crate) fn new(
        a: &LegConfig,
        b: &LegConfig,
        policy: LatchPolicy,
        shared: Arc<SessionShared>,
        now: Instant,
    ) -> Self {
        SessionCore {
            legs: [LegCore::new(a, policy, now), LegCore::new(b, policy, now)],
            shared,
            hold: false,
            last_activity: now,
            inactive_reported: false,
        }
    }

    /// Judge and account a packet received on `leg`'s `ch` socket; on `true` the caller sends
    /// `pkt` (possibly rewritten) to [`target`](Self::target)`(leg.other(), ch)`.
    pub(crate) fn on_packet(&mut self, leg: Leg, ch: Channel, src: SocketAddr, pkt: &mut [u8], now: Instant) -> bool {
        let counters = &self.shared.legs[leg.index()];
        let (this, other) = split(&mut self.legs, leg);
        let verdict = match ch {
            Channel::Rtp => match rtp::parse_rtp(pkt) {
                None => None,
                Some(h) => {
                    let v = this.rtp.check_rtp(src, &h, this.pts, now);
                    if matches!(v, Verdict::Accept { .. }) {
                        this.recv.on_packet(&h, now.saturating_duration_since(self.shared.origin));
                        counters.record_rtp(pkt.len(), &this.recv, now.saturating_duration_since(self.shared.origin));
                        self.last_activity = now;
                        self.inactive_reported = false;
                        if let Some(map) = &other.pt_out {
                            map.apply(pkt);
                        }
                    }
                    Some(v)
                }
            },
            Channel::Rtcp if rtp::is_rtcp(pkt) => {
                let rtp_ip = this.rtp.latched().map(|a| a.ip());
                let v = this.rtcp.check_rtcp(src, rtp_ip, now);
                if matches!(v, Verdict::Accept { .. }) {
                    bump(&counters.rtcp_in, 1);
                    if let Some(block) = rtp::first_report_block(pkt) {
                        counters.record_report(&block, now.saturating_duration_since(self.shared.origin));
                    }
                }
                Some(v)
            }
            Channel::Rtcp => None,
        };
        match verdict {
            Some(Verdict::Accept { relatched }) => {
                if relatched && ch == Channel::Rtp {
                    *counters.latched_rtp.lock().unwrap_or_else(|e| e.into_inner()) = Some(src);
                }
                true
            }
            Some(Verdict::Foreign) => {
                bump(&counters.dropped_foreign, 1);
                false
            }
            Some(Verdict::BadPt) => {
                bump(&counters.dropped_bad_pt, 1);
                false
            }
            None => {
                bump(&counters.dropped_malformed, 1);
                false
            }
        }
    }

    /// A datagram on `leg` that could not be read whole (truncated or unknown address family).
    pub(crate) fn on_unreadable(&self, leg: Leg) {
        bump(&self.shared.legs[leg.index()].dropped_malformed, 1);
    }

    /// Where packets for `leg`'s `ch` go now.
    pub(crate) fn target(&self, leg: Leg, ch: Channel) -> Option<SocketAddr> {
        let l = &self.legs[leg.index()];
        match ch {
            Channel::Rtp => l.rtp.target(),
            Channel::Rtcp => l.rtcp.target(),
        }
    }

    /// Account packets sent to `leg` (`refused` the kernel did not take).
    pub(crate) fn on_sent(&self, leg: Leg, ch: Channel, packets: usize, bytes: usize, refused: usize) {
        let c = &self.shared.legs[leg.index()];
        match ch {
            Channel::Rtp => {
                bump(&c.rtp_out, packets as u64);
                bump(&c.rtp_out_bytes, bytes as u64);
            }
            Channel::Rtcp => bump(&c.rtcp_out, packets as u64),
        }
        if refused > 0 {
            bump(&c.dropped_send, refused as u64);
        }
    }

    /// Packets for `leg` dropped because it has no remote address yet.
    pub(crate) fn on_no_target(&self, leg: Leg, packets: usize) {
        bump(&self.shared.legs[leg.index()].dropped_no_remote, packets as u64);
    }

    /// New SDP address for `leg` (re-INVITE); reopens its latch windows.
    pub(crate) fn update_remote(&mut self, leg: Leg, rtp: Option<SocketAddr>, rtcp: Option<SocketAddr>, now: Instant) {
        let cfg = LegConfig { remote_rtp: rtp, remote_rtcp: rtcp, ..LegConfig::new(None) };
        let l = &mut self.legs[leg.index()];
        l.rtp.set_expected(rtp, now);
        l.rtcp.set_expected(cfg.rtcp_target(), now);
        *self.shared.legs[leg.index()].latched_rtp.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.touch(now);
    }

    /// Reopen every latch window (unhold, re-INVITE without address change).
    pub(crate) fn reopen_latch(&mut self, now: Instant) {
        for l in &mut self.legs {
            l.rtp.reopen(now);
            l.rtcp.reopen(now);
        }
    }

    /// Hold stops the inactivity clock; unhold restarts it from `now` and reopens the latches.
    pub(crate) fn set_hold(&mut self, hold: bool, now: Instant) {
        if self.hold && !hold {
            self.reopen_latch(now);
        }
        self.hold = hold;
        self.touch(now);
    }

    fn touch(&mut self, now: Instant) {
        self.last_activity = now;
        self.inactive_reported = false;
    }

    /// The two directions the kernel may forward, once both RTP legs are latched for good
    /// (windows closed), over IPv4, not on hold, with no payload type rewritten; `ports` are
    /// our RTP ports of legs A and B.
    pub(crate) fn kernel_forwards(&mut self, ports: [u16; 2], now: Instant) -> Option<[Forward; 2]> {
        if self.hold {
            return None;
        }
        let mut peers = [None; 2];
        for (peer, leg) in peers.iter_mut().zip(&mut self.legs) {
            if leg.pt_out.is_some() || leg.rtp.is_open(now) {
                return None;
            }
            let Some(SocketAddr::V4(latched)) = leg.rtp.latched() else { return None };
            *peer = Some(latched);
        }
        let [Some(a), Some(b)] = peers else { return None };
        Some([
            Forward { peer: a, port: ports[0], out_port: ports[1], to: b },
            Forward { peer: b, port: ports[1], out_port: ports[0], to: a },
        ])
    }

    /// RTP the kernel forwarded from `leg`'s peer since the last count (`ip_bytes` counts
    /// IPv4 and UDP headers, 28 bytes a packet).
    pub(crate) fn on_kernel_forwarded(&mut self, leg: Leg, packets: u64, ip_bytes: u64, now: Instant) {
        if packets == 0 {
            return;
        }
        let bytes = ip_bytes.saturating_sub(packets * 28);
        let since = now.saturating_duration_since(self.shared.origin);
        self.shared.legs[leg.index()].record_kernel_rtp(packets, bytes, since);
        let to = &self.shared.legs[leg.other().index()];
        bump(&to.rtp_out, packets);
        bump(&to.rtp_out_bytes, bytes);
        self.touch(now);
    }

    /// `Some(idle time)` once when no RTP arrived on either leg for `timeout` and the session
    /// is not on hold; again only after RTP resumed and stopped again.
    pub(crate) fn poll_inactive(&mut self, now: Instant, timeout: Duration) -> Option<Duration> {
        let idle = now.saturating_duration_since(self.last_activity);
        if self.hold || self.inactive_reported || idle < timeout {
            return None;
        }
        self.inactive_reported = true;
        Some(idle)
    }
}

fn split(legs: &mut [LegCore; 2], leg: Leg) -> (&mut LegCore, &mut LegCore) {
    let [a, b] = legs;
    match leg {
        Leg::A => (a, b),
        Leg::B => (b, a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::relay::rtp::tests::{rtcp_rr, rtp_packet};

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn core(a: LegConfig, b: LegConfig, now: Instant) -> SessionCore {
        let shared = Arc::new(SessionShared::new(&a, &b, now));
        SessionCore::new(&a, &b, LatchPolicy::default(), shared, now)
    }

    #[test]
    fn pt_rewrite_per_direction() {
        let t0 = Instant::now();
        let a =
            LegConfig { payload_types: vec![0, 96], pt_rewrite: vec![(101, 96)], ..LegConfig::new(Some(addr(5000))) };
        let b =
            LegConfig { payload_types: vec![0, 101], pt_rewrite: vec![(96, 101)], ..LegConfig::new(Some(addr(6000))) };
        let mut s = core(a, b, t0);
        let mut from_a = rtp_packet(96, 1, 0, 1, 4);
        assert!(s.on_packet(Leg::A, Channel::Rtp, addr(5000), &mut from_a, t0));
        assert_eq!(from_a[1], 101, "A's 96 becomes B's 101");
        let mut from_b = rtp_packet(101, 1, 0, 2, 4);
        assert!(s.on_packet(Leg::B, Channel::Rtp, addr(6000), &mut from_b, t0));
        assert_eq!(from_b[1], 96);
        let mut pcmu = rtp_packet(0, 2, 160, 2, 4);
        assert!(s.on_packet(Leg::B, Channel::Rtp, addr(6000), &mut pcmu, t0));
        assert_eq!(pcmu[1], 0, "unmapped PT unchanged");
    }

    #[test]
    fn drops_are_counted_by_kind() {
        let t0 = Instant::now();
        let a = LegConfig { payload_types: vec![0], ..LegConfig::new(Some(addr(5000))) };
        let mut s = core(a, LegConfig::new(None), t0);
        assert!(!s.on_packet(Leg::A, Channel::Rtp, addr(5000), &mut [0x40; 20], t0), "version 1");
        assert!(!s.on_packet(Leg::A, Channel::Rtp, addr(5000), &mut rtp_packet(8, 1, 0, 1, 4), t0), "PCMA");
        assert!(s.on_packet(Leg::A, Channel::Rtp, addr(5000), &mut rtp_packet(0, 1, 0, 1, 4), t0));
        let late = t0 + Duration::from_secs(5);
        assert!(!s.on_packet(Leg::A, Channel::Rtp, addr(5999), &mut rtp_packet(0, 2, 0, 1, 4), late));
        assert!(!s.on_packet(Leg::A, Channel::Rtcp, addr(5001), &mut [0x80; 4], late), "short RTCP");
        let st = s.shared.snapshot();
        assert_eq!(
            (st.a.dropped_malformed, st.a.dropped_bad_pt, st.a.dropped_foreign, st.a.rtp_packets_in),
            (2, 1, 1, 1)
        );
        assert_eq!(st.a.latched_rtp, Some(addr(5000)));
        assert_eq!(s.target(Leg::B, Channel::Rtp), None);
        s.on_no_target(Leg::B, 1);
        assert_eq!(s.shared.snapshot().b.dropped_no_remote, 1);
    }

    #[test]
    fn rtcp_reports_are_read_and_relayed() {
        let t0 = Instant::now();
        let mut s = core(LegConfig::new(Some(addr(5000))), LegConfig::new(Some(addr(6000))), t0);
        assert_eq!(s.target(Leg::B, Channel::Rtcp), Some(addr(6001)), "RTCP defaults to RTP port + 1");
        assert!(s.on_packet(Leg::A, Channel::Rtcp, addr(5001), &mut rtcp_rr(9, 12, 4, 80), t0));
        let rep = s.shared.snapshot().a.peer_report.unwrap();
        assert_eq!((rep.fraction_lost, rep.cumulative_lost, rep.jitter_ts), (12, 4, 80));
        assert_eq!(rep.jitter, Duration::from_millis(10));
        assert_eq!(s.shared.snapshot().a.rtcp_packets_in, 1);
    }

    #[test]
    fn inactivity_reported_once_and_not_on_hold() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(60);
        let mut s = core(LegConfig::new(Some(addr(5000))), LegConfig::new(Some(addr(6000))), t0);
        assert_eq!(s.poll_inactive(t0 + Duration::from_secs(59), timeout), None);
        assert_eq!(s.poll_inactive(t0 + timeout, timeout), Some(timeout));
        assert_eq!(s.poll_inactive(t0 + Duration::from_secs(90), timeout), None, "reported once");
        let t1 = t0 + Duration::from_secs(100);
        assert!(s.on_packet(Leg::B, Channel::Rtp, addr(6000), &mut rtp_packet(0, 1, 0, 1, 4), t1));
        s.set_hold(true, t1);
        assert_eq!(s.poll_inactive(t1 + Duration::from_secs(600), timeout), None, "on hold");
        let t2 = t1 + Duration::from_secs(600);
        s.set_hold(false, t2);
        assert_eq!(s.poll_inactive(t2 + Duration::from_secs(59), timeout), None, "clock restarts at unhold");
        assert!(s.poll_inactive(t2 + timeout, timeout).is_some());
    }

    #[test]
    fn update_remote_moves_target_and_forgets_latch() {
        let t0 = Instant::now();
        let mut s = core(LegConfig::new(Some(addr(5000))), LegConfig::new(None), t0);
        s.on_packet(Leg::A, Channel::Rtp, addr(5500), &mut rtp_packet(0, 1, 0, 1, 4), t0);
        assert_eq!(s.target(Leg::A, Channel::Rtp), Some(addr(5500)));
        s.update_remote(Leg::A, Some(addr(7000)), Some(addr(7100)), t0 + Duration::from_secs(10));
        assert_eq!(s.target(Leg::A, Channel::Rtp), Some(addr(7000)));
        assert_eq!(s.target(Leg::A, Channel::Rtcp), Some(addr(7100)));
        assert_eq!(s.shared.snapshot().a.latched_rtp, None);
    }
}
