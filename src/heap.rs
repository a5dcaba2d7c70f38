//! What the memory allocator holds: bytes in use by live objects, and bytes it keeps free for
//! reuse. `pbxctl status` shows both, so an operator (and the soak test) can tell a leak (in
//! use grows) from fragmentation (only held grows; freed memory the allocator could not give
//! back to the kernel).

use serde::{Deserialize, Serialize};

/// Heap figures from glibc's `mallinfo2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeapStatus {
    /// Bytes allocated to live objects.
    pub in_use: u64,
    /// Bytes the allocator holds (in use, free for reuse, and large mmapped blocks).
    pub held: u64,
}

/// The heap now; `None` off glibc.
#[cfg(target_env = "gnu")]
pub fn status() -> Option<HeapStatus> {
    // SAFETY: mallinfo2 takes no arguments and returns a plain struct by value.
    #[allow(unsafe_code)]
    let m = unsafe { libc::mallinfo2() };
    Some(HeapStatus { in_use: (m.uordblks + m.hblkhd) as u64, held: (m.arena + m.hblkhd) as u64 })
}

#[cfg(not(target_env = "gnu"))]
pub fn status() -> Option<HeapStatus> {
    None
}
