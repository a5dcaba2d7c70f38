//! Typed views of the attributes the media layer reads: `rtpmap`, `fmtp`, `ptime`,
//! `maxptime` (RFC 8866 §6) and `rtcp` (RFC 3605).
//!
//! Exists so offer/answer and the relay read these values one way. The views borrow from
//! the [`super::Attribute`] text and are parsed on demand; a malformed one reads as absent
//! (a dynamic payload type without a readable `rtpmap` is simply not negotiated). They must
//! never change the text they view: rewriting goes through new attribute values.

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpMap<'a> {
    /// The RTP payload type, 0..=127.
    pub payload_type: u8,
    /// The encoding name as written, e.g. `opus` (compare case-insensitively).
    pub encoding: &'a str,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Audio channels when given.
    pub channels: Option<u8>,
}

impl<'a> RtpMap<'a> {
    /// Parses an `rtpmap` value such as `96 opus/48000/2`.
    pub fn parse(value: &'a str) -> Option<RtpMap<'a>> {
        let (pt, rest) = value.trim().split_once(' ')?;
        let mut parts = rest.trim().split('/');
        let encoding = parts.next().filter(|e| !e.is_empty())?;
        let clock_rate = parts.next()?.parse().ok()?;
        let channels = match parts.next() {
            Some(c) => Some(c.parse().ok().filter(|&c| c > 0)?),
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(RtpMap { payload_type: payload_type(pt)?, encoding, clock_rate, channels })
    }
}

/// `a=fmtp:<format> <parameters>`, for an RTP payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fmtp<'a> {
    /// The RTP payload type the parameters apply to.
    pub payload_type: u8,
    /// The parameter text as written, e.g. `0-16` or `minptime=10;useinbandfec=1`.
    pub params: &'a str,
}

impl<'a> Fmtp<'a> {
    /// Parses an `fmtp` value such as `101 0-16`.
    pub fn parse(value: &'a str) -> Option<Fmtp<'a>> {
        let (pt, params) = value.split_once(' ').unwrap_or((value, ""));
        Some(Fmtp { payload_type: payload_type(pt)?, params: params.trim_start() })
    }

    /// The value of `name` in `name=value;name2=value2` parameters (case-insensitive name).
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params.split(';').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rtcp<'a> {
    /// The RTCP port.
    pub port: u16,
    /// `(nettype, addrtype, address)` when given.
    pub connection: Option<(&'a str, &'a str, &'a str)>,
}

impl<'a> Rtcp<'a> {
    /// Parses an `rtcp` value such as `53021 IN IP4 126.16.64.4`.
    pub fn parse(value: &'a str) -> Option<Rtcp<'a>> {
        let mut it = value.split_ascii_whitespace();
        let port = it.next()?.parse().ok()?;
        let connection = match (it.next(), it.next(), it.next()) {
            (None, _, _) => None,
            (Some(n), Some(t), Some(a)) => Some((n, t, a)),
            _ => return None,
        };
        if it.next().is_some() {
            return None;
        }
        Some(Rtcp { port, connection })
    }
}

/// A `ptime`/`maxptime` value in whole milliseconds; `20.0` reads as 20.
pub(super) fn millis(value: &str) -> Option<u32> {
    let value = value.trim();
    let whole = value.split_once('.').map_or(value, |(w, frac)| if frac.bytes().all(|b| b == b'0') { w } else { "" });
    whole.parse().ok().filter(|&ms| ms > 0)
}

/// An RTP payload type number (0..=127) written as a format token.
pub(super) fn payload_type(token: &str) -> Option<u8> {
    if token.is_empty() || token.len() > 3 || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok().filter(|&pt: &u8| pt <= 127)
}

/// The payload type that starts the value of a per-format attribute (`rtpmap`, `fmtp`,
/// `rtcp-fb`), with the rest of the value.
pub(super) fn split_payload_type(value: &str) -> Option<(u8, &str)> {
    let end = value.find(' ').unwrap_or(value.len());
    let (pt, rest) = value.split_at(end);
    Some((payload_type(pt)?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtpmap_reads_name_rate_and_channels() {
        assert_eq!(
            RtpMap::parse("111 opus/48000/2"),
            Some(RtpMap { payload_type: 111, encoding: "opus", clock_rate: 48000, channels: Some(2) })
        );
        assert_eq!(
            RtpMap::parse("9 G722/8000"),
            Some(RtpMap { payload_type: 9, encoding: "G722", clock_rate: 8000, channels: None })
        );
    }

    #[test]
    fn malformed_rtpmap_reads_as_absent() {
        for bad in
            ["", "96", "96 opus", "96 opus/x", "128 foo/8000", "96 /8000", "96 a/8000/0", "96 a/1/2/3", "x a/8000"]
        {
            assert_eq!(RtpMap::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn fmtp_params_are_found_by_name() {
        let f = Fmtp::parse("111 minptime=10; useinbandfec=1").unwrap();
        assert_eq!(f.payload_type, 111);
        assert_eq!(f.param("useinbandfec"), Some("1"));
        assert_eq!(f.param("stereo"), None);
        assert_eq!(Fmtp::parse("101 0-16").unwrap().params, "0-16");
        assert_eq!(Fmtp::parse("abc 0-16"), None);
    }

    #[test]
    fn rtcp_with_and_without_address() {
        assert_eq!(Rtcp::parse("53021"), Some(Rtcp { port: 53021, connection: None }));
        assert_eq!(
            Rtcp::parse("53021 IN IP4 126.16.64.4"),
            Some(Rtcp { port: 53021, connection: Some(("IN", "IP4", "126.16.64.4")) })
        );
        assert_eq!(Rtcp::parse("53021 IN IP4"), None);
        assert_eq!(Rtcp::parse("70000"), None);
    }

    #[test]
    fn ptime_values() {
        assert_eq!(millis("20"), Some(20));
        assert_eq!(millis("20.0"), Some(20));
        assert_eq!(millis("20.5"), None);
        assert_eq!(millis("0"), None);
        assert_eq!(millis("x"), None);
    }

    #[test]
    fn payload_type_tokens() {
        assert_eq!(payload_type("0"), Some(0));
        assert_eq!(payload_type("127"), Some(127));
        assert_eq!(payload_type("128"), None);
        assert_eq!(payload_type("+1"), None);
        assert_eq!(payload_type("webrtc-datachannel"), None);
        assert_eq!(split_payload_type("96 nack pli"), Some((96, " nack pli")));
        assert_eq!(split_payload_type("* nack"), None);
    }
}
