//! Token bucket per source, to shed request floods before they reach parsing-heavy code.
//!
//! Exists because a SIP server on a public address gets scanned and flooded (SIPVicious,
//! REGISTER storms); each source may send `rate_per_sec` requests on average and `burst` at
//! once. Sources are keyed like bans (IPv6 /64).
//!
//! When the table is full, buckets that have refilled completely are dropped first: a full
//! bucket behaves exactly like an absent one, so this changes nothing. If every bucket is
//! still draining (a flood from more sources than the table holds, e.g. spoofed UDP), those
//! closest to full are dropped and their sources get a fresh burst: the limiter loosens
//! slightly rather than refusing unknown sources, because refusing new sources would let a
//! spoofed flood lock out every real phone. This module must never allocate beyond
//! `max_entries` buckets.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::ConfigError;
use super::bounded::make_room;
use super::source::source_key;

/// Token-bucket parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct RateConfig {
    /// Sustained requests per second per source. Example: `20.0`.
    pub rate_per_sec: f64,
    /// Requests a quiet source may send at once. Example: `40`.
    pub burst: u32,
    /// Sources tracked at once. Example: `65536`.
    pub max_entries: usize,
    /// IPv6 prefix length treated as one source. Example: `64`.
    pub ipv6_prefix: u8,
}

impl Default for RateConfig {
    fn default() -> RateConfig {
        RateConfig { rate_per_sec: 20.0, burst: 40, max_entries: 65_536, ipv6_prefix: 64 }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Per-source token buckets.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    config: RateConfig,
    buckets: HashMap<IpAddr, Bucket>,
    evictions: u64,
}

impl RateLimiter {
    /// A limiter with `config`, or an error naming the unusable field.
    pub fn new(config: RateConfig) -> Result<RateLimiter, ConfigError> {
        if !(config.rate_per_sec.is_finite() && config.rate_per_sec > 0.0) {
            return Err(ConfigError::NotPositive { field: "rate_per_sec", value: config.rate_per_sec.to_string() });
        }
        if config.burst == 0 {
            return Err(ConfigError::NotPositive { field: "burst", value: "0".into() });
        }
        if config.max_entries == 0 {
            return Err(ConfigError::NotPositive { field: "max_entries", value: "0".into() });
        }
        if config.ipv6_prefix > 128 {
            return Err(ConfigError::BadPrefix(config.ipv6_prefix));
        }
        Ok(RateLimiter { config, buckets: HashMap::new(), evictions: 0 })
    }

    /// Takes one token from `ip`'s bucket; `false` means drop the request.
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        let source = source_key(ip, self.config.ipv6_prefix);
        let burst = f64::from(self.config.burst);
        let rate = self.config.rate_per_sec;
        if !self.buckets.contains_key(&source) {
            let evicted = make_room(
                &mut self.buckets,
                self.config.max_entries,
                |b| refilled(b, now, rate) >= burst,
                |b| full_at(b, burst, rate),
            );
            self.evictions += evicted as u64;
        }
        let bucket = self.buckets.entry(source).or_insert(Bucket { tokens: burst, last: now });
        bucket.tokens = refilled(bucket, now, rate).min(burst);
        bucket.last = bucket.last.max(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Drops buckets that have refilled completely (no behaviour change); call now and then.
    pub fn purge(&mut self, now: Instant) {
        let burst = f64::from(self.config.burst);
        let rate = self.config.rate_per_sec;
        self.buckets.retain(|_, b| refilled(b, now, rate) < burst);
    }

    /// Sources tracked.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Draining buckets dropped because the table was full; non-zero means it is too small
    /// for the flood it is under.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }
}

/// Tokens at `now`, before capping at the burst.
fn refilled(bucket: &Bucket, now: Instant, rate: f64) -> f64 {
    bucket.tokens + now.saturating_duration_since(bucket.last).as_secs_f64() * rate
}

/// When the bucket will be full again.
fn full_at(bucket: &Bucket, burst: f64, rate: f64) -> Instant {
    let missing = ((burst - bucket.tokens) / rate).max(0.0);
    let wait = Duration::try_from_secs_f64(missing).unwrap_or(Duration::MAX);
    bucket.last.checked_add(wait).unwrap_or(bucket.last)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0xc000_0200 + n))
    }

    fn limiter(rate: f64, burst: u32, max: usize) -> RateLimiter {
        match RateLimiter::new(RateConfig { rate_per_sec: rate, burst, max_entries: max, ipv6_prefix: 64 }) {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn burst_then_refused() {
        let t0 = Instant::now();
        let mut l = limiter(10.0, 5, 16);
        assert!((0..5).all(|_| l.allow(ip(1), t0)));
        assert!(!l.allow(ip(1), t0));
    }

    #[test]
    fn refills_at_rate() {
        let t0 = Instant::now();
        let mut l = limiter(10.0, 5, 16);
        (0..5).for_each(|_| assert!(l.allow(ip(1), t0)));
        assert!(!l.allow(ip(1), t0 + Duration::from_millis(50)), "half a token");
        assert!(l.allow(ip(1), t0 + Duration::from_millis(100)));
        assert!(!l.allow(ip(1), t0 + Duration::from_millis(100)));
        // 0.3 s later: 3 tokens.
        let t = t0 + Duration::from_millis(400);
        assert_eq!((0..10).filter(|_| l.allow(ip(1), t)).count(), 3);
    }

    #[test]
    fn long_idle_never_exceeds_burst() {
        let t0 = Instant::now();
        let mut l = limiter(10.0, 5, 16);
        assert!(l.allow(ip(1), t0));
        let t = t0 + Duration::from_secs(3600);
        assert_eq!((0..100).filter(|_| l.allow(ip(1), t)).count(), 5);
    }

    #[test]
    fn sources_are_independent() {
        let t0 = Instant::now();
        let mut l = limiter(1.0, 2, 16);
        (0..2).for_each(|_| assert!(l.allow(ip(1), t0)));
        assert!(!l.allow(ip(1), t0));
        assert!(l.allow(ip(2), t0));
    }

    #[test]
    fn time_going_backwards_does_not_mint_tokens() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut l = limiter(1.0, 1, 16);
        assert!(l.allow(ip(1), t0));
        assert!(!l.allow(ip(1), t0 - Duration::from_secs(5)));
        assert!(!l.allow(ip(1), t0));
    }

    #[test]
    fn bounded_refilled_buckets_go_first() {
        let t0 = Instant::now();
        let mut l = limiter(1.0, 3, 4);
        // ip 1 drained hard; ips 2..4 took one token each.
        (0..3).for_each(|_| assert!(l.allow(ip(1), t0)));
        (2..=4).for_each(|n| assert!(l.allow(ip(n), t0)));
        // 1.5 s later ips 2..4 are full again (dropped for free); ip 1 is still draining.
        let t = t0 + Duration::from_millis(1500);
        assert!(l.allow(ip(5), t));
        assert_eq!(l.evictions(), 0);
        assert!(l.allow(ip(1), t), "1.5 tokens back");
        assert!(!l.allow(ip(1), t), "ip 1's state survived");
    }

    #[test]
    fn bounded_under_flood() {
        let t0 = Instant::now();
        let mut l = limiter(1.0, 1, 32);
        for n in 0..1000 {
            assert!(l.allow(ip(n), t0));
            assert!(l.len() <= 32);
        }
        assert!(l.evictions() > 0);
        l.purge(t0 + Duration::from_secs(2));
        assert!(l.is_empty());
    }

    #[test]
    fn unusable_config_is_refused() {
        for (rate, burst) in [(0.0, 1), (f64::NAN, 1), (-1.0, 1), (f64::INFINITY, 1), (1.0, 0)] {
            let config = RateConfig { rate_per_sec: rate, burst, ..RateConfig::default() };
            assert!(RateLimiter::new(config).is_err(), "{rate} {burst}");
        }
    }
}
