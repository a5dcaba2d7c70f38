//! The hash maps of the hot paths (transactions, calls, relay sessions, registrations).
//!
//! Exists because std's SipHash-1-3 showed at 2–3% of a call's CPU. foldhash is seeded per
//! process and per map from the OS's randomness, so an attacker who picks branches, Call-IDs
//! or tags cannot aim their keys at one bucket without seeing our hashes, which nothing sends.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Shrinks `map` to twice its length once it uses under a quarter of its capacity: a hash
/// table never shrinks by itself, and a burst would otherwise keep its memory for good.
pub fn shrink_map<K: Hash + Eq, V, S: BuildHasher>(map: &mut HashMap<K, V, S>) {
    if map.capacity() > 1024 && map.len() * 4 < map.capacity() {
        map.shrink_to(map.len() * 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrink_map_gives_space_back_after_a_burst() {
        let mut map: FastMap<u64, [u8; 64]> = (0..100_000).map(|i| (i, [0; 64])).collect();
        map.retain(|k, _| *k < 1_000);
        let before = map.capacity();
        shrink_map(&mut map);
        assert!(map.capacity() < before / 10, "{} -> {}", before, map.capacity());
        assert_eq!(map.len(), 1_000);
        let small = map.capacity();
        shrink_map(&mut map);
        assert_eq!(map.capacity(), small, "nothing to do at a healthy load");
    }
}
