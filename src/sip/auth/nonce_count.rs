//! Replay protection for `qop=auth`: each nonce's `nc` must grow.
//!
//! Exists because a stateless nonce alone lets a captured request be replayed until the nonce
//! goes stale. We remember the highest `nc` accepted per nonce, in a table bounded by
//! `max_entries`.
//!
//! Call [`NonceCounts::accept`] only *after* the digest verified: `nc` is covered by the
//! response, so only the password holder can advance it. Recording unverified counts would let
//! anyone who saw a nonce push its count to `u32::MAX` and lock the real client out.
//!
//! When full, the entries of the oldest nonces are evicted and a watermark remembers the
//! newest evicted issue time. An untracked nonce issued at or before the watermark gets
//! [`NcCheck::Stale`] (the client is re-challenged) instead of being treated as new. So a full
//! table degrades to extra challenges, never to accepting a replay. Size it to the number of
//! nonces in use within one nonce lifetime. This module must never accept an `nc` that is not
//! strictly greater than the last one accepted for the same nonce, except from a
//! retransmission of the very request that was accepted with it (same request id): over UDP
//! a lost answer makes the client send the same request again, and it must get the same
//! answer, not a 401 for a replay.

use std::collections::BTreeMap;
use std::time::Duration;

/// Result of [`NonceCounts::accept`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NcCheck {
    /// `nc` is higher than any seen for this nonce; it is now recorded.
    Fresh,
    /// `nc` is lower than or equal to one already accepted (by another request): a replay.
    Replay,
    /// The nonce is expired or its history was evicted: re-challenge with `stale=true`.
    Stale,
}

/// Highest `nc` accepted per nonce, bounded.
#[derive(Debug)]
pub struct NonceCounts {
    /// Keyed by (issue time, hash of the nonce) so the oldest entries are first; a hash
    /// keeps entries small (100,000 nonces are live at 300 registrations/s), and only nonces
    /// whose MAC verified get here, so nobody can aim a collision. The value is the highest
    /// `nc` and the id of the request that brought it.
    entries: BTreeMap<(u64, u64), (u32, u64)>,
    max_entries: usize,
    lifetime_secs: u64,
    /// Newest issue time evicted while the table was full.
    watermark: Option<u64>,
}

fn nonce_hash(nonce: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    nonce.hash(&mut h);
    h.finish()
}

impl NonceCounts {
    /// A table holding at most `max_entries` nonces (at least 1), each for `lifetime` after
    /// issue (use the [`super::NonceIssuer`]'s lifetime).
    pub fn new(max_entries: usize, lifetime: Duration) -> NonceCounts {
        NonceCounts {
            entries: BTreeMap::new(),
            max_entries: max_entries.max(1),
            lifetime_secs: lifetime.as_secs(),
            watermark: None,
        }
    }

    /// Records `nc` for `nonce` if it is fresh. `issued_at` must be the nonce's authenticated
    /// issue time ([`super::NonceIssuer::issued_at`]).
    /// `request_id` identifies the request (a hash of its transaction id); the same request
    /// retransmitted may repeat its `nc`.
    pub fn accept(&mut self, nonce: &str, issued_at: u64, nc: u32, request_id: u64, now_unix_secs: u64) -> NcCheck {
        if self.expired(issued_at, now_unix_secs) {
            return NcCheck::Stale;
        }
        self.purge_expired(now_unix_secs);
        let key = (issued_at, nonce_hash(nonce));
        if let Some((highest, by)) = self.entries.get_mut(&key) {
            if nc > *highest {
                (*highest, *by) = (nc, request_id);
                return NcCheck::Fresh;
            }
            if nc == *highest && request_id == *by {
                return NcCheck::Fresh;
            }
            return NcCheck::Replay;
        }
        if self.watermark.is_some_and(|w| issued_at <= w) {
            return NcCheck::Stale;
        }
        if self.entries.len() >= self.max_entries {
            match self.entries.first_key_value() {
                // The newcomer would itself be the eviction victim.
                Some((oldest, _)) if key < *oldest => {
                    self.raise_watermark(issued_at);
                    return NcCheck::Stale;
                }
                _ => {}
            }
            if let Some(((evicted_at, _), _)) = self.entries.pop_first() {
                self.raise_watermark(evicted_at);
            }
        }
        self.entries.insert(key, (nc, request_id));
        NcCheck::Fresh
    }

    /// Drops entries whose nonce has expired (they would be refused as stale anyway).
    pub fn purge_expired(&mut self, now_unix_secs: u64) {
        while let Some(((issued_at, _), _)) = self.entries.first_key_value() {
            if !self.expired(*issued_at, now_unix_secs) {
                break;
            }
            self.entries.pop_first();
        }
    }

    /// Number of nonces tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no nonce is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn expired(&self, issued_at: u64, now: u64) -> bool {
        now.saturating_sub(issued_at) > self.lifetime_secs
    }

    fn raise_watermark(&mut self, at: u64) {
        self.watermark = Some(self.watermark.map_or(at, |w| w.max(at)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;

    fn counts(max: usize) -> NonceCounts {
        NonceCounts::new(max, Duration::from_secs(300))
    }

    #[test]
    fn increasing_counts_are_fresh() {
        let mut c = counts(8);
        assert_eq!(c.accept("n", T0, 1, 0, T0), NcCheck::Fresh);
        assert_eq!(c.accept("n", T0, 2, 0, T0), NcCheck::Fresh);
        assert_eq!(c.accept("n", T0, 7, 0, T0 + 1), NcCheck::Fresh, "gaps are allowed");
    }

    #[test]
    fn replayed_nc_is_refused() {
        let mut c = counts(8);
        assert_eq!(c.accept("n", T0, 1, 7, T0), NcCheck::Fresh);
        assert_eq!(c.accept("n", T0, 1, 7, T0), NcCheck::Fresh, "a retransmission of the same request");
        assert_eq!(c.accept("n", T0, 1, 8, T0), NcCheck::Replay, "another request with the same nc");
    }

    #[test]
    fn nc_going_backwards_is_refused() {
        let mut c = counts(8);
        assert_eq!(c.accept("n", T0, 5, 0, T0), NcCheck::Fresh);
        assert_eq!(c.accept("n", T0, 4, 0, T0), NcCheck::Replay);
        assert_eq!(c.accept("n", T0, 6, 0, T0), NcCheck::Fresh);
    }

    #[test]
    fn nonces_are_independent() {
        let mut c = counts(8);
        assert_eq!(c.accept("a", T0, 3, 0, T0), NcCheck::Fresh);
        assert_eq!(c.accept("b", T0, 1, 0, T0), NcCheck::Fresh);
    }

    #[test]
    fn expired_nonces_are_stale_and_purged() {
        let mut c = counts(8);
        assert_eq!(c.accept("a", T0, 1, 0, T0), NcCheck::Fresh);
        assert_eq!(c.accept("a", T0, 2, 0, T0 + 301), NcCheck::Stale);
        assert_eq!(c.accept("b", T0 + 301, 1, 0, T0 + 301), NcCheck::Fresh);
        assert_eq!(c.len(), 1, "a was purged");
    }

    #[test]
    fn eviction_never_reopens_a_replay() {
        let mut c = counts(2);
        assert_eq!(c.accept("a", T0, 1, 0, T0), NcCheck::Fresh);
        assert_eq!(c.accept("b", T0 + 1, 1, 0, T0 + 1), NcCheck::Fresh);
        assert_eq!(c.accept("c", T0 + 2, 1, 0, T0 + 2), NcCheck::Fresh); // evicts a
        assert_eq!(c.len(), 2);
        // a's history is gone: replaying a's nc=1 must not be accepted as new.
        assert_eq!(c.accept("a", T0, 1, 0, T0 + 2), NcCheck::Stale);
        // Newer nonces are still tracked normally.
        assert_eq!(c.accept("b", T0 + 1, 1, 9, T0 + 2), NcCheck::Replay);
        assert_eq!(c.accept("b", T0 + 1, 2, 0, T0 + 2), NcCheck::Fresh);
        // A brand-new nonce older than everything tracked while full is refused too.
        assert_eq!(c.accept("z", T0 - 5, 1, 0, T0 + 2), NcCheck::Stale);
    }

    #[test]
    fn zero_capacity_is_clamped() {
        let mut c = counts(0);
        assert_eq!(c.accept("a", T0, 1, 0, T0), NcCheck::Fresh);
        assert_eq!(c.accept("a", T0, 1, 9, T0), NcCheck::Replay);
    }
}
