//! Size caps applied before and during parsing.
//!
//! Exists so that a peer cannot make the parser hold or scan unbounded input; every parse
//! entry point takes a [`Limits`]. It must never be bypassed by a parse path.

/// Caps on what one SIP message may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted message (start line, headers and body), in bytes.
    /// Example: `65536` (the largest UDP payload; RFC 3261 §18.1.1 caps UDP lower still).
    pub max_message_size: usize,
    /// Largest number of header lines (a folded header counts once).
    /// Example: `128`.
    pub max_headers: usize,
}

impl Limits {
    /// The defaults: 64 KiB and 128 header lines.
    pub const DEFAULT: Limits = Limits { max_message_size: 64 * 1024, max_headers: 128 };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_sane() {
        let l = Limits::default();
        assert_eq!(l.max_message_size, 65536);
        assert_eq!(l.max_headers, 128);
    }
}
