//! The table of banned sources.
//!
//! Exists as its own type so the SIP front door can check it on every packet, and an operator
//! command can list and lift bans. Keys are source keys ([`super::source_key`]): an IPv6 ban
//! is listed as its /64 network address. When full, expired bans are dropped first, then the
//! bans closest to expiry: an attacker who can fill the table can shorten other bans, but a
//! table of bounded size is the price of never running out of memory; size it generously.
//! This module must never hold more than `max_entries` bans.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::bounded::make_room;

/// Banned sources and when each ban ends.
#[derive(Debug, Clone)]
pub struct Bans {
    until: HashMap<IpAddr, Instant>,
    max_entries: usize,
    evictions: u64,
}

impl Bans {
    /// An empty table holding at most `max_entries` bans (at least 1).
    pub fn new(max_entries: usize) -> Bans {
        Bans { until: HashMap::new(), max_entries: max_entries.max(1), evictions: 0 }
    }

    /// Bans `source` until `until`. An existing longer ban is kept.
    pub fn ban(&mut self, source: IpAddr, until: Instant, now: Instant) {
        if let Some(existing) = self.until.get_mut(&source) {
            *existing = (*existing).max(until);
            return;
        }
        let evicted = make_room(&mut self.until, self.max_entries, |u| *u <= now, |u| *u);
        self.evictions += evicted as u64;
        self.until.insert(source, until);
    }

    /// Lifts a ban; `true` if there was one.
    pub fn unban(&mut self, source: IpAddr) -> bool {
        self.until.remove(&source).is_some()
    }

    /// Whether `source` is banned at `now`.
    pub fn is_banned(&self, source: IpAddr, now: Instant) -> bool {
        self.remaining(source, now).is_some()
    }

    /// Time left on `source`'s ban, `None` when not banned.
    pub fn remaining(&self, source: IpAddr, now: Instant) -> Option<Duration> {
        self.until.get(&source).filter(|u| **u > now).map(|u| u.duration_since(now))
    }

    /// Active bans with their remaining time, longest remaining first (ties by address).
    pub fn list(&self, now: Instant) -> Vec<(IpAddr, Duration)> {
        let mut out: Vec<(IpAddr, Duration)> =
            self.until.iter().filter(|(_, u)| **u > now).map(|(ip, u)| (*ip, u.duration_since(now))).collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }

    /// Drops expired bans.
    pub fn purge_expired(&mut self, now: Instant) {
        self.until.retain(|_, u| *u > now);
    }

    /// Number of entries, including expired ones not yet purged.
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }

    /// How many live bans were evicted because the table was full. Non-zero means the table
    /// is too small for the attack it is under; worth a WARN.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn ban_expires() {
        let t0 = Instant::now();
        let mut bans = Bans::new(8);
        bans.ban(ip(1), t0 + S(600), t0);
        assert!(bans.is_banned(ip(1), t0 + S(599)));
        assert_eq!(bans.remaining(ip(1), t0 + S(100)), Some(S(500)));
        assert!(!bans.is_banned(ip(1), t0 + S(600)));
        assert!(!bans.is_banned(ip(2), t0));
    }

    #[test]
    fn longer_ban_wins_and_unban_lifts() {
        let t0 = Instant::now();
        let mut bans = Bans::new(8);
        bans.ban(ip(1), t0 + S(600), t0);
        bans.ban(ip(1), t0 + S(60), t0);
        assert_eq!(bans.remaining(ip(1), t0), Some(S(600)));
        assert!(bans.unban(ip(1)));
        assert!(!bans.is_banned(ip(1), t0));
        assert!(!bans.unban(ip(1)));
    }

    #[test]
    fn list_shows_active_bans_longest_first() {
        let t0 = Instant::now();
        let mut bans = Bans::new(8);
        bans.ban(ip(1), t0 + S(100), t0);
        bans.ban(ip(2), t0 + S(300), t0);
        bans.ban(ip(3), t0 + S(10), t0);
        assert_eq!(bans.list(t0 + S(20)), vec![(ip(2), S(280)), (ip(1), S(80))]);
        bans.purge_expired(t0 + S(20));
        assert_eq!(bans.len(), 2);
    }

    #[test]
    fn full_table_evicts_expired_then_nearest_expiry() {
        let t0 = Instant::now();
        let mut bans = Bans::new(4);
        for n in 1..=4 {
            bans.ban(ip(n), t0 + S(u64::from(n) * 100), t0);
        }
        bans.ban(ip(5), t0 + S(1000), t0 + S(150)); // ip 1 expired at 100: dropped, no eviction
        assert_eq!(bans.evictions(), 0);
        assert_eq!(bans.len(), 4);
        bans.ban(ip(6), t0 + S(1000), t0 + S(150)); // full of live bans: ip 2 (nearest expiry) goes
        assert_eq!(bans.evictions(), 1);
        assert!(!bans.is_banned(ip(2), t0 + S(150)));
        assert!(bans.is_banned(ip(3), t0 + S(150)) && bans.is_banned(ip(6), t0 + S(150)));
        assert!(bans.len() <= 4);
    }
}
