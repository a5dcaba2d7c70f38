//! A media description: the `m=` line and the lines under it (RFC 8866 §5.14).
//!
//! Exists to give offer/answer and the relay typed access to one stream — port, transport,
//! formats, codecs, direction, RTCP port — while every line stays in its original order for
//! printing. It must never interpret session-level defaults itself: the effective direction
//! and connection of a stream are [`super::Sdp`]'s to compute.

use std::fmt;

use super::attr::{Fmtp, Rtcp, RtpMap, millis, payload_type};
use super::codec::Codec;
use super::direction::Direction;
use super::line::{Attribute, Connection, Line};

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> ...` and its lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Media {
    /// `audio`, `video`, `text`, `application`, `image`, ...
    pub kind: String,
    /// Transport port; 0 marks a rejected or disabled stream (RFC 3264 §6).
    pub port: u16,
    /// The `/<number of ports>` suffix when written.
    pub port_count: Option<u16>,
    /// Transport protocol: `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, `udptl`, ...
    pub proto: String,
    /// Formats in preference order: payload type numbers for RTP, names otherwise.
    pub formats: Vec<String>,
    /// `i= c= b= k= a=` and unknown lines, in order.
    pub lines: Vec<Line>,
}

impl Media {
    /// A media description without lines.
    pub fn new(kind: &str, port: u16, proto: &str, formats: Vec<String>) -> Media {
        Media { kind: kind.into(), port, port_count: None, proto: proto.into(), formats, lines: Vec::new() }
    }

    pub(super) fn parse(value: &str) -> Result<Media, &'static str> {
        let mut it = value.split_ascii_whitespace();
        let kind = it.next().ok_or("m= line has no media type")?;
        let port_text = it.next().ok_or("m= line has no port")?;
        let (port, count) = match port_text.split_once('/') {
            Some((p, c)) => (p, Some(c)),
            None => (port_text, None),
        };
        let port = port.parse().map_err(|_| "bad m= port")?;
        let port_count = match count {
            Some(c) => Some(c.parse().ok().filter(|&c: &u16| c > 0).ok_or("bad m= port count")?),
            None => None,
        };
        let proto = it.next().ok_or("m= line has no transport protocol")?;
        let formats = it.map(str::to_owned).collect();
        Ok(Media { kind: kind.into(), port, port_count, proto: proto.into(), formats, lines: Vec::new() })
    }

    /// The attributes, in order.
    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> {
        self.lines.iter().filter_map(Line::attribute)
    }

    /// The values of every attribute called `name`.
    pub fn attribute_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.attributes().filter(move |a| a.is(name)).map(Attribute::text)
    }

    /// The first attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes().find(|a| a.is(name))
    }

    /// The stream's own `c=` line, if any (several only for layered multicast).
    pub fn connection(&self) -> Option<&Connection> {
        self.lines.iter().find_map(|l| match l {
            Line::Connection(c) => Some(c),
            _ => None,
        })
    }

    /// The direction written at media level, if any.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes().find_map(|a| Direction::from_attribute(&a.name).filter(|_| a.value.is_none()))
    }

    /// Replaces any direction attribute with `direction`, written explicitly at the end.
    pub fn set_direction(&mut self, direction: Direction) {
        self.lines.retain(|l| l.attribute().is_none_or(|a| Direction::from_attribute(&a.name).is_none()));
        self.lines.push(Line::Attribute(Attribute::flag(direction.as_str())));
    }

    /// The `rtpmap` of `pt`.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap<'_>> {
        self.attribute_values("rtpmap").filter_map(RtpMap::parse).find(|m| m.payload_type == pt)
    }

    /// The `fmtp` of `pt`.
    pub fn fmtp(&self, pt: u8) -> Option<Fmtp<'_>> {
        self.attribute_values("fmtp").filter_map(Fmtp::parse).find(|f| f.payload_type == pt)
    }

    /// `a=ptime` in milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        self.attribute_values("ptime").find_map(millis)
    }

    /// `a=maxptime` in milliseconds.
    pub fn maxptime(&self) -> Option<u32> {
        self.attribute_values("maxptime").find_map(millis)
    }

    /// `a=rtcp` (RFC 3605).
    pub fn rtcp(&self) -> Option<Rtcp<'_>> {
        self.attribute_values("rtcp").find_map(Rtcp::parse)
    }

    /// An RTP transport (`RTP/AVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF`, ...): formats are
    /// payload type numbers.
    pub fn is_rtp(&self) -> bool {
        self.proto.split('/').any(|p| p.eq_ignore_ascii_case("RTP"))
    }

    /// Port 0: rejected in an answer, disabled in an offer.
    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }

    /// The payload type numbers in the `m=` line, in order (none for a non-RTP transport).
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        let rtp = self.is_rtp();
        self.formats.iter().filter(move |_| rtp).filter_map(|f| payload_type(f))
    }

    /// The codec behind `pt`: its `rtpmap` (with `fmtp`), else the RFC 3551 static type.
    pub fn codec(&self, pt: u8) -> Option<Codec> {
        match self.rtpmap(pt) {
            Some(map) => Some(Codec::from_rtpmap(&map, self.fmtp(pt).as_ref())),
            None => {
                let mut codec = Codec::from_static(pt)?;
                codec.fmtp = self.fmtp(pt).map(|f| f.params.to_owned().into());
                Some(codec)
            }
        }
    }

    /// The codecs of the `m=` line in order; a dynamic type without `rtpmap` is left out.
    pub fn codecs(&self) -> Vec<Codec> {
        // One pass over the attributes rather than one per payload type.
        let maps: Vec<RtpMap<'_>> = self.attribute_values("rtpmap").filter_map(RtpMap::parse).collect();
        let fmtps: Vec<Fmtp<'_>> = self.attribute_values("fmtp").filter_map(Fmtp::parse).collect();
        let fmtp = |pt: u8| fmtps.iter().find(|f| f.payload_type == pt);
        let resolve = |pt: u8| match maps.iter().find(|m| m.payload_type == pt) {
            Some(map) => Some(Codec::from_rtpmap(map, fmtp(pt))),
            None => {
                let mut codec = Codec::from_static(pt)?;
                codec.fmtp = fmtp(pt).map(|f| f.params.to_owned().into());
                Some(codec)
            }
        };
        self.payload_types().filter_map(resolve).collect()
    }

    /// The first `telephone-event` codec offered.
    pub fn telephone_event(&self) -> Option<Codec> {
        self.codecs().into_iter().find(Codec::is_telephone_event)
    }
}

impl fmt::Display for Media {
    /// The `m=` line's value (without `m=`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.port)?;
        if let Some(count) = self.port_count {
            write!(f, "/{count}")?;
        }
        write!(f, " {}", self.proto)?;
        for fmt in &self.formats {
            write!(f, " {fmt}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(m: &str, attrs: &[&str]) -> Media {
        let mut media = Media::parse(m).unwrap();
        media.lines = attrs.iter().map(|a| Line::parse('a', a).unwrap()).collect();
        media
    }

    #[test]
    fn m_line_parses_and_prints() {
        for text in ["audio 49170 RTP/AVP 0 8 101", "video 0 RTP/AVP 31", "audio 5004/2 RTP/AVP 0", "image 0 udptl t38"]
        {
            assert_eq!(Media::parse(text).unwrap().to_string(), text);
        }
        let m = Media::parse("audio 5004/2 UDP/TLS/RTP/SAVPF 111").unwrap();
        assert_eq!((m.port, m.port_count, m.proto.as_str()), (5004, Some(2), "UDP/TLS/RTP/SAVPF"));
    }

    #[test]
    fn bad_m_lines_name_the_defect() {
        assert_eq!(Media::parse("audio 70000 RTP/AVP 0"), Err("bad m= port"));
        assert_eq!(Media::parse("audio -1 RTP/AVP 0"), Err("bad m= port"));
        assert_eq!(Media::parse("audio 5004/0 RTP/AVP 0"), Err("bad m= port count"));
        assert_eq!(Media::parse("audio 5004"), Err("m= line has no transport protocol"));
        assert_eq!(Media::parse(""), Err("m= line has no media type"));
    }

    #[test]
    fn codecs_resolve_static_and_dynamic_types() {
        let m = media(
            "audio 1 RTP/AVP 9 0 96 101 97",
            &["rtpmap:96 opus/48000/2", "fmtp:96 useinbandfec=1", "rtpmap:101 telephone-event/8000", "fmtp:101 0-15"],
        );
        let codecs = m.codecs();
        let names: Vec<_> = codecs.iter().map(|c| c.rtpmap()).collect();
        assert_eq!(names, ["9 G722/8000", "0 PCMU/8000", "96 opus/48000/2", "101 telephone-event/8000"]);
        assert_eq!(codecs[2].fmtp.as_deref(), Some("useinbandfec=1"));
        assert_eq!(m.telephone_event().and_then(|c| c.fmtp).as_deref(), Some("0-15"));
    }

    #[test]
    fn non_rtp_formats_are_not_payload_types() {
        let m = media("application 9 UDP/DTLS/SCTP 5000", &[]);
        assert_eq!(m.payload_types().count(), 0);
        assert!(!m.is_rtp());
    }

    #[test]
    fn ptime_rtcp_and_direction() {
        let mut m = media("audio 1 RTP/AVP 0", &["ptime:20", "maxptime:40", "rtcp:53021 IN IP4 192.0.2.1", "sendonly"]);
        assert_eq!((m.ptime(), m.maxptime()), (Some(20), Some(40)));
        assert_eq!(m.rtcp().map(|r| r.port), Some(53021));
        assert_eq!(m.direction(), Some(Direction::SendOnly));
        m.set_direction(Direction::Inactive);
        assert_eq!(m.direction(), Some(Direction::Inactive));
        assert_eq!(m.attribute_values("inactive").count(), 1);
        assert!(m.attribute("sendonly").is_none());
    }
}
