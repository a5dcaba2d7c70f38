//! A whole session description: parse from bytes, print back (RFC 8866 §5).
//!
//! Exists so the B2BUA can read a peer's SDP, change what it must (addresses, ports, origin,
//! formats) and send the rest on untouched. Every line is kept in order, so printing a parsed
//! description gives the same text with CRLF line ends; only `o=`, `c=` and `m=` are reprinted
//! from their fields, with single spaces. Parsing is strict where the media layer depends on
//! a value (`v=0` first, one `o=` and `s=`, numeric `m=` ports) and lenient elsewhere (line
//! order, unknown letters, blank lines). It must never panic on peer input or put peer text
//! in an error, and never accept more than [`Limits`] allow.

use std::fmt::{self, Write as _};

use bytes::{Bytes, BytesMut};

use super::error::ParseError;
use super::limits::Limits;
use super::line::{Attribute, Connection, Line};
use super::media::Media;
use super::origin::Origin;

/// A parsed or built session description.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sdp {
    /// `o=`.
    pub origin: Origin,
    /// `s=`, `-` when there is no name to give.
    pub session_name: String,
    /// Session-level lines after `v= o= s=`, in order (`i u e p c b t r z k a` and unknown).
    pub lines: Vec<Line>,
    /// The media descriptions, in order.
    pub media: Vec<Media>,
}

impl Sdp {
    /// Parses an SDP body; LF or CRLF line ends, blank lines ignored.
    pub fn parse(input: &[u8], limits: &Limits) -> Result<Sdp, ParseError> {
        if input.len() > limits.max_size {
            return Err(ParseError::TooLarge { limit: limits.max_size });
        }
        let text = std::str::from_utf8(input).map_err(|_| ParseError::Utf8)?;
        let mut parser = Parser { limits, origin: None, session_name: None, lines: Vec::new(), media: Vec::new() };
        let mut seen_version = false;
        let body = text.strip_suffix('\n').unwrap_or(text);
        for (index, raw) in body.split('\n').enumerate() {
            let number = index + 1;
            if number > limits.max_lines {
                return Err(ParseError::TooManyLines { limit: limits.max_lines });
            }
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.is_empty() {
                continue;
            }
            let malformed = |what| ParseError::Malformed { line: number, what };
            let (kind, value) = split_line(line).map_err(malformed)?;
            if !seen_version {
                if kind != 'v' {
                    return Err(ParseError::MissingVersion);
                }
                if value.trim() != "0" {
                    return Err(malformed("unsupported v= version"));
                }
                seen_version = true;
                continue;
            }
            parser.line(kind, value).map_err(|e| e.at(number))?;
        }
        if !seen_version {
            return Err(ParseError::Empty);
        }
        parser.finish()
    }

    /// The session-level attributes, in order.
    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> {
        self.lines.iter().filter_map(Line::attribute)
    }

    /// The session-level `c=` line.
    pub fn connection(&self) -> Option<&Connection> {
        self.lines.iter().find_map(|l| match l {
            Line::Connection(c) => Some(c),
            _ => None,
        })
    }

    /// Where stream `index` is sent: its own `c=`, else the session's.
    pub fn media_connection(&self, index: usize) -> Option<&Connection> {
        self.media.get(index)?.connection().or_else(|| self.connection())
    }

    /// The text with CRLF line ends, ready to be a SIP body.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(512);
        // Writing into BytesMut cannot fail: it grows as needed.
        let _ = write!(out, "{self}");
        out.freeze()
    }
}

impl fmt::Display for Sdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v=0\r\no={}\r\ns={}\r\n", self.origin, self.session_name)?;
        for line in &self.lines {
            write!(f, "{line}\r\n")?;
        }
        for media in &self.media {
            write!(f, "m={media}\r\n")?;
            for line in &media.lines {
                write!(f, "{line}\r\n")?;
            }
        }
        Ok(())
    }
}

/// `<letter>=<value>`; the value may be empty.
fn split_line(line: &str) -> Result<(char, &str), &'static str> {
    if line.bytes().any(|b| b == b'\r' || b == 0) {
        return Err("control character in line");
    }
    let mut bytes = line.bytes();
    match (bytes.next(), bytes.next(), line.get(2..)) {
        (Some(kind), Some(b'='), Some(value)) if kind.is_ascii_alphabetic() => Ok((char::from(kind), value)),
        _ => Err("line is not <type>=<value>"),
    }
}

/// A defect found while adding one line; turned into [`ParseError`] with its line number.
enum LineError {
    Malformed(&'static str),
    TooManyMedia(usize),
}

impl LineError {
    fn at(self, line: usize) -> ParseError {
        match self {
            LineError::Malformed(what) => ParseError::Malformed { line, what },
            LineError::TooManyMedia(limit) => ParseError::TooManyMedia { limit },
        }
    }
}

impl From<&'static str> for LineError {
    fn from(what: &'static str) -> Self {
        LineError::Malformed(what)
    }
}

struct Parser<'l> {
    limits: &'l Limits,
    origin: Option<Origin>,
    session_name: Option<String>,
    lines: Vec<Line>,
    media: Vec<Media>,
}

impl Parser<'_> {
    fn line(&mut self, kind: char, value: &str) -> Result<(), LineError> {
        let in_media = !self.media.is_empty();
        match kind {
            'v' => return Err("second v= line".into()),
            'm' if self.media.len() >= self.limits.max_media => {
                return Err(LineError::TooManyMedia(self.limits.max_media));
            }
            'm' => self.media.push(Media::parse(value)?),
            'o' | 's' if in_media => return Err("o= or s= inside a media section".into()),
            'o' if self.origin.is_some() => return Err("second o= line".into()),
            'o' => self.origin = Some(Origin::parse(value)?),
            's' if self.session_name.is_some() => return Err("second s= line".into()),
            's' => self.session_name = Some(value.to_owned()),
            _ => {
                let line = Line::parse(kind, value)?;
                match self.media.last_mut() {
                    Some(media) => media.lines.push(line),
                    None => self.lines.push(line),
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Sdp, ParseError> {
        Ok(Sdp {
            origin: self.origin.ok_or(ParseError::MissingOrigin)?,
            session_name: self.session_name.ok_or(ParseError::MissingSessionName)?,
            lines: self.lines,
            media: self.media,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    fn parse(text: &str) -> Result<Sdp, ParseError> {
        Sdp::parse(text.as_bytes(), &Limits::default())
    }

    #[test]
    fn real_world_sdps_round_trip_exactly() {
        for (name, text) in ALL {
            let sdp = parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(sdp.to_string(), *text, "{name}");
            assert_eq!(sdp.to_bytes(), text.as_bytes(), "{name}");
        }
    }

    #[test]
    fn lf_only_input_prints_with_crlf() {
        let lf = BARESIP.replace("\r\n", "\n");
        assert_eq!(parse(&lf).unwrap().to_string(), BARESIP);
    }

    #[test]
    fn typed_fields_of_a_parsed_offer() {
        let sdp = parse(BARESIP).unwrap();
        assert_eq!(sdp.origin.username, "-");
        assert_eq!(sdp.origin.sess_version, 3467812563);
        assert_eq!(sdp.connection().and_then(Connection::ip), Some("192.0.2.10".parse().unwrap()));
        assert_eq!(sdp.media.len(), 1);
        let audio = &sdp.media[0];
        assert_eq!((audio.kind.as_str(), audio.port, audio.proto.as_str()), ("audio", 10000, "RTP/AVP"));
        assert_eq!(audio.formats, ["96", "9", "0", "8", "101"]);
        assert_eq!(audio.ptime(), Some(20));
        assert_eq!(sdp.media_connection(0), sdp.connection());
    }

    #[test]
    fn ipv6_media_connection_overrides_session() {
        let sdp = parse(IPV6).unwrap();
        assert_eq!(sdp.media_connection(0).and_then(Connection::ip), Some("2001:db8::20".parse().unwrap()));
        assert_eq!(sdp.origin.addr_type, "IP6");
        assert_eq!(sdp.media_connection(1).and_then(Connection::ip), Some("2001:db8::10".parse().unwrap()));
        assert_eq!(sdp.media_connection(2), None, "no such stream");
    }

    #[test]
    fn trailing_blank_lines_and_missing_final_newline_are_accepted() {
        let text = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\n\n\n";
        assert_eq!(parse(text).unwrap().to_string(), "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n");
        assert!(parse("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-").is_ok());
    }

    #[test]
    fn malformed_inputs_give_clean_errors() {
        let o = "o=- 1 1 IN IP4 192.0.2.1\r\n";
        let cases: &[(&str, ParseError)] = &[
            ("", ParseError::Empty),
            ("\r\n\r\n", ParseError::Empty),
            (&format!("{o}s=-\r\n"), ParseError::MissingVersion),
            ("v=1\r\n", ParseError::Malformed { line: 1, what: "unsupported v= version" }),
            ("v=0\r\ns=-\r\n", ParseError::MissingOrigin),
            (&format!("v=0\r\n{o}"), ParseError::MissingSessionName),
            (&format!("v=0\r\n{o}{o}"), ParseError::Malformed { line: 3, what: "second o= line" }),
            (&format!("v=0\r\n{o}s=-\r\nv=0\r\n"), ParseError::Malformed { line: 4, what: "second v= line" }),
            (
                &format!("v=0\r\n{o}s=-\r\nm=audio 99999 RTP/AVP 0\r\n"),
                ParseError::Malformed { line: 4, what: "bad m= port" },
            ),
            (
                &format!("v=0\r\n{o}s=-\r\nm=audio x RTP/AVP 0\r\n"),
                ParseError::Malformed { line: 4, what: "bad m= port" },
            ),
            (&format!("v=0\r\n{o}s=-\r\nc=IN IP4\r\n"), ParseError::Malformed { line: 4, what: "malformed c= line" }),
            (
                &format!("v=0\r\n{o}s=-\r\nhello\r\n"),
                ParseError::Malformed { line: 4, what: "line is not <type>=<value>" },
            ),
            (
                &format!("v=0\r\n{o}s=-\r\n=x\r\n"),
                ParseError::Malformed { line: 4, what: "line is not <type>=<value>" },
            ),
            (
                &format!("v=0\r\n{o}s=-\r\na=x\ry\r\n"),
                ParseError::Malformed { line: 4, what: "control character in line" },
            ),
            (
                &format!("v=0\r\n{o}s=-\r\nm=audio 1 RTP/AVP 0\r\ns=x\r\n"),
                ParseError::Malformed { line: 5, what: "o= or s= inside a media section" },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).err(), Some(*want), "{text:?}");
        }
    }

    #[test]
    fn non_utf8_is_rejected() {
        let mut body = BARESIP.as_bytes().to_vec();
        body.extend_from_slice(b"a=tool:\xff\xfe\r\n");
        assert_eq!(Sdp::parse(&body, &Limits::default()), Err(ParseError::Utf8));
    }

    #[test]
    fn limits_are_enforced() {
        let small = Limits { max_size: 100, ..Limits::default() };
        assert_eq!(Sdp::parse(BARESIP.as_bytes(), &small), Err(ParseError::TooLarge { limit: 100 }));
        let few = Limits { max_lines: 5, ..Limits::default() };
        assert_eq!(Sdp::parse(BARESIP.as_bytes(), &few), Err(ParseError::TooManyLines { limit: 5 }));
        let one = Limits { max_media: 1, ..Limits::default() };
        assert_eq!(Sdp::parse(LINPHONE.as_bytes(), &one), Err(ParseError::TooManyMedia { limit: 1 }));
        let blank_lines = format!("v=0\r\n{}", "\r\n".repeat(300));
        assert_eq!(parse(&blank_lines), Err(ParseError::TooManyLines { limit: 256 }));
    }

    #[test]
    fn errors_never_echo_input() {
        let secret = "m=audio SECRET-TOKEN RTP/AVP 0";
        let err = parse(&format!("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n{secret}\r\n")).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("SECRET"));
    }
}
