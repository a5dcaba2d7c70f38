//! Symmetric RTP latching with a guard against injected packets, as a sans-IO state machine.
//!
//! Exists because the address in a peer's SDP is often wrong behind NAT: the relay sends to
//! wherever the peer's media really comes from. A latch window opens at session start, on a
//! remote update (re-INVITE) and on request (unhold). While it is open, a packet that looks
//! like the negotiated stream may (re)latch the leg; once it closes, only the latched source
//! is accepted and everything else is dropped and counted. It must never latch outside the
//! window, and never latch to a packet that fails the checks below.
//!
//! Rules for a packet from `src` (the header is already known to be RTP version 2):
//! 1. `src` is the latched source: accept.
//! 2. The window is closed: drop as foreign.
//! 3. The payload type is not negotiated: drop as bad PT (never latches).
//! 4. `src` is the SDP address: latch (the signalled address always wins inside the window).
//! 5. An SSRC was learned and the packet carries another one: drop as foreign.
//! 6. Otherwise latch to `src`.
//!
//! The window closes when the leg is latched and either the window time has passed or the
//! window's packet budget is used up. It stays open until a first latch, so a peer that starts
//! sending late is still found; the SSRC and SDP-address rules keep that safe enough.
//! RTCP uses the same machine without PT/SSRC checks, but while the RTP side is latched the
//! RTCP source must come from the same IP.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::media::relay::rtp::{PtSet, RtpHeader};

/// How long and for how many packets a latch window stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatchPolicy {
    /// Time the window stays open after it opens, e.g. 3 s.
    pub window: Duration,
    /// Packets accepted in the window after which it closes early, e.g. 50.
    pub window_packets: u32,
    /// Learn the SSRC of the latched stream and refuse other SSRCs from new sources.
    pub learn_ssrc: bool,
}

impl Default for LatchPolicy {
    fn default() -> Self {
        LatchPolicy { window: Duration::from_secs(3), window_packets: 50, learn_ssrc: true }
    }
}

/// What to do with a received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Relay it; `relatched` tells that it moved the leg's target.
    Accept { relatched: bool },
    /// From a source other than the latched one: drop.
    Foreign,
    /// Payload type not negotiated while looking for a source: drop.
    BadPt,
}

/// Latch state of one socket of one leg.
#[derive(Debug, Clone)]
pub struct Latch {
    policy: LatchPolicy,
    expected: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    ssrc: Option<u32>,
    opened_at: Instant,
    accepted_in_window: u32,
    open: bool,
}

impl Latch {
    /// A latch with an open window that sends to `expected` until a packet latches it.
    pub fn new(policy: LatchPolicy, expected: Option<SocketAddr>, now: Instant) -> Self {
        Latch { policy, expected, latched: None, ssrc: None, opened_at: now, accepted_in_window: 0, open: true }
    }

    /// Where packets for this leg go: the latched source, else the SDP address.
    pub fn target(&self) -> Option<SocketAddr> {
        self.latched.or(self.expected)
    }

    /// The latched source, if any.
    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched
    }

    /// Whether the window is open at `now` (closing it if its time or budget is spent).
    pub fn is_open(&mut self, now: Instant) -> bool {
        if self.open
            && self.latched.is_some()
            && (now.saturating_duration_since(self.opened_at) >= self.policy.window
                || self.accepted_in_window >= self.policy.window_packets)
        {
            self.open = false;
        }
        self.open
    }

    /// Open the window again (unhold, re-INVITE with the same address). The current latch
    /// stays until a packet re-latches; the learned SSRC is forgotten (the peer may restart).
    pub fn reopen(&mut self, now: Instant) {
        self.open = true;
        self.opened_at = now;
        self.accepted_in_window = 0;
        self.ssrc = None;
    }

    /// New SDP address (re-INVITE): send there until a packet latches, and reopen the window.
    pub fn set_expected(&mut self, expected: Option<SocketAddr>, now: Instant) {
        self.expected = expected;
        self.latched = None;
        self.reopen(now);
    }

    /// Judge an RTP packet with header `h` from `src`.
    pub fn check_rtp(&mut self, src: SocketAddr, h: &RtpHeader, pts: PtSet, now: Instant) -> Verdict {
        if self.latched == Some(src) {
            self.accept_from_latched(Some(h.ssrc));
            return Verdict::Accept { relatched: false };
        }
        if !self.is_open(now) {
            return Verdict::Foreign;
        }
        if !pts.allows(h.pt) {
            return Verdict::BadPt;
        }
        let from_sdp_address = self.expected == Some(src);
        if !from_sdp_address && self.ssrc.is_some_and(|s| s != h.ssrc) {
            return Verdict::Foreign;
        }
        self.latch(src, Some(h.ssrc));
        Verdict::Accept { relatched: true }
    }

    /// Judge an RTCP packet from `src`; `rtp_ip` is the IP the leg's RTP side is latched to.
    pub fn check_rtcp(&mut self, src: SocketAddr, rtp_ip: Option<IpAddr>, now: Instant) -> Verdict {
        if self.latched == Some(src) {
            self.accept_from_latched(None);
            return Verdict::Accept { relatched: false };
        }
        if !self.is_open(now) || rtp_ip.is_some_and(|ip| ip != src.ip()) {
            return Verdict::Foreign;
        }
        self.latch(src, None);
        Verdict::Accept { relatched: true }
    }

    fn accept_from_latched(&mut self, ssrc: Option<u32>) {
        if self.open {
            self.accepted_in_window = self.accepted_in_window.saturating_add(1);
        }
        if self.policy.learn_ssrc && ssrc.is_some() {
            self.ssrc = ssrc; // follow the latched peer if it restarts its stream
        }
    }

    fn latch(&mut self, src: SocketAddr, ssrc: Option<u32>) {
        self.latched = Some(src);
        self.accepted_in_window = self.accepted_in_window.saturating_add(1);
        if self.policy.learn_ssrc && ssrc.is_some() {
            self.ssrc = ssrc;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn hdr(pt: u8, ssrc: u32) -> RtpHeader {
        RtpHeader { pt, seq: 1, ts: 0, ssrc }
    }

    const PCMU: PtSet = PtSet::ANY;
    fn pcmu_only() -> PtSet {
        PtSet::of(&[0, 101])
    }

    #[test]
    fn latches_to_real_source_behind_nat() {
        let t0 = Instant::now();
        let mut l = Latch::new(LatchPolicy::default(), Some(addr(5000)), t0);
        assert_eq!(l.target(), Some(addr(5000)));
        assert_eq!(l.check_rtp(addr(6000), &hdr(0, 7), PCMU, t0), Verdict::Accept { relatched: true });
        assert_eq!(l.target(), Some(addr(6000)));
        assert_eq!(l.check_rtp(addr(6000), &hdr(0, 7), PCMU, t0), Verdict::Accept { relatched: false });
    }

    #[test]
    fn wrong_pt_never_latches() {
        let t0 = Instant::now();
        let mut l = Latch::new(LatchPolicy::default(), Some(addr(5000)), t0);
        assert_eq!(l.check_rtp(addr(6000), &hdr(8, 7), pcmu_only(), t0), Verdict::BadPt);
        assert_eq!(l.latched(), None);
        assert_eq!(l.target(), Some(addr(5000)));
        assert_eq!(l.check_rtp(addr(6000), &hdr(0, 7), pcmu_only(), t0), Verdict::Accept { relatched: true });
    }

    #[test]
    fn foreign_source_dropped_after_window() {
        let t0 = Instant::now();
        let mut l = Latch::new(LatchPolicy::default(), None, t0);
        l.check_rtp(addr(6000), &hdr(0, 7), PCMU, t0);
        let later = t0 + Duration::from_secs(4);
        assert_eq!(l.check_rtp(addr(6666), &hdr(0, 7), PCMU, later), Verdict::Foreign, "same SSRC is not enough");
        assert_eq!(l.check_rtp(addr(6000), &hdr(0, 7), PCMU, later), Verdict::Accept { relatched: false });
        assert_eq!(l.target(), Some(addr(6000)));
    }

    #[test]
    fn window_closes_after_packet_budget() {
        let t0 = Instant::now();
        let policy = LatchPolicy { window_packets: 3, ..LatchPolicy::default() };
        let mut l = Latch::new(policy, None, t0);
        for _ in 0..3 {
            l.check_rtp(addr(6000), &hdr(0, 7), PCMU, t0);
        }
        assert_eq!(l.check_rtp(addr(6001), &hdr(0, 7), PCMU, t0), Verdict::Foreign);
    }

    #[test]
    fn in_window_other_ssrc_is_foreign_but_sdp_address_wins() {
        let t0 = Instant::now();
        let mut l = Latch::new(LatchPolicy::default(), Some(addr(5000)), t0);
        l.check_rtp(addr(6000), &hdr(0, 7), PCMU, t0);
        assert_eq!(l.check_rtp(addr(6666), &hdr(0, 9), PCMU, t0), Verdict::Foreign, "injector with another SSRC");
        assert_eq!(l.check_rtp(addr(6001), &hdr(0, 7), PCMU, t0), Verdict::Accept { relatched: true }, "NAT rebind");
        assert_eq!(l.check_rtp(addr(5000), &hdr(0, 9), PCMU, t0), Verdict::Accept { relatched: true });
        assert_eq!(l.target(), Some(addr(5000)));
    }

    #[test]
    fn window_stays_open_until_first_latch() {
        let t0 = Instant::now();
        let mut l = Latch::new(LatchPolicy::default(), Some(addr(5000)), t0);
        let late = t0 + Duration::from_secs(30);
        assert_eq!(l.check_rtp(addr(6000), &hdr(0, 7), PCMU, late), Verdict::Accept { relatched: true });
    }

    #[test]
    fn reopen_allows_a_new_source() {
        let t0 = Instant::now();
        let mut l = Latch::new(LatchPolicy::default(), None, t0);
        l.check_rtp(addr(6000), &hdr(0, 7), PCMU, t0);
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(l.check_rtp(addr(7000), &hdr(0, 8), PCMU, t1), Verdict::Foreign);
        l.reopen(t1);
        assert_eq!(l.target(), Some(addr(6000)), "old latch kept until a packet re-latches");
        assert_eq!(l.check_rtp(addr(7000), &hdr(0, 8), PCMU, t1), Verdict::Accept { relatched: true });
        assert_eq!(l.check_rtp(addr(6000), &hdr(0, 7), PCMU, t1 + Duration::from_secs(5)), Verdict::Foreign);
    }

    #[test]
    fn new_sdp_address_drops_old_latch() {
        let t0 = Instant::now();
        let mut l = Latch::new(LatchPolicy::default(), Some(addr(5000)), t0);
        l.check_rtp(addr(6000), &hdr(0, 7), PCMU, t0);
        l.set_expected(Some(addr(5100)), t0);
        assert_eq!(l.target(), Some(addr(5100)));
    }

    #[test]
    fn rtcp_must_come_from_rtp_ip() {
        let t0 = Instant::now();
        let mut l = Latch::new(LatchPolicy::default(), None, t0);
        let other = SocketAddr::from(([127, 0, 0, 2], 6001));
        assert_eq!(l.check_rtcp(other, Some(addr(0).ip()), t0), Verdict::Foreign);
        assert_eq!(l.check_rtcp(addr(6001), Some(addr(0).ip()), t0), Verdict::Accept { relatched: true });
        assert_eq!(l.target(), Some(addr(6001)));
    }
}
