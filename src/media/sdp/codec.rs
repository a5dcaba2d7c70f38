//! The codec model: an RTP payload format as offer/answer sees it.
//!
//! Exists so "do we both speak this?" is one comparison: encoding name (case-insensitive,
//! RFC 4855 §3), clock rate and channels — never the payload type number, which each side
//! picks for dynamic formats. Holds the RFC 3551 static payload types. It must never decide
//! policy (which codecs a tenant allows); callers hand in their list.

use std::borrow::Cow;
use std::fmt;

use super::attr::{Fmtp, RtpMap};

/// An RTP payload format with the payload type number one side uses for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Codec {
    /// The RTP payload type, 0..=127.
    pub payload_type: u8,
    /// The encoding name, e.g. `PCMU`, `opus`, `telephone-event`.
    pub name: Cow<'static, str>,
    /// The RTP clock rate in Hz (not the sampling rate: G.722 is 8000, RFC 3551 §4.5.2).
    pub clock_rate: u32,
    /// Audio channels; 1 when the `rtpmap` gives none.
    pub channels: u8,
    /// Format parameters (`a=fmtp`), verbatim.
    pub fmtp: Option<Cow<'static, str>>,
}

impl Codec {
    /// G.711 µ-law, static payload type 0.
    pub const PCMU: Codec = Codec::fixed(0, "PCMU", 8000, 1);
    /// G.711 A-law, static payload type 8.
    pub const PCMA: Codec = Codec::fixed(8, "PCMA", 8000, 1);
    /// G.722, static payload type 9; 16 kHz audio on an 8000 Hz RTP clock (RFC 3551 §4.5.2).
    pub const G722: Codec = Codec::fixed(9, "G722", 8000, 1);
    /// Comfort noise, static payload type 13 (RFC 3389).
    pub const CN: Codec = Codec::fixed(13, "CN", 8000, 1);

    const fn fixed(payload_type: u8, name: &'static str, clock_rate: u32, channels: u8) -> Codec {
        Codec { payload_type, name: Cow::Borrowed(name), clock_rate, channels, fmtp: None }
    }

    const fn with_fmtp(
        payload_type: u8,
        name: &'static str,
        clock_rate: u32,
        channels: u8,
        fmtp: &'static str,
    ) -> Codec {
        Codec { payload_type, name: Cow::Borrowed(name), clock_rate, channels, fmtp: Some(Cow::Borrowed(fmtp)) }
    }

    /// RFC 4733 `telephone-event/8000` with events 0-16 (DTMF digits and flash).
    pub const fn telephone_event(payload_type: u8) -> Codec {
        Codec::with_fmtp(payload_type, "telephone-event", 8000, 1, "0-16")
    }

    /// RFC 7587 Opus, always `opus/48000/2` in SDP whatever is actually sent.
    pub const fn opus(payload_type: u8) -> Codec {
        Codec::with_fmtp(payload_type, "opus", 48000, 2, "useinbandfec=1")
    }

    /// The RFC 3551 §6 codec of a static payload type, `None` for dynamic or unassigned ones.
    pub fn from_static(payload_type: u8) -> Option<Codec> {
        let (name, rate, channels) = match payload_type {
            0 => ("PCMU", 8000, 1),
            3 => ("GSM", 8000, 1),
            4 => ("G723", 8000, 1),
            5 => ("DVI4", 8000, 1),
            6 => ("DVI4", 16000, 1),
            7 => ("LPC", 8000, 1),
            8 => ("PCMA", 8000, 1),
            9 => ("G722", 8000, 1),
            10 => ("L16", 44100, 2),
            11 => ("L16", 44100, 1),
            12 => ("QCELP", 8000, 1),
            13 => ("CN", 8000, 1),
            14 => ("MPA", 90000, 1),
            15 => ("G728", 8000, 1),
            16 => ("DVI4", 11025, 1),
            17 => ("DVI4", 22050, 1),
            18 => ("G729", 8000, 1),
            25 => ("CelB", 90000, 1),
            26 => ("JPEG", 90000, 1),
            28 => ("nv", 90000, 1),
            31 => ("H261", 90000, 1),
            32 => ("MPV", 90000, 1),
            33 => ("MP2T", 90000, 1),
            34 => ("H263", 90000, 1),
            _ => return None,
        };
        Some(Codec::fixed(payload_type, name, rate, channels))
    }

    /// The codec an `rtpmap` describes, with the parameters of a matching `fmtp`.
    pub fn from_rtpmap(map: &RtpMap<'_>, fmtp: Option<&Fmtp<'_>>) -> Codec {
        Codec {
            payload_type: map.payload_type,
            name: Cow::Owned(map.encoding.to_owned()),
            clock_rate: map.clock_rate,
            channels: map.channels.unwrap_or(1),
            fmtp: fmtp.map(|f| Cow::Owned(f.params.to_owned())),
        }
    }

    /// Same payload format, whatever the payload type numbers and format parameters.
    pub fn same_format(&self, other: &Codec) -> bool {
        self.name.eq_ignore_ascii_case(&other.name)
            && self.clock_rate == other.clock_rate
            && self.channels == other.channels
    }

    /// RFC 4733 named events (DTMF).
    pub fn is_telephone_event(&self) -> bool {
        self.name.eq_ignore_ascii_case("telephone-event")
    }

    /// Carries no voice of its own: telephone-event, comfort noise, RED, FEC.
    pub fn is_auxiliary(&self) -> bool {
        ["telephone-event", "CN", "red", "ulpfec"].iter().any(|n| self.name.eq_ignore_ascii_case(n))
    }

    /// The same codec under another payload type number.
    pub fn with_payload_type(&self, payload_type: u8) -> Codec {
        Codec { payload_type, ..self.clone() }
    }

    /// The `rtpmap` value, e.g. `96 opus/48000/2` (channels only when not 1).
    pub fn rtpmap(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.payload_type, self.name, self.clock_rate)?;
        if self.channels != 1 {
            write!(f, "/{}", self.channels)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_payload_types_follow_rfc3551() {
        assert_eq!(Codec::from_static(0), Some(Codec::PCMU));
        assert_eq!(Codec::from_static(8), Some(Codec::PCMA));
        assert_eq!(Codec::from_static(9), Some(Codec::G722));
        assert_eq!(Codec::G722.clock_rate, 8000, "G.722's RTP clock is 8000 although it samples at 16 kHz");
        assert_eq!(Codec::from_static(18).map(|c| c.rtpmap()), Some("18 G729/8000".into()));
        assert_eq!(Codec::from_static(96), None);
        assert_eq!(Codec::from_static(2), None, "2 was G.721, unassigned since RFC 3551");
    }

    #[test]
    fn dynamic_codecs_print_their_rtpmap() {
        assert_eq!(Codec::telephone_event(101).rtpmap(), "101 telephone-event/8000");
        assert_eq!(Codec::telephone_event(101).fmtp.as_deref(), Some("0-16"));
        assert_eq!(Codec::opus(111).rtpmap(), "111 opus/48000/2");
    }

    #[test]
    fn same_format_ignores_payload_type_case_and_fmtp() {
        let theirs = Codec::from_rtpmap(&RtpMap::parse("96 Telephone-Event/8000").unwrap(), None);
        assert!(theirs.same_format(&Codec::telephone_event(101)));
        assert!(theirs.is_telephone_event() && theirs.is_auxiliary());
        let wideband = Codec::from_rtpmap(&RtpMap::parse("97 telephone-event/16000").unwrap(), None);
        assert!(!wideband.same_format(&Codec::telephone_event(101)));
        let mono_opus = Codec::from_rtpmap(&RtpMap::parse("111 opus/48000").unwrap(), None);
        assert!(!mono_opus.same_format(&Codec::opus(111)));
    }

    #[test]
    fn from_rtpmap_takes_fmtp_verbatim() {
        let fmtp = Fmtp::parse("111 minptime=10;useinbandfec=1").unwrap();
        let c = Codec::from_rtpmap(&RtpMap::parse("111 opus/48000/2").unwrap(), Some(&fmtp));
        assert_eq!(c.fmtp.as_deref(), Some("minptime=10;useinbandfec=1"));
        assert!(c.same_format(&Codec::opus(96)));
        assert_eq!(c.with_payload_type(96).payload_type, 96);
    }
}
