//! RFC 3261 §17 timer values (Table 4 of Appendix A, plus timers L and M of RFC 6026).
//!
//! Exists so every state machine derives its timers from one [`TimerConfig`] and the
//! reliable-transport rules live in one place: over TCP/TLS/SCTP/WS nothing is
//! retransmitted and the "absorb retransmissions" waits D, I, J and K are zero. It must
//! never read a clock: it only turns durations into deadlines from an `Instant` it is given.

use std::time::{Duration, Instant};

/// T1, T2 and T4 (RFC 3261 §17.1.1.1, Table 4); every other timer derives from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// Round-trip time estimate; first retransmit interval. Example: `500 ms`.
    pub t1: Duration,
    /// Cap on the retransmit interval of non-INVITE requests and INVITE responses.
    /// Example: `4 s`.
    pub t2: Duration,
    /// How long a message may live in the network. Example: `5 s`.
    pub t4: Duration,
}

impl TimerConfig {
    /// The RFC 3261 defaults: T1 500 ms, T2 4 s, T4 5 s.
    pub const DEFAULT: TimerConfig =
        TimerConfig { t1: Duration::from_millis(500), t2: Duration::from_secs(4), t4: Duration::from_secs(5) };

    /// Timer D's minimum for unreliable transports (RFC 3261 §17.1.1.2: "at least 32 s").
    const D_UNRELIABLE: Duration = Duration::from_secs(32);

    /// T1 with a floor of 1 ms, so retransmit timers always move time forward.
    fn t1(&self) -> Duration {
        self.t1.max(Duration::from_millis(1))
    }

    /// `64*T1`: timers B, F, H, L, M, and J on unreliable transports.
    pub fn txn_timeout(&self) -> Duration {
        self.t1().saturating_mul(64)
    }

    /// First retransmit interval (timers A, E, G): T1, or `None` on a reliable transport.
    pub fn first_retransmit(&self, reliable: bool) -> Option<Duration> {
        (!reliable).then(|| self.t1())
    }

    /// Timer D: at least 32 s (and never below `64*T1`) unreliable, zero reliable.
    pub fn timer_d(&self, reliable: bool) -> Duration {
        if reliable { Duration::ZERO } else { Self::D_UNRELIABLE.max(self.txn_timeout()) }
    }

    /// Timers I and K: T4 unreliable, zero reliable.
    pub fn timer_i_k(&self, reliable: bool) -> Duration {
        if reliable { Duration::ZERO } else { self.t4 }
    }

    /// Timer J: `64*T1` unreliable, zero reliable.
    pub fn timer_j(&self, reliable: bool) -> Duration {
        if reliable { Duration::ZERO } else { self.txn_timeout() }
    }
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A retransmit timer (A, E or G): when it fires next and the interval it was armed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retransmit {
    pub(crate) at: Instant,
    pub(crate) interval: Duration,
}

impl Retransmit {
    /// Armed `interval` after `now`; `None` when `interval` is `None` (reliable transport).
    pub(crate) fn start(now: Instant, interval: Option<Duration>) -> Option<Retransmit> {
        interval.map(|interval| Retransmit { at: now + interval, interval })
    }

    /// Re-armed after firing: the interval doubles, capped at `cap` when given (timer A
    /// has no cap, E and G are capped at T2).
    pub(crate) fn backoff(self, now: Instant, cap: Option<Duration>) -> Retransmit {
        let doubled = self.interval.saturating_mul(2);
        let interval = cap.map_or(doubled, |c| doubled.min(c));
        Retransmit { at: now + interval, interval }
    }

    /// Re-armed with a fixed interval (timer E in Proceeding: T2).
    pub(crate) fn fixed(now: Instant, interval: Duration) -> Retransmit {
        Retransmit { at: now + interval, interval }
    }
}

/// The earliest of some optional deadlines.
pub(crate) fn earliest(deadlines: impl IntoIterator<Item = Option<Instant>>) -> Option<Instant> {
    deadlines.into_iter().flatten().min()
}

/// True when `deadline` is set and due at `now`.
pub(crate) fn due(deadline: Option<Instant>, now: Instant) -> bool {
    deadline.is_some_and(|d| d <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_4_values() {
        let t = TimerConfig::default();
        assert_eq!(t.txn_timeout(), Duration::from_secs(32));
        assert_eq!(t.first_retransmit(false), Some(Duration::from_millis(500)));
        assert_eq!(t.first_retransmit(true), None);
        assert_eq!((t.timer_d(false), t.timer_d(true)), (Duration::from_secs(32), Duration::ZERO));
        assert_eq!((t.timer_i_k(false), t.timer_i_k(true)), (Duration::from_secs(5), Duration::ZERO));
        assert_eq!((t.timer_j(false), t.timer_j(true)), (Duration::from_secs(32), Duration::ZERO));
    }

    #[test]
    fn timer_d_follows_a_larger_t1() {
        let t = TimerConfig { t1: Duration::from_secs(1), ..TimerConfig::default() };
        assert_eq!(t.timer_d(false), Duration::from_secs(64));
    }

    #[test]
    fn zero_t1_is_floored() {
        let t = TimerConfig { t1: Duration::ZERO, ..TimerConfig::default() };
        assert_eq!(t.first_retransmit(false), Some(Duration::from_millis(1)));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let now = Instant::now();
        let r = Retransmit::fixed(now, Duration::from_secs(3));
        let capped = r.backoff(now, Some(Duration::from_secs(4)));
        assert_eq!(capped.interval, Duration::from_secs(4));
        assert_eq!(r.backoff(now, None).interval, Duration::from_secs(6));
    }
}
