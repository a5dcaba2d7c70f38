//! Just enough RTP and RTCP parsing for a relay: the fixed RTP header, payload-type rewrite,
//! and the first report block of an RTCP SR/RR.
//!
//! Exists so latching and statistics can look at packets without decoding media. Every
//! function here takes bytes a peer sent: it must never panic or index out of bounds, and it
//! must never allocate (it runs once per packet).

/// The fixed part of an RTP header (RFC 3550 §5.1) the relay looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Payload type, 0..=127.
    pub pt: u8,
    /// Sequence number.
    pub seq: u16,
    /// Media timestamp in clock-rate units.
    pub ts: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

/// Parse the fixed RTP header: `None` when shorter than 12 bytes or not version 2.
pub fn parse_rtp(pkt: &[u8]) -> Option<RtpHeader> {
    let h: &[u8; 12] = pkt.get(..12)?.try_into().ok()?;
    if h[0] >> 6 != 2 {
        return None;
    }
    Some(RtpHeader {
        pt: h[1] & 0x7f,
        seq: u16::from_be_bytes([h[2], h[3]]),
        ts: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        ssrc: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
    })
}

/// The payload of an RTP packet: after the CSRCs and any header extension, before padding.
/// `None` when the lengths do not add up.
pub fn payload(pkt: &[u8]) -> Option<&[u8]> {
    let first = *pkt.first()?;
    if first >> 6 != 2 {
        return None;
    }
    let mut start = 12 + 4 * usize::from(first & 0x0f);
    if first & 0x10 != 0 {
        let words = pkt.get(start + 2..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    let mut end = pkt.len();
    if first & 0x20 != 0 {
        end = end.checked_sub(usize::from(*pkt.last()?))?;
    }
    pkt.get(start..end)
}

/// A set of payload types as a 128-bit mask; the empty set means "any".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PtSet(u128);

impl PtSet {
    /// Accepts every payload type.
    pub const ANY: PtSet = PtSet(0);

    /// The set of the given payload types (values above 127 are ignored).
    pub fn of(pts: &[u8]) -> Self {
        PtSet(pts.iter().filter(|&&pt| pt < 128).fold(0, |m, &pt| m | 1u128 << pt))
    }

    /// Whether `pt` is in the set (always true for [`PtSet::ANY`]).
    pub fn allows(self, pt: u8) -> bool {
        self.0 == 0 || (pt < 128 && self.0 & (1u128 << pt) != 0)
    }
}

/// Payload-type rewrite table: entry `i` is the PT to put on packets carrying PT `i`.
#[derive(Clone, PartialEq, Eq)]
pub struct PtMap([u8; 128]);

impl PtMap {
    /// The table that changes nothing.
    pub fn identity() -> Self {
        let mut t = [0u8; 128];
        for (i, slot) in t.iter_mut().enumerate() {
            *slot = i as u8; // i < 128
        }
        PtMap(t)
    }

    /// Identity except for the given `(from, to)` pairs; pairs with a value above 127 are ignored.
    pub fn from_pairs(pairs: &[(u8, u8)]) -> Self {
        let mut map = PtMap::identity();
        for &(from, to) in pairs {
            if from < 128 && to < 128 {
                map.0[usize::from(from)] = to;
            }
        }
        map
    }

    /// Whether the table changes nothing (lets the hot path skip it).
    pub fn is_identity(&self) -> bool {
        self.0.iter().enumerate().all(|(i, &v)| usize::from(v) == i)
    }

    /// Rewrite the PT of an RTP packet in place, keeping the marker bit. Short packets are left alone.
    pub fn apply(&self, pkt: &mut [u8]) {
        if let Some(b) = pkt.get_mut(1) {
            *b = (*b & 0x80) | self.0[usize::from(*b & 0x7f)];
        }
    }
}

impl std::fmt::Debug for PtMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let changed: Vec<(usize, u8)> =
            self.0.iter().enumerate().filter(|&(i, &v)| usize::from(v) != i).map(|(i, &v)| (i, v)).collect();
        f.debug_tuple("PtMap").field(&changed).finish()
    }
}

/// Whether `pkt` starts like an RTCP packet: version 2, packet type 200..=207, at least 8 bytes.
pub fn is_rtcp(pkt: &[u8]) -> bool {
    matches!(pkt, [b0, pt, _, _, _, _, _, _, ..] if b0 >> 6 == 2 && (200..=207).contains(pt))
}

/// The first reception report block found in an RTCP compound packet (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    /// SSRC of the source the report is about.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed).
    pub cumulative_lost: i32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
}

/// Walk an RTCP compound packet and return the first report block of an SR or RR, if any.
/// Malformed lengths end the walk; nothing here can panic.
pub fn first_report_block(pkt: &[u8]) -> Option<ReportBlock> {
    let mut rest = pkt;
    while rest.len() >= 8 {
        let (b0, pt) = (rest[0], rest[1]);
        if b0 >> 6 != 2 {
            return None;
        }
        let words = usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1;
        let body = rest.get(..words * 4)?;
        let count = usize::from(b0 & 0x1f);
        let blocks_at = match pt {
            200 => 28, // header 4, sender SSRC 4, sender info 20
            201 => 8,  // header 4, sender SSRC 4
            _ => 0,
        };
        if blocks_at != 0 && count > 0 {
            let b = body.get(blocks_at..blocks_at + 24)?;
            let lost = i32::from_be_bytes([b[5], b[6], b[7], 0]) >> 8; // sign-extend 24 bits
            return Some(ReportBlock {
                ssrc: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                fraction_lost: b[4],
                cumulative_lost: lost,
                jitter: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
            });
        }
        rest = &rest[words * 4..];
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 12-byte RTP header followed by `payload` bytes of zeros.
    pub(crate) fn rtp_packet(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: usize) -> Vec<u8> {
        let mut p = vec![0x80, pt & 0x7f];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.resize(12 + payload, 0);
        p
    }

    /// An RTCP RR with one report block.
    pub(crate) fn rtcp_rr(about: u32, fraction: u8, lost: i32, jitter: u32) -> Vec<u8> {
        let mut p = vec![0x81, 201, 0, 7];
        p.extend_from_slice(&0x1111_1111u32.to_be_bytes());
        p.extend_from_slice(&about.to_be_bytes());
        p.push(fraction);
        p.extend_from_slice(&lost.to_be_bytes()[1..]);
        p.extend_from_slice(&1000u32.to_be_bytes());
        p.extend_from_slice(&jitter.to_be_bytes());
        p.extend_from_slice(&[0; 8]);
        p
    }

    #[test]
    fn parses_rtp_header() {
        let p = rtp_packet(8, 0xfffe, 0x1234_5678, 0xdead_beef, 160);
        assert_eq!(parse_rtp(&p), Some(RtpHeader { pt: 8, seq: 0xfffe, ts: 0x1234_5678, ssrc: 0xdead_beef }));
    }

    #[test]
    fn rejects_short_and_wrong_version() {
        assert_eq!(parse_rtp(&[0x80; 11]), None);
        let mut p = rtp_packet(0, 1, 1, 1, 0);
        p[0] = 0x40;
        assert_eq!(parse_rtp(&p), None);
        assert_eq!(parse_rtp(&[]), None);
    }

    #[test]
    fn pt_set_any_and_members() {
        assert!(PtSet::ANY.allows(99));
        let s = PtSet::of(&[0, 101, 200]);
        assert!(s.allows(0) && s.allows(101));
        assert!(!s.allows(8) && !s.allows(127) && !s.allows(200));
    }

    #[test]
    fn pt_map_rewrites_and_keeps_marker() {
        let map = PtMap::from_pairs(&[(96, 101), (0, 0)]);
        assert!(!map.is_identity());
        assert!(PtMap::identity().is_identity());
        let mut p = rtp_packet(96, 1, 1, 1, 4);
        p[1] |= 0x80; // marker
        map.apply(&mut p);
        assert_eq!(p[1], 0x80 | 101);
        let mut q = rtp_packet(8, 1, 1, 1, 4);
        map.apply(&mut q);
        assert_eq!(q[1], 8, "unmapped PT passes unchanged");
        map.apply(&mut []); // no panic on empty
    }

    #[test]
    fn reads_rr_report_block_with_negative_loss() {
        let rr = rtcp_rr(42, 25, -3, 77);
        assert!(is_rtcp(&rr));
        let b = first_report_block(&rr).unwrap();
        assert_eq!(b, ReportBlock { ssrc: 42, fraction_lost: 25, cumulative_lost: -3, jitter: 77 });
    }

    #[test]
    fn reads_sr_after_sdes_in_compound() {
        // SDES first (no blocks), then an SR with one block.
        let mut p = vec![0x81, 202, 0, 1, 0, 0, 0, 1];
        let mut sr = vec![0x81, 200, 0, 12];
        sr.extend_from_slice(&[0; 24]); // sender SSRC + sender info
        sr.extend_from_slice(&7u32.to_be_bytes());
        sr.extend_from_slice(&[3, 0, 0, 9]);
        sr.extend_from_slice(&[0; 4]);
        sr.extend_from_slice(&160u32.to_be_bytes());
        sr.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&sr);
        let b = first_report_block(&p).unwrap();
        assert_eq!((b.ssrc, b.fraction_lost, b.cumulative_lost, b.jitter), (7, 3, 9, 160));
    }

    #[test]
    fn truncated_rtcp_is_not_a_panic() {
        let rr = rtcp_rr(42, 25, 3, 77);
        for n in 0..rr.len() {
            assert_eq!(first_report_block(&rr[..n]), None, "prefix {n}");
        }
        assert!(!is_rtcp(&[0x80, 0, 0, 0, 0, 0, 0, 0]));
    }

    #[test]
    fn payload_skips_csrcs_extension_and_padding() {
        let mut pkt = vec![0x80, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        pkt.extend_from_slice(&[9; 160]);
        assert_eq!(payload(&pkt).map(<[u8]>::len), Some(160));
        // One CSRC, a one-word extension, 3 bytes of padding.
        let mut pkt = vec![0xb1, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0xbe, 0xde, 0, 1, 1, 2, 3, 4];
        pkt.extend_from_slice(&[7; 10]);
        pkt.extend_from_slice(&[0, 0, 3]);
        assert_eq!(payload(&pkt), Some(&[7u8; 10][..]));
        assert_eq!(payload(&[0x80, 0, 0]), None);
        assert_eq!(payload(&[0xa0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 200]), None);
    }
}
