//! Building responses to a received request (RFC 3261 §8.2.6).
//!
//! Exists so every answer the PBX sends, including 400s to broken requests, copies Via,
//! From, To, Call-ID and CSeq the same way. It must never fail: when a copied header is
//! malformed it is copied verbatim (unfolded), so even a bad request gets its answer.

use std::fmt;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;

use super::header::HeaderName;
use super::message::Message;
use super::nameaddr::scan_name_addr;
use super::print::MessageWriter;
use super::uri::Host;
use super::via::Via;

/// The RFC 3261 §21 reason phrase for a status code ("" if unknown).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "",
    }
}

/// A response to `req`: copies Via (all, in order), From, To (adding a tag when asked and
/// none is present), Call-ID and CSeq, and Timestamp on a 100.
#[derive(Debug, Clone)]
pub struct ResponseBuilder<'a> {
    req: &'a Message,
    status: u16,
    reason: Option<&'a str>,
    to_tag: Option<&'a str>,
    extra: Vec<(&'a str, String)>,
    body: Option<(&'a str, &'a [u8])>,
    source: Option<SocketAddr>,
}

impl<'a> ResponseBuilder<'a> {
    pub fn new(req: &'a Message, status: u16) -> Self {
        ResponseBuilder { req, status, reason: None, to_tag: None, extra: Vec::new(), body: None, source: None }
    }

    /// Overrides the default reason phrase.
    pub fn reason(mut self, reason: &'a str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Adds `;tag=` to To unless the request's To already has one (§8.2.6.2).
    pub fn to_tag(mut self, tag: &'a str) -> Self {
        self.to_tag = Some(tag);
        self
    }

    /// Stamps the top Via with where the request really came from: `received` when the
    /// sent-by host differs (RFC 3261 §18.2.1), and `received` plus `rport` when the client
    /// asked with a bare `rport` (RFC 3581), so clients behind NAT learn their public address.
    pub fn source(mut self, source: SocketAddr) -> Self {
        self.source = Some(source);
        self
    }

    /// Adds a header after the copied ones.
    pub fn header(mut self, name: &'a str, value: impl fmt::Display) -> Self {
        self.extra.push((name, value.to_string()));
        self
    }

    /// Sets the body and its Content-Type.
    pub fn body(mut self, content_type: &'a str, body: &'a [u8]) -> Self {
        self.body = Some((content_type, body));
        self
    }

    /// Writes the response.
    pub fn build(self) -> Bytes {
        let req = self.req;
        let reason = self.reason.unwrap_or_else(|| reason_phrase(self.status));
        let mut w = MessageWriter::response(self.status, reason);
        let copy = |w: &mut MessageWriter, kind: HeaderName| {
            for h in req.headers_named(kind) {
                w.raw_header(kind.as_str().as_bytes(), h.value());
            }
        };
        for (i, h) in req.headers_named(HeaderName::Via).enumerate() {
            match self.source {
                Some(source) if i == 0 => w.raw_header(b"Via", &stamp_top_via(h.value(), source)),
                _ => w.raw_header(b"Via", h.value()),
            };
        }
        copy(&mut w, HeaderName::From);
        for h in req.headers_named(HeaderName::To) {
            let value = h.value();
            let needs_tag = h.value_str().ok().and_then(|v| scan_name_addr(v).ok()).is_some_and(|a| a.tag().is_none());
            match self.to_tag {
                Some(tag) if needs_tag && self.status != 100 => {
                    let mut v = value.to_vec();
                    v.extend_from_slice(b";tag=");
                    v.extend_from_slice(tag.as_bytes());
                    w.raw_header(b"To", &v);
                }
                _ => {
                    w.raw_header(b"To", value);
                }
            }
        }
        copy(&mut w, HeaderName::CallId);
        copy(&mut w, HeaderName::CSeq);
        if self.status == 100 {
            copy(&mut w, HeaderName::Timestamp);
        }
        for (name, value) in &self.extra {
            w.header(name, value);
        }
        match self.body {
            Some((ct, body)) => {
                w.header("Content-Type", ct);
                w.finish(body)
            }
            None => w.finish(b""),
        }
    }
}

/// The first Via value of `value` with `received` (and `rport`) set from `source`.
fn stamp_top_via(value: &[u8], source: SocketAddr) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(value) else { return value.to_vec() };
    let (first, rest) = text.split_at(text.find(',').unwrap_or(text.len()));
    let Ok(via) = Via::parse(first.trim()) else { return value.to_vec() };
    let wants_rport = matches!(via.rport(), Some(None));
    let sent_by_is_source = match via.host() {
        Host::Ipv4(ip) => IpAddr::V4(ip) == source.ip(),
        Host::Ipv6(ip) => IpAddr::V6(ip) == source.ip(),
        Host::Domain(_) => false,
    };
    if sent_by_is_source && !wants_rport {
        return value.to_vec();
    }
    let mut out = String::with_capacity(first.len() + 40);
    for (i, part) in first.trim().split(';').enumerate() {
        let name = part.split('=').next().unwrap_or_default().trim();
        if i > 0 && (name.eq_ignore_ascii_case("received") || (wants_rport && name.eq_ignore_ascii_case("rport"))) {
            continue;
        }
        if i > 0 {
            out.push(';');
        }
        out.push_str(part);
    }
    let _ = write!(out, ";received={}", source.ip());
    if wants_rport {
        let _ = write!(out, ";rport={}", source.port());
    }
    out.push_str(rest);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::super::limits::Limits;
    use super::super::parse::parse_datagram;
    use super::*;

    const REQ: &[u8] = b"INVITE sip:bob@b.example SIP/2.0\r\n\
v: SIP/2.0/UDP a.example;branch=z9hG4bK1\r\n\
Via: SIP/2.0/TCP p.example;branch=z9hG4bK2;received=192.0.2.1\r\n\
f: Alice <sip:alice@a.example>;tag=88\r\n\
t: sip:bob@b.example\r\n\
i: call-1@a.example\r\n\
CSeq: 1 INVITE\r\n\
Timestamp: 54\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n";

    fn req() -> Message {
        parse_datagram(Bytes::from_static(REQ), &Limits::default()).unwrap()
    }

    #[test]
    fn build_copies_mandatory_headers_and_adds_tag() {
        let r = req();
        let out = ResponseBuilder::new(&r, 486).to_tag("xyz").header("Retry-After", 30).build();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "SIP/2.0 486 Busy Here\r\n\
Via: SIP/2.0/UDP a.example;branch=z9hG4bK1\r\n\
Via: SIP/2.0/TCP p.example;branch=z9hG4bK2;received=192.0.2.1\r\n\
From: Alice <sip:alice@a.example>;tag=88\r\n\
To: sip:bob@b.example;tag=xyz\r\n\
Call-ID: call-1@a.example\r\n\
CSeq: 1 INVITE\r\n\
Retry-After: 30\r\n\
Content-Length: 0\r\n\r\n"
        );
        let parsed = parse_datagram(out, &Limits::default()).unwrap();
        assert_eq!(parsed.to().unwrap().tag(), Some("xyz"));
        assert_eq!(parsed.vias().count(), 2);
    }

    #[test]
    fn trying_keeps_timestamp_and_no_tag() {
        let r = req();
        let out = ResponseBuilder::new(&r, 100).to_tag("xyz").build();
        let parsed = parse_datagram(out, &Limits::default()).unwrap();
        assert_eq!(parsed.to().unwrap().tag(), None);
        assert_eq!(parsed.header(HeaderName::Timestamp).map(|h| h.value()), Some(&b"54"[..]));
        assert_eq!(parsed.reason(), Some(&b"Trying"[..]));
    }

    #[test]
    fn existing_to_tag_is_kept_and_body_added() {
        let raw = b"BYE sip:a@b SIP/2.0\r\nTo: <sip:a@b>;tag=old\r\n\r\n";
        let r = parse_datagram(Bytes::from_static(raw), &Limits::default()).unwrap();
        let out = ResponseBuilder::new(&r, 200).to_tag("new").body("text/plain", b"hi").build();
        let parsed = parse_datagram(out, &Limits::default()).unwrap();
        assert_eq!(parsed.to().unwrap().tag(), Some("old"));
        assert_eq!(parsed.body_slice(), b"hi");
        assert_eq!(parsed.content_type().unwrap().map(|c| c.to_string()).as_deref(), Some("text/plain"));
    }

    #[test]
    fn top_via_learns_received_and_rport() {
        let raw = b"OPTIONS sip:b SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK7, SIP/2.0/UDP p.example;branch=z9hG4bK2\r\nVia: SIP/2.0/UDP q;branch=z9hG4bK3;rport\r\n\r\n";
        let r = parse_datagram(Bytes::from_static(raw), &Limits::default()).unwrap();
        let out = ResponseBuilder::new(&r, 200).source("192.0.2.7:40000".parse().unwrap()).build();
        let parsed = parse_datagram(out, &Limits::default()).unwrap();
        let vias: Vec<String> = parsed.vias().map(|v| v.unwrap().to_string()).collect();
        assert_eq!(vias[0], "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK7;received=192.0.2.7;rport=40000");
        assert_eq!(vias[1], "SIP/2.0/UDP p.example;branch=z9hG4bK2", "only the top Via is stamped");
        assert_eq!(vias[2], "SIP/2.0/UDP q;branch=z9hG4bK3;rport");
        // Sent-by already the source and no rport: unchanged.
        let raw = b"OPTIONS sip:b SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK7\r\n\r\n";
        let r = parse_datagram(Bytes::from_static(raw), &Limits::default()).unwrap();
        let out = ResponseBuilder::new(&r, 200).source("192.0.2.7:5060".parse().unwrap()).build();
        assert!(std::str::from_utf8(&out).unwrap().contains("Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK7\r\n"));
    }

    #[test]
    fn reason_phrases() {
        assert_eq!(reason_phrase(505), "Version Not Supported");
        assert_eq!(reason_phrase(299), "");
    }
}
