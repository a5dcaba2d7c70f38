//! Size caps applied before and during SDP parsing.
//!
//! Exists so that a peer cannot make the parser hold or scan unbounded input, and so a B2BUA
//! never allocates relay ports for hundreds of `m=` lines. Every parse takes a [`Limits`];
//! no parse path may bypass it.

/// Caps on one session description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted body, in bytes. Example: `16384` (a WebRTC offer with many
    /// candidates is 3–6 KiB; a plain SIP phone's is under 1 KiB).
    pub max_size: usize,
    /// Largest number of lines, blank ones included. Example: `256`.
    pub max_lines: usize,
    /// Largest number of `m=` lines. Example: `8` (audio, video, a second video, data, T.38).
    pub max_media: usize,
}

impl Limits {
    /// The defaults: 16 KiB, 256 lines, 8 media sections.
    pub const DEFAULT: Limits = Limits { max_size: 16 * 1024, max_lines: 256, max_media: 8 };
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
    fn defaults_fit_a_webrtc_offer() {
        let l = Limits::default();
        assert_eq!((l.max_size, l.max_lines, l.max_media), (16384, 256, 8));
    }
}
