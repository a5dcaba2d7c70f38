//! Per-leg media statistics: the receive-side estimators (RFC 3550 A.1 sequence/loss and A.8
//! interarrival jitter) and the atomic counters that other threads read.
//!
//! Exists so the call layer, CDRs and the API can show quality without touching the worker
//! thread. The worker is the only writer of a leg's counters ([`bump`] is a load+store, not a
//! locked add); readers may see a snapshot that is a few packets old, never a torn value. This
//! module must never allocate or lock on the per-packet path.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::media::relay::rtp::{ReportBlock, RtpHeader};

/// Sequence-number and jitter tracking for the RTP stream received on one leg.
#[derive(Debug, Clone)]
pub struct RecvStats {
    clock_rate: u32,
    ssrc: Option<u32>,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    received: u64,
    last_transit: Option<u32>,
    /// Jitter scaled by 16, as in RFC 3550 A.8.
    jitter_q4: u32,
}

/// Largest forward sequence jump still taken as loss rather than a reordering or restart.
const MAX_DROPOUT: u16 = 3000;

impl RecvStats {
    /// Tracker for a stream with the given RTP clock rate (8000 for G.711).
    pub fn new(clock_rate: u32) -> Self {
        RecvStats {
            clock_rate: clock_rate.max(1),
            ssrc: None,
            base_seq: 0,
            max_seq: 0,
            cycles: 0,
            received: 0,
            last_transit: None,
            jitter_q4: 0,
        }
    }

    /// Account one packet; `arrival` is its arrival time on any fixed monotonic origin.
    pub fn on_packet(&mut self, h: &RtpHeader, arrival: Duration) {
        if self.ssrc != Some(h.ssrc) {
            *self = RecvStats::new(self.clock_rate);
            self.ssrc = Some(h.ssrc);
            self.base_seq = u32::from(h.seq);
            self.max_seq = h.seq;
        } else {
            let delta = h.seq.wrapping_sub(self.max_seq);
            if delta != 0 && delta < MAX_DROPOUT {
                if h.seq < self.max_seq {
                    self.cycles = self.cycles.wrapping_add(1 << 16);
                }
                self.max_seq = h.seq;
            }
            // Larger jumps are late, duplicate or a restart: counted as received, max kept.
        }
        self.received += 1;

        // Arrival in timestamp units; u32 wrapping arithmetic matches RTP timestamps.
        let units = (arrival.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000) as u32;
        let transit = units.wrapping_sub(h.ts);
        if let Some(last) = self.last_transit {
            let d = (transit.wrapping_sub(last) as i32).unsigned_abs();
            // J += (|D| - J) / 16 in Q4 fixed point.
            self.jitter_q4 = self.jitter_q4.wrapping_add(d).wrapping_sub((self.jitter_q4 + 8) >> 4);
        }
        self.last_transit = Some(transit);
    }

    /// Packets expected from the sequence numbers (extended highest - base + 1).
    pub fn expected(&self) -> u64 {
        if self.ssrc.is_none() {
            return 0;
        }
        let ext_max = u64::from(self.cycles) + u64::from(self.max_seq);
        ext_max + 1 - u64::from(self.base_seq)
    }

    /// Packets received since the stream (SSRC) started.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Expected minus received; negative with duplicates.
    pub fn lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        self.jitter_q4 >> 4
    }
}

/// Single-writer increment: the worker thread owns every counter it bumps.
pub(crate) fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(by), Relaxed);
}

/// Counters of one leg, written by its worker and read by anyone.
#[derive(Debug, Default)]
pub(crate) struct LegCounters {
    pub rtp_in: AtomicU64,
    pub rtp_in_bytes: AtomicU64,
    pub rtp_out: AtomicU64,
    pub rtp_out_bytes: AtomicU64,
    pub rtcp_in: AtomicU64,
    pub rtcp_out: AtomicU64,
    pub dropped_foreign: AtomicU64,
    pub dropped_malformed: AtomicU64,
    pub dropped_bad_pt: AtomicU64,
    pub dropped_no_remote: AtomicU64,
    pub dropped_send: AtomicU64,
    /// Of `rtp_in`, packets the kernel forwarded (counted from its rules).
    pub kernel_rtp: AtomicU64,
    pub expected: AtomicU64,
    pub lost: AtomicI64,
    pub jitter: AtomicU32,
    /// Nanoseconds after the relay's origin, plus one; zero means "never".
    pub last_rtp: AtomicU64,
    pub peer_fraction_lost: AtomicU32,
    pub peer_cumulative_lost: AtomicI64,
    pub peer_jitter: AtomicU32,
    pub peer_report_at: AtomicU64,
    /// Changes only on (re)latch, so a lock is fine here.
    pub latched_rtp: Mutex<Option<SocketAddr>>,
}

impl LegCounters {
    pub(crate) fn record_rtp(&self, len: usize, stats: &RecvStats, since_origin: Duration) {
        bump(&self.rtp_in, 1);
        bump(&self.rtp_in_bytes, len as u64);
        self.expected.store(stats.expected(), Relaxed);
        self.lost.store(stats.lost(), Relaxed);
        self.jitter.store(stats.jitter(), Relaxed);
        self.last_rtp.store(nanos_plus_one(since_origin), Relaxed);
    }

    /// RTP the kernel forwarded from this leg's peer: counts only (loss and jitter are not
    /// seen), and the time it was counted as the last arrival.
    pub(crate) fn record_kernel_rtp(&self, packets: u64, bytes: u64, since_origin: Duration) {
        bump(&self.rtp_in, packets);
        bump(&self.rtp_in_bytes, bytes);
        bump(&self.kernel_rtp, packets);
        self.last_rtp.store(nanos_plus_one(since_origin), Relaxed);
    }

    pub(crate) fn record_report(&self, block: &ReportBlock, since_origin: Duration) {
        self.peer_fraction_lost.store(u32::from(block.fraction_lost), Relaxed);
        self.peer_cumulative_lost.store(i64::from(block.cumulative_lost), Relaxed);
        self.peer_jitter.store(block.jitter, Relaxed);
        self.peer_report_at.store(nanos_plus_one(since_origin), Relaxed);
    }

    pub(crate) fn snapshot(&self, origin: Instant, clock_rate: u32) -> LegStats {
        let at = |v: u64| (v != 0).then(|| origin + Duration::from_nanos(v - 1));
        let jitter_ts = self.jitter.load(Relaxed);
        let peer_report = at(self.peer_report_at.load(Relaxed)).map(|received_at| PeerReport {
            fraction_lost: self.peer_fraction_lost.load(Relaxed) as u8,
            cumulative_lost: self.peer_cumulative_lost.load(Relaxed),
            jitter_ts: self.peer_jitter.load(Relaxed),
            jitter: ts_to_duration(self.peer_jitter.load(Relaxed), clock_rate),
            received_at,
        });
        LegStats {
            rtp_packets_in: self.rtp_in.load(Relaxed),
            rtp_bytes_in: self.rtp_in_bytes.load(Relaxed),
            rtp_packets_out: self.rtp_out.load(Relaxed),
            rtp_bytes_out: self.rtp_out_bytes.load(Relaxed),
            rtcp_packets_in: self.rtcp_in.load(Relaxed),
            rtcp_packets_out: self.rtcp_out.load(Relaxed),
            dropped_foreign: self.dropped_foreign.load(Relaxed),
            dropped_malformed: self.dropped_malformed.load(Relaxed),
            dropped_bad_pt: self.dropped_bad_pt.load(Relaxed),
            dropped_no_remote: self.dropped_no_remote.load(Relaxed),
            dropped_send: self.dropped_send.load(Relaxed),
            rtp_packets_kernel: self.kernel_rtp.load(Relaxed),
            rtp_expected: self.expected.load(Relaxed),
            rtp_lost: self.lost.load(Relaxed),
            jitter_ts,
            jitter: ts_to_duration(jitter_ts, clock_rate),
            last_rtp: at(self.last_rtp.load(Relaxed)),
            latched_rtp: *self.latched_rtp.lock().unwrap_or_else(|e| e.into_inner()),
            peer_report,
        }
    }
}

fn nanos_plus_one(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX - 1) + 1
}

fn ts_to_duration(units: u32, clock_rate: u32) -> Duration {
    Duration::from_nanos(u64::from(units) * 1_000_000_000 / u64::from(clock_rate.max(1)))
}

/// What the peer of a leg reported in its last RTCP SR/RR about the stream it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerReport {
    /// Fraction lost since its previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost.
    pub cumulative_lost: i64,
    /// Interarrival jitter in timestamp units.
    pub jitter_ts: u32,
    /// The same jitter as a duration at the leg's clock rate.
    pub jitter: Duration,
    /// When the report arrived.
    pub received_at: Instant,
}

/// Statistics of one leg. "In" is what the leg's peer sent to us; "out" is what we sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegStats {
    pub rtp_packets_in: u64,
    pub rtp_bytes_in: u64,
    pub rtp_packets_out: u64,
    pub rtp_bytes_out: u64,
    pub rtcp_packets_in: u64,
    pub rtcp_packets_out: u64,
    /// Packets from a source other than the latched one (RTP and RTCP).
    pub dropped_foreign: u64,
    /// Packets that are not RTP/RTCP version 2.
    pub dropped_malformed: u64,
    /// RTP with a payload type that was not negotiated, while looking for a source.
    pub dropped_bad_pt: u64,
    /// Packets that could not be relayed because the other leg has no remote yet.
    pub dropped_no_remote: u64,
    /// Packets the kernel refused to send towards this leg's peer.
    pub dropped_send: u64,
    /// Of `rtp_packets_in`, those forwarded in the kernel (`[media] kernel_forwarding`),
    /// which the sequence-based figures below do not see.
    pub rtp_packets_kernel: u64,
    /// RTP packets expected from sequence numbers of the current stream.
    pub rtp_expected: u64,
    /// Expected minus received (RFC 3550 A.3); negative with duplicates.
    pub rtp_lost: i64,
    /// Interarrival jitter of the received stream in timestamp units (RFC 3550 A.8).
    pub jitter_ts: u32,
    /// The same jitter as a duration.
    pub jitter: Duration,
    /// When the last accepted RTP packet arrived.
    pub last_rtp: Option<Instant>,
    /// The source this leg's RTP is latched to.
    pub latched_rtp: Option<SocketAddr>,
    /// The peer's last RTCP reception report, if it sent one.
    pub peer_report: Option<PeerReport>,
}

/// Statistics of both legs of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStats {
    pub a: LegStats,
    pub b: LegStats,
    pub on_hold: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(seq: u16, ts: u32) -> RtpHeader {
        RtpHeader { pt: 0, seq, ts, ssrc: 1 }
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn loss_from_a_gap() {
        let mut s = RecvStats::new(8000);
        for seq in (0u16..100).filter(|s| !(40..45).contains(s)) {
            s.on_packet(&h(seq, u32::from(seq) * 160), ms(u64::from(seq) * 20));
        }
        assert_eq!(s.expected(), 100);
        assert_eq!(s.received(), 95);
        assert_eq!(s.lost(), 5);
    }

    #[test]
    fn loss_across_sequence_wrap() {
        let mut s = RecvStats::new(8000);
        let mut seq = 65530u16;
        for i in 0..20u32 {
            if i != 10 {
                s.on_packet(&h(seq, i * 160), ms(u64::from(i) * 20));
            }
            seq = seq.wrapping_add(1);
        }
        assert_eq!((s.expected(), s.lost()), (20, 1));
    }

    #[test]
    fn late_and_duplicate_packets_do_not_move_max() {
        let mut s = RecvStats::new(8000);
        for seq in [1u16, 2, 4, 3, 4] {
            s.on_packet(&h(seq, 0), ms(0));
        }
        assert_eq!(s.expected(), 4);
        assert_eq!(s.lost(), -1, "one duplicate");
    }

    #[test]
    fn jitter_zero_for_a_perfect_stream() {
        let mut s = RecvStats::new(8000);
        for i in 0..200u32 {
            s.on_packet(&h(i as u16, 5000 + i * 160), ms(u64::from(i) * 20));
        }
        assert_eq!(s.jitter(), 0);
    }

    #[test]
    fn jitter_converges_on_alternating_delay() {
        // Every other packet arrives 4 ms late: |D| = 32 units each time, so J -> 32.
        let mut s = RecvStats::new(8000);
        for i in 0..2000u32 {
            let late = if i % 2 == 1 { 4 } else { 0 };
            s.on_packet(&h(i as u16, i * 160), ms(u64::from(i) * 20 + late));
        }
        assert!((31..=32).contains(&s.jitter()), "jitter {}", s.jitter());
        assert_eq!(ts_to_duration(32, 8000), ms(4));
    }

    #[test]
    fn new_ssrc_restarts_the_stream() {
        let mut s = RecvStats::new(8000);
        s.on_packet(&h(100, 0), ms(0));
        s.on_packet(&h(150, 0), ms(20));
        s.on_packet(&RtpHeader { pt: 0, seq: 7, ts: 0, ssrc: 2 }, ms(40));
        assert_eq!((s.expected(), s.received()), (1, 1));
    }
}
