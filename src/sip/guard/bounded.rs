//! Making room in a bounded map.
//!
//! Exists so every guard table evicts the same way: first whatever has expired, then, if the
//! table is still full, the least relevant 1/16 of it in one pass, so that a table under
//! pressure costs O(1) amortised per insert rather than a full scan per insert. This module
//! must never evict when the map is below its capacity.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Instant;

/// Ensures `map` has room for one more entry when it holds `cap` or more. Removes entries
/// for which `expired` holds; if still full, removes the `cap / 16 + 1` entries with the
/// smallest `relevance` (the instant until which an entry matters). Returns how many live
/// (non-expired) entries were evicted.
pub(crate) fn make_room<K, V>(
    map: &mut HashMap<K, V>,
    cap: usize,
    expired: impl Fn(&V) -> bool,
    relevance: impl Fn(&V) -> Instant,
) -> usize
where
    K: Eq + Hash + Clone,
{
    if map.len() < cap {
        return 0;
    }
    map.retain(|_, v| !expired(v));
    if map.len() < cap {
        return 0;
    }
    let count = (cap / 16 + 1).min(map.len());
    let mut ranked: Vec<(Instant, K)> = map.iter().map(|(k, v)| (relevance(v), k.clone())).collect();
    ranked.select_nth_unstable_by_key(count - 1, |(at, _)| *at);
    for (_, key) in ranked.into_iter().take(count) {
        map.remove(&key);
    }
    count
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn expired_go_first_then_least_relevant() {
        let t0 = Instant::now();
        let mut map: HashMap<u32, Instant> = (0..32).map(|i| (i, t0 + Duration::from_secs(u64::from(i)))).collect();
        // Nothing expired: the 32/16+1 = 3 least relevant go.
        assert_eq!(make_room(&mut map, 32, |_| false, |v| *v), 3);
        assert_eq!(map.len(), 29);
        assert!(!map.contains_key(&0) && !map.contains_key(&2) && map.contains_key(&3));
        // Below capacity: untouched.
        assert_eq!(make_room(&mut map, 32, |_| true, |v| *v), 0);
        assert_eq!(map.len(), 29);
        // Expired entries free enough room: no live eviction.
        assert_eq!(make_room(&mut map, 29, |v| *v < t0 + Duration::from_secs(5), |v| *v), 0);
        assert_eq!(map.len(), 27);
    }
}
