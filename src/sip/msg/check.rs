//! Request and response validation a server runs before acting on a message.
//!
//! Exists so the rules of RFC 3261 §8.2 / §16.3 and the RFC 4475 verdicts live in one
//! place, each mapped to the status the server should answer ([`Reject`]). What needs
//! server policy is left to the server and only exposed: unknown methods (501), unknown
//! Require tags (420), Max-Forwards 0 (483), media types (415), Accept (406).
//! It must never answer anything itself, and never reject what RFC 4475 calls valid.

use super::build::reason_phrase;
use super::error::ParseError;
use super::header::HeaderName;
use super::message::{Message, Version};
use super::uri::{Uri, parse_uri};

/// Why a request must be refused, and with which status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{status} {}: {error}", reason_phrase(*.status))]
pub struct Reject {
    /// The status to answer: 400, 416, 501, 505 or 513.
    pub status: u16,
    /// What was wrong.
    pub error: ParseError,
}

impl Reject {
    fn new(status: u16, error: ParseError) -> Reject {
        Reject { status, error }
    }

    /// The reason phrase for [`Reject::status`].
    pub fn reason(&self) -> &'static str {
        reason_phrase(self.status)
    }
}

impl From<ParseError> for Reject {
    /// The status for a defect found while parsing: 505 / 416 / 513 where those fit, 400
    /// otherwise.
    fn from(error: ParseError) -> Reject {
        let status = match error {
            ParseError::UnsupportedVersion => 505,
            ParseError::UnsupportedScheme => 416,
            ParseError::TooLarge => 513,
            _ => 400,
        };
        Reject::new(status, error)
    }
}

/// Headers that must appear exactly once in a request (RFC 3261 §8.1.1, RFC 4475 §3.3.8).
const ONCE: [HeaderName; 4] = [HeaderName::To, HeaderName::From, HeaderName::CallId, HeaderName::CSeq];

fn count(msg: &Message, kind: HeaderName) -> usize {
    msg.headers_named(kind).count()
}

fn once(msg: &Message, kinds: &[HeaderName]) -> Result<(), ParseError> {
    for &k in kinds {
        match count(msg, k) {
            0 => return Err(ParseError::Missing(k)),
            1 => {}
            _ => return Err(ParseError::Duplicate(k)),
        }
    }
    if count(msg, HeaderName::Via) == 0 {
        return Err(ParseError::Missing(HeaderName::Via));
    }
    Ok(())
}

/// Checks a parsed request. `Ok` means the server may act on it; the error carries the
/// status to answer.
///
/// Checked: version (505); Request-URI syntax (400), scheme sip/sips/tel (416) and no
/// `?headers` (400); To, From, Call-ID, CSeq present once and Via present (400); the
/// syntax of To, From, Call-ID, CSeq, Max-Forwards (at most once, 0..=255), every Via,
/// Contact, Route and Record-Route, and Content-Type (400); CSeq method equal to the
/// request method (400, or 501 when the request method is unknown, as RFC 4475 §3.1.2.18
/// prefers). Missing Max-Forwards, missing branch and missing From tag are accepted for
/// RFC 2543 peers (RFC 4475 §3.4.1).
pub fn check_request(msg: &Message) -> Result<(), Reject> {
    let method = msg.method().ok_or(Reject::new(400, ParseError::StartLine))?;
    if msg.version() != Version::Sip20 {
        return Err(Reject::new(505, ParseError::UnsupportedVersion));
    }
    let uri = msg.request_uri_str().unwrap_or("");
    match parse_uri(uri).map_err(|_| Reject::new(400, ParseError::Uri))? {
        Uri::Other(_) => return Err(Reject::new(416, ParseError::UnsupportedScheme)),
        Uri::Sip(u) if u.headers().is_some() => {
            return Err(Reject::new(400, ParseError::UriHeaders));
        }
        Uri::Sip(_) | Uri::Tel(_) => {}
    }
    once(msg, &ONCE)?;
    if count(msg, HeaderName::MaxForwards) > 1 {
        return Err(ParseError::Duplicate(HeaderName::MaxForwards).into());
    }
    msg.to()?;
    msg.from()?;
    msg.call_id()?;
    let cseq = msg.cseq()?;
    msg.max_forwards()?;
    msg.content_type()?;
    for v in msg.vias() {
        v?;
    }
    for c in msg.contacts() {
        c?;
    }
    for r in msg.routes().chain(msg.record_routes()) {
        r?;
    }
    if cseq.method != method {
        let status = if method.is_extension() { 501 } else { 400 };
        return Err(Reject::new(status, ParseError::CSeqMethodMismatch));
    }
    Ok(())
}

/// Checks a parsed response before it is matched to a transaction; an error means drop
/// it (responses are never answered). Checks version, status line (done by the parser),
/// one or more Via with a valid top Via, and To, From, Call-ID, CSeq once and well-formed
/// (RFC 4475 §3.1.2.5, §3.1.2.19).
pub fn check_response(msg: &Message) -> Result<(), ParseError> {
    if msg.is_request() {
        return Err(ParseError::StartLine);
    }
    if msg.version() != Version::Sip20 {
        return Err(ParseError::UnsupportedVersion);
    }
    once(msg, &ONCE)?;
    msg.top_via()?;
    msg.to()?;
    msg.from()?;
    msg.call_id()?;
    msg.cseq()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::limits::Limits;
    use super::super::parse::parse_datagram;
    use super::*;
    use bytes::Bytes;

    const HDRS: &str = "Via: SIP/2.0/UDP h.example;branch=z9hG4bK1\r\nTo: <sip:b@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: c1\r\n";

    fn check(start: &str, extra: &str) -> Result<(), Reject> {
        let raw = format!("{start}\r\n{HDRS}{extra}\r\n");
        let m = parse_datagram(Bytes::from(raw), &Limits::default()).unwrap();
        check_request(&m)
    }

    fn status(r: Result<(), Reject>) -> u16 {
        r.err().map_or(0, |r| r.status)
    }

    #[test]
    fn accepts_minimal_request() {
        assert_eq!(check("OPTIONS sip:b@example.com SIP/2.0", "CSeq: 1 OPTIONS\r\n"), Ok(()));
        assert_eq!(check("OPTIONS tel:+12345 SIP/2.0", "CSeq: 1 OPTIONS\r\n"), Ok(()));
    }

    #[test]
    fn maps_defects_to_statuses() {
        assert_eq!(status(check("OPTIONS sip:b@example.com SIP/3.0", "CSeq: 1 OPTIONS\r\n")), 505);
        assert_eq!(status(check("OPTIONS mailto:b@example.com SIP/2.0", "CSeq: 1 OPTIONS\r\n")), 416);
        assert_eq!(status(check("OPTIONS <sip:b@example.com> SIP/2.0", "CSeq: 1 OPTIONS\r\n")), 400);
        assert_eq!(status(check("OPTIONS sip:b@example.com?X=1 SIP/2.0", "CSeq: 1 OPTIONS\r\n")), 400);
        assert_eq!(status(check("OPTIONS sip:b@example.com SIP/2.0", "")), 400);
        assert_eq!(status(check("OPTIONS sip:b@example.com SIP/2.0", "CSeq: 1 INVITE\r\n")), 400);
        assert_eq!(status(check("FOO sip:b@example.com SIP/2.0", "CSeq: 1 INVITE\r\n")), 501);
        assert_eq!(status(check("FOO sip:b@example.com SIP/2.0", "CSeq: 1 FOO\r\n")), 0);
        assert_eq!(
            check("OPTIONS sip:b@example.com SIP/2.0", "CSeq: 1 OPTIONS\r\nMax-Forwards: 256\r\n"),
            Err(Reject { status: 400, error: ParseError::OutOfRange(HeaderName::MaxForwards) })
        );
        assert_eq!(
            check("OPTIONS sip:b@example.com SIP/2.0", "CSeq: 1 OPTIONS\r\nCall-ID: c2\r\n"),
            Err(Reject { status: 400, error: ParseError::Duplicate(HeaderName::CallId) })
        );
    }

    #[test]
    fn reject_display_is_short() {
        let r = Reject::from(ParseError::Missing(HeaderName::To));
        assert_eq!(r.to_string(), "400 Bad Request: missing To header");
        assert_eq!(Reject::from(ParseError::TooLarge).status, 513);
    }

    #[test]
    fn responses() {
        let ok = format!("SIP/2.0 200 OK\r\n{HDRS}CSeq: 1 INVITE\r\n\r\n");
        let m = parse_datagram(Bytes::from(ok), &Limits::default()).unwrap();
        assert_eq!(check_response(&m), Ok(()));
        let bad = format!("SIP/2.0 200 OK\r\n{HDRS}CSeq: 99999999999 INVITE\r\n\r\n");
        let m = parse_datagram(Bytes::from(bad), &Limits::default()).unwrap();
        assert_eq!(check_response(&m), Err(ParseError::OutOfRange(HeaderName::CSeq)));
    }
}
