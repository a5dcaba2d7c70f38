//! Places the audio of a call's two legs on one stereo timeline (leg A left, leg B right), by
//! RTP timestamp, anchored to the arrival time of each leg's first packet.
//!
//! Exists because the two legs' packets arrive independently, with jitter, gaps (hold, silence
//! suppression), SSRC changes and clocks of their own: writing them in arrival order would
//! drift the two sides apart. Sans-IO: samples and arrival times in, interleaved PCM out. Memory
//! stays bounded: only the last [`FLUSH_DELAY`] (plus a safety cap) is held.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Samples per second (G.711).
pub const RATE: u64 = 8_000;
/// How long audio waits for late packets before it is written.
pub const FLUSH_DELAY: Duration = Duration::from_millis(1_000);
/// A leg whose RTP clock runs this far ahead of its arrival times is re-anchored.
const MAX_LEAD: i64 = RATE as i64;
/// … or this far behind (less than the flush delay, so its audio is never already written).
const MAX_LAG: i64 = RATE as i64 * 4 / 5;
/// Most samples held before writing, whatever the timestamps say (30 s).
const MAX_HELD: u64 = 30 * RATE;

#[derive(Debug, Clone, Copy)]
struct Anchor {
    ssrc: u32,
    base_ts: u32,
    base_pos: u64,
}

/// The stereo timeline of one recording.
#[derive(Debug)]
pub struct Timeline {
    origin: Instant,
    anchors: [Option<Anchor>; 2],
    held: VecDeque<[i16; 2]>,
    /// Sample index of `held[0]`: everything before it has been written.
    written: u64,
    /// Samples that came after their place had been written, or beyond the cap.
    pub dropped: u64,
}

impl Timeline {
    pub fn new(origin: Instant) -> Self {
        Timeline { origin, anchors: [None, None], held: VecDeque::new(), written: 0, dropped: 0 }
    }

    /// The sample index of an instant.
    pub fn position(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.origin);
        (d.as_nanos() * u128::from(RATE) / 1_000_000_000) as u64
    }

    /// Audio of `leg` (0 = A, 1 = B): an RTP packet's samples, its SSRC and timestamp, and
    /// when it arrived.
    pub fn add(&mut self, leg: usize, ssrc: u32, ts: u32, at: Instant, samples: impl Iterator<Item = i16>) {
        let arrival = self.position(at);
        let Some(anchor) = self.anchors.get_mut(leg) else { return };
        let placed = anchor.filter(|a| a.ssrc == ssrc).and_then(|a| {
            let pos = a.base_pos as i64 + i64::from(ts.wrapping_sub(a.base_ts) as i32);
            let off = pos - arrival as i64;
            (pos >= 0 && (-MAX_LAG..=MAX_LEAD).contains(&off)).then_some(pos as u64)
        });
        let pos = placed.unwrap_or_else(|| {
            *anchor = Some(Anchor { ssrc, base_ts: ts, base_pos: arrival });
            arrival
        });
        for (i, sample) in samples.enumerate() {
            let at = pos + i as u64;
            if at < self.written || at >= self.written + MAX_HELD {
                self.dropped += 1;
                continue;
            }
            let index = (at - self.written) as usize;
            if index >= self.held.len() {
                self.held.resize(index + 1, [0, 0]);
            }
            self.held[index][leg] = sample;
        }
    }

    /// Writes the audio before sample `until` (silence where none came) to `out` as
    /// interleaved little-endian 16-bit PCM; returns the bytes added.
    pub fn drain_until(&mut self, until: u64, out: &mut Vec<u8>) -> usize {
        let before = out.len();
        while self.written < until {
            let frame = self.held.pop_front().unwrap_or([0, 0]);
            out.extend_from_slice(&frame[0].to_le_bytes());
            out.extend_from_slice(&frame[1].to_le_bytes());
            self.written += 1;
        }
        out.len() - before
    }

    /// The end of the audio held so far.
    pub fn end(&self) -> u64 {
        self.written + self.held.len() as u64
    }

    /// Samples written so far.
    pub fn written(&self) -> u64 {
        self.written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(origin: Instant, ms: u64) -> Instant {
        origin + Duration::from_millis(ms)
    }

    fn frames(out: &[u8]) -> Vec<[i16; 2]> {
        out.chunks_exact(4).map(|c| [i16::from_le_bytes([c[0], c[1]]), i16::from_le_bytes([c[2], c[3]])]).collect()
    }

    #[test]
    fn legs_land_side_by_side_by_timestamp_not_arrival() {
        let t0 = Instant::now();
        let mut t = Timeline::new(t0);
        // Leg A starts at 0 ms; its second packet arrives late (jitter) but keeps its place.
        t.add(0, 1, 1000, ms(t0, 0), std::iter::repeat_n(100, 160));
        t.add(0, 1, 1160, ms(t0, 55), std::iter::repeat_n(200, 160));
        // Leg B starts 10 ms later with another clock base.
        t.add(1, 9, 77_000, ms(t0, 10), std::iter::repeat_n(-5, 160));
        let mut out = Vec::new();
        t.drain_until(400, &mut out);
        let f = frames(&out);
        assert_eq!(f.len(), 400);
        assert_eq!(f[0], [100, 0]);
        assert_eq!(f[79], [100, 0]);
        assert_eq!(f[80], [100, -5]);
        assert_eq!(f[160], [200, -5]);
        assert_eq!(f[240], [200, 0]);
        assert_eq!(f[320], [0, 0]); // nothing came: silence
    }

    #[test]
    fn a_gap_in_timestamps_is_silence_and_a_new_ssrc_reanchors() {
        let t0 = Instant::now();
        let mut t = Timeline::new(t0);
        t.add(0, 1, 0, ms(t0, 0), std::iter::repeat_n(7, 160));
        // Silence suppression: the next packet is 500 ms later in both clocks.
        t.add(0, 1, 4000, ms(t0, 500), std::iter::repeat_n(8, 160));
        // The phone restarts its stream with a random timestamp at 1 s.
        t.add(0, 2, 123_456_789, ms(t0, 1000), std::iter::repeat_n(9, 160));
        let mut out = Vec::new();
        t.drain_until(t.end(), &mut out);
        let f = frames(&out);
        assert_eq!(f[0][0], 7);
        assert_eq!(f[200][0], 0);
        assert_eq!(f[4000][0], 8);
        assert_eq!(f[8000][0], 9);
        assert_eq!(f.len(), 8160);
    }

    #[test]
    fn a_clock_far_from_arrival_is_reanchored() {
        let t0 = Instant::now();
        let mut t = Timeline::new(t0);
        t.add(0, 1, 0, ms(t0, 0), std::iter::repeat_n(1, 160));
        // Same SSRC, but the timestamp claims 10 s later while only 20 ms passed.
        t.add(0, 1, 80_000, ms(t0, 20), std::iter::repeat_n(2, 160));
        let mut out = Vec::new();
        t.drain_until(t.end(), &mut out);
        let f = frames(&out);
        assert_eq!(f.len(), 320);
        assert_eq!(f[160][0], 2);
    }

    #[test]
    fn audio_after_its_place_was_written_is_dropped_not_misplaced() {
        let t0 = Instant::now();
        let mut t = Timeline::new(t0);
        t.add(1, 1, 0, ms(t0, 0), std::iter::repeat_n(1, 160));
        let mut out = Vec::new();
        t.drain_until(8000, &mut out);
        t.add(1, 1, 160, ms(t0, 700), std::iter::repeat_n(2, 160)); // 680 ms late, already written
        assert_eq!(t.dropped, 160);
        assert_eq!(t.end(), 8000);
    }
}
