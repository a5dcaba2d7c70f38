//! pbxd's memory allocator, jemalloc, and what it holds: bytes in use by live objects, and
//! bytes resident in its pages. `pbxctl status` shows both, so an operator (and the soak test)
//! can tell a leak (in use grows) from fragmentation (only resident grows).
//!
//! Why jemalloc rather than the system allocator: measured in one session on this 2-core box,
//! glibc malloc held about 2x the live heap after a registration burst (transactions lingering
//! 64*T1 leave holes between the contacts that outlive them: 973-1047 bytes resident per
//! contact for 460-471 bytes in use), spent ~16% of pbxd's CPU in a call burst, and needed a
//! `malloc_trim` thread to give memory back at all. With jemalloc, a contact costs 584-714
//! bytes resident and a call 285 instead of 341 µs CPU at 2,000 calls/s
//! (tests/bench/registrations.sh, calls.sh). Freed pages go back to the kernel on jemalloc's
//! decay set in pbxd's `main` as pbxd keeps allocating (its timers always do). jemalloc's
//! background purge threads were tried and left off: 1,280 bytes resident per contact
//! instead of 584.

use serde::{Deserialize, Serialize};
use tikv_jemalloc_ctl::{epoch, stats};

/// Heap figures from jemalloc's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeapStatus {
    /// Bytes allocated to live objects.
    pub in_use: u64,
    /// Bytes in physically resident pages the allocator maps (live objects, free space in
    /// partly used pages, dirty pages not yet purged, and its own metadata).
    pub held: u64,
}

/// The heap now. Meaningful in a process whose global allocator is jemalloc (pbxd); `None`
/// when the statistics cannot be read.
pub fn status() -> Option<HeapStatus> {
    epoch::advance().ok()?; // statistics are cached until the epoch moves
    let in_use = stats::allocated::read().ok()?;
    let held = stats::resident::read().ok()?;
    Some(HeapStatus { in_use: in_use as u64, held: held as u64 })
}
