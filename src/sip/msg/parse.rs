//! Entry points that turn received bytes into a [`Message`], and stream framing.
//!
//! Exists to do the one pass over the bytes: start line, header line boundaries (with
//! folding and whitespace before the colon), Content-Length and body. Typed header values
//! are parsed later, on demand, by [`Message`]'s accessors. It must never read past the
//! buffer, allocate more than the header span `Vec`, or accept a body whose length does
//! not match the framing rules of RFC 3261 §18.3.

use bytes::Bytes;

use super::error::ParseError;
use super::header::{HeaderName, HeaderSpan};
use super::limits::Limits;
use super::message::{Message, StartRepr, Version};
use super::scalar;
use super::scan::is_token;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// UDP: body is Content-Length bytes, or the rest of the datagram if absent.
    Datagram,
    /// TCP/TLS/WS: Content-Length is mandatory and must match the frame.
    Stream,
    /// Only the start line and headers matter (to answer a message whose body is bad).
    Head,
}

/// Parses one UDP datagram. Bytes after Content-Length octets of body are ignored
/// (RFC 3261 §18.3, RFC 4475 §3.1.1.8); a Content-Length larger than the datagram is
/// [`ParseError::BodyTruncated`] (answer 400).
pub fn parse_datagram(buf: Bytes, limits: &Limits) -> Result<Message, ParseError> {
    parse(buf, limits, Mode::Datagram)
}

/// Parses one message cut from a stream by [`frame_stream`]; Content-Length is mandatory.
pub fn parse_stream_message(buf: Bytes, limits: &Limits) -> Result<Message, ParseError> {
    parse(buf, limits, Mode::Stream)
}

/// Parses only the start line and headers, ignoring Content-Length problems, so that a
/// server can build the 400 answer to a message that [`parse_datagram`] rejected.
pub fn parse_head(buf: Bytes, limits: &Limits) -> Result<Message, ParseError> {
    parse(buf, limits, Mode::Head)
}

/// What [`frame_stream`] found at the start of a stream buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// This many CR/LF bytes come first: keep-alives (RFC 5626 §3.5.1 uses CRLFCRLF
    /// pings); drop them.
    KeepAlive(usize),
    /// A complete message occupies this many bytes.
    Message(usize),
}

/// Finds where the first message in a stream buffer ends (RFC 3261 §18.3).
///
/// `Ok(None)` means more bytes are needed. An error means the stream cannot be framed
/// (no, bad or conflicting Content-Length, or over the size limit) and the connection
/// should be closed (RFC 4475 §3.3.9).
pub fn frame_stream(buf: &[u8], limits: &Limits) -> Result<Option<Frame>, ParseError> {
    let lead = buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    if lead > 0 {
        return Ok(Some(Frame::KeepAlive(lead)));
    }
    let Some(head_len) = header_end(buf) else {
        return if buf.len() > limits.max_message_size { Err(ParseError::TooLarge) } else { Ok(None) };
    };
    let head = buf.get(..head_len).unwrap_or(&[]);
    let mut cl: Option<usize> = None;
    let mut lines = Lines { b: head, pos: 0 };
    lines.next(); // start line
    while let Some((a, e)) = lines.next() {
        let line = head.get(a..e).unwrap_or(&[]);
        if line.first().is_none_or(|&c| c == b' ' || c == b'\t') {
            continue;
        }
        let name_len = line.iter().take_while(|&&c| is_token(c)).count();
        if HeaderName::classify_token(line.get(..name_len).unwrap_or(&[])) != HeaderName::ContentLength {
            continue;
        }
        let rest = line.get(name_len..).unwrap_or(&[]);
        let colon = rest.iter().position(|&c| c == b':').ok_or(ParseError::HeaderLine)?;
        let mut value = rest.get(colon + 1..).unwrap_or(&[]);
        if value.iter().all(|&c| c == b' ' || c == b'\t') {
            // `Content-Length:` folded onto the next line.
            let save = lines.pos;
            value = match lines.next() {
                Some((a2, e2)) if head.get(a2).is_some_and(|&c| c == b' ' || c == b'\t') => {
                    head.get(a2..e2).unwrap_or(&[])
                }
                _ => {
                    lines.pos = save;
                    value
                }
            };
        }
        let v = scalar::content_length(value)?;
        if cl.is_some_and(|p| p != v) {
            return Err(ParseError::ConflictingContentLength);
        }
        cl = Some(v);
    }
    let total = head_len + cl.ok_or(ParseError::MissingContentLength)?;
    if total > limits.max_message_size {
        return Err(ParseError::TooLarge);
    }
    Ok((buf.len() >= total).then_some(Frame::Message(total)))
}

/// Length of the header section including its empty line, if complete.
fn header_end(b: &[u8]) -> Option<usize> {
    let mut lines = Lines { b, pos: 0 };
    let mut first = true;
    while let Some((a, e)) = lines.next() {
        if a == e && !first {
            return Some(lines.pos);
        }
        first = false;
    }
    None
}

/// Iterator over LF-terminated lines as `(start, end)` with the CR stripped; stops at the
/// first line without LF.
struct Lines<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Iterator for Lines<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        let start = self.pos;
        let lf = start + find_lf(self.b.get(start..)?)?;
        self.pos = lf + 1;
        let end = if lf > start && self.b.get(lf - 1) == Some(&b'\r') { lf - 1 } else { lf };
        Some((start, end))
    }
}

/// Position of the first LF, eight bytes at a time.
fn find_lf(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const LF: u64 = LO * b'\n' as u64;
    let mut chunks = s.chunks_exact(8);
    let mut off = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w) ^ LF;
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(off + (found.trailing_zeros() / 8) as usize);
        }
        off += 8;
    }
    chunks.remainder().iter().position(|&c| c == b'\n').map(|p| off + p)
}

fn span(a: usize, b: usize) -> (u32, u32) {
    // Lengths are capped by `Limits` and checked against u32 in `parse`.
    (a as u32, b as u32)
}

fn parse(buf: Bytes, limits: &Limits, mode: Mode) -> Result<Message, ParseError> {
    if buf.len() > limits.max_message_size || u32::try_from(buf.len()).is_err() {
        return Err(ParseError::TooLarge);
    }
    let b: &[u8] = &buf;
    let lead = b.iter().take_while(|&&c| c == b'\r' || c == b'\n').count();
    if lead == b.len() {
        return Err(ParseError::Empty);
    }
    let mut lines = Lines { b, pos: lead };
    let (sa, se) = match lines.next() {
        Some(l) => l,
        None if mode == Mode::Head => (lead, b.len()),
        None => return Err(ParseError::Unterminated),
    };
    let start = parse_start_line(b, sa, se)?;
    let mut headers: Vec<HeaderSpan> = Vec::with_capacity(24);
    let body_start = loop {
        let (a, e) = match lines.next() {
            Some(l) => l,
            None if mode == Mode::Head => break b.len(),
            None => return Err(ParseError::Unterminated),
        };
        if a == e {
            break lines.pos;
        }
        let line = b.get(a..e).unwrap_or(&[]);
        let first = line.first().copied().unwrap_or(b' ');
        let content_end = e - line.iter().rev().take_while(|&&c| c == b' ' || c == b'\t').count();
        if first == b' ' || first == b'\t' {
            let last = headers.last_mut().ok_or(ParseError::HeaderLine)?;
            let content_start = a + line.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
            if content_start < content_end {
                if last.value.0 == last.value.1 {
                    last.value.0 = content_start as u32;
                }
                last.value.1 = content_end as u32;
            }
            continue;
        }
        if headers.len() >= limits.max_headers {
            return Err(ParseError::TooManyHeaders);
        }
        let name_end = a + line.iter().take_while(|&&c| is_token(c)).count();
        let mut i = name_end;
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        if name_end == a || b.get(i) != Some(&b':') {
            return Err(ParseError::HeaderLine);
        }
        i += 1;
        while i < content_end && matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        let kind = HeaderName::classify_token(b.get(a..name_end).unwrap_or(&[]));
        headers.push(HeaderSpan { name: span(a, name_end), value: span(i, content_end.max(i)), kind });
    };
    let mut cl: Option<usize> = None;
    for h in headers.iter().filter(|h| h.kind == HeaderName::ContentLength) {
        let v = match scalar::content_length(super::header::range(&buf, h.value)) {
            Ok(v) => v,
            Err(_) if mode == Mode::Head => continue,
            Err(e) => return Err(e),
        };
        if cl.is_some_and(|p| p != v) && mode != Mode::Head {
            return Err(ParseError::ConflictingContentLength);
        }
        cl = Some(v);
    }
    let avail = b.len() - body_start;
    let body_len = match (mode, cl) {
        (Mode::Datagram, None) => avail,
        (Mode::Stream, None) => return Err(ParseError::MissingContentLength),
        (Mode::Datagram | Mode::Stream, Some(n)) if n > avail => {
            return Err(ParseError::BodyTruncated);
        }
        (Mode::Head, Some(n)) => n.min(avail),
        (Mode::Head, None) => avail,
        (_, Some(n)) => n,
    };
    Ok(Message { start, headers, body: span(body_start, body_start + body_len), buf })
}

fn parse_version(v: &[u8]) -> Option<Version> {
    let rest = v.get(..4).filter(|p| p.eq_ignore_ascii_case(b"SIP/")).and(v.get(4..))?;
    if rest == b"2.0" {
        return Some(Version::Sip20);
    }
    let dot = rest.iter().position(|&c| c == b'.')?;
    let num = |d: &[u8]| {
        let s = std::str::from_utf8(d).ok()?;
        super::scan::parse_u32(s).ok()
    };
    Some(Version::Other { major: num(rest.get(..dot)?)?, minor: num(rest.get(dot + 1..)?)? })
}

fn parse_start_line(b: &[u8], a: usize, e: usize) -> Result<StartRepr, ParseError> {
    let bad = ParseError::StartLine;
    let line = b.get(a..e).ok_or(bad)?;
    // Trailing whitespace is tolerated (RFC 4475 §3.1.2.10 allows being liberal).
    let line =
        line.get(..line.len() - line.iter().rev().take_while(|&&c| c == b' ' || c == b'\t').count()).ok_or(bad)?;
    let e = a + line.len();
    let sp1 = line.iter().position(|&c| c == b' ').ok_or(bad)?;
    let first = line.get(..sp1).ok_or(bad)?;
    if first.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/")) {
        let version = parse_version(first).ok_or(bad)?;
        let code_start = sp1 + 1;
        let digits = line.get(code_start..).ok_or(bad)?.iter().take_while(|c| c.is_ascii_digit()).count();
        let after = line.get(code_start + digits).copied();
        if digits != 3 || after.is_some_and(|c| c != b' ') {
            return Err(ParseError::StatusCode);
        }
        let status = line
            .get(code_start..code_start + 3)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| d.parse::<u16>().ok())
            .filter(|s| (100..=699).contains(s))
            .ok_or(ParseError::StatusCode)?;
        let reason_start = (a + code_start + 4).min(e);
        return Ok(StartRepr::Response { version, status, reason: span(reason_start, e) });
    }
    if !first.iter().all(|&c| is_token(c)) {
        return Err(bad);
    }
    // Extra spaces between elements are tolerated (RFC 4475 §3.1.2.9 allows it); the
    // printer emits single spaces.
    let sp2 = line.iter().rposition(|&c| c == b' ').ok_or(bad)?;
    let version = parse_version(line.get(sp2 + 1..).ok_or(bad)?).ok_or(bad)?;
    let mut ua = sp1;
    while line.get(ua) == Some(&b' ') {
        ua += 1;
    }
    let mut ue = sp2;
    while ue > ua && line.get(ue - 1) == Some(&b' ') {
        ue -= 1;
    }
    let uri = line.get(ua..ue).ok_or(bad)?;
    if uri.is_empty() || std::str::from_utf8(uri).is_err() {
        return Err(bad);
    }
    Ok(StartRepr::Request { method: span(a, a + sp1), uri: span(a + ua, a + ue), version })
}

#[cfg(test)]
mod tests {
    use super::super::message::StartLine;
    use super::super::method::Method;
    use super::*;

    fn dgram(s: &'static [u8]) -> Result<Message, ParseError> {
        parse_datagram(Bytes::from_static(s), &Limits::default())
    }

    #[test]
    fn request_and_response_lines() {
        let m = dgram(b"\r\nOPTIONS  sip:a@b  SIP/2.0  \r\n\r\n").unwrap();
        assert_eq!(
            m.start_line(),
            StartLine::Request { method: Method::Options, uri: "sip:a@b", version: Version::Sip20 }
        );
        let m = dgram(b"SIP/2.0 100 \r\n\r\n").unwrap();
        assert_eq!(m.status(), Some(100));
        assert_eq!(m.reason(), Some(&b""[..]));
        let m = dgram(b"SIP/2.0 180 Ringing\r\n\r\n").unwrap();
        assert_eq!(m.reason(), Some(&b"Ringing"[..]));
        let m = dgram(b"OPTIONS sip:a@b SIP/7.0\r\n\r\n").unwrap();
        assert_eq!(m.version(), Version::Other { major: 7, minor: 0 });
    }

    #[test]
    fn bad_start_lines() {
        assert_eq!(dgram(b"SIP/2.0 4294967301 big\r\n\r\n").err(), Some(ParseError::StatusCode));
        assert_eq!(dgram(b"SIP/2.0 099 low\r\n\r\n").err(), Some(ParseError::StatusCode));
        assert_eq!(dgram(b"INVITE sip:a@b\r\n\r\n").err(), Some(ParseError::StartLine));
        assert_eq!(dgram(b"INVITE sip:a@b HTTP/1.1\r\n\r\n").err(), Some(ParseError::StartLine));
        assert_eq!(dgram(b"IN(VITE sip:a@b SIP/2.0\r\n\r\n").err(), Some(ParseError::StartLine));
        assert_eq!(dgram(b"\r\n\r\n").err(), Some(ParseError::Empty));
        assert_eq!(dgram(b"OPTIONS sip:a@b SIP/2.0\r\nTo: x\r\n").err(), Some(ParseError::Unterminated));
    }

    #[test]
    fn header_lines_folding_and_colon_spacing() {
        let m = dgram(b"OPTIONS sip:a@b SIP/2.0\r\nTO :\r\n sip:a@b ;\r\n tag=1\r\nX:\r\nSubject  :  hi  \r\n\r\n")
            .unwrap();
        let h: Vec<_> = m.headers().map(|h| (h.name_str(), h.value())).collect();
        assert_eq!(h[0], ("TO", &b"sip:a@b ;\r\n tag=1"[..]));
        assert_eq!(h[1], ("X", &b""[..]));
        assert_eq!(h[2], ("Subject", &b"hi"[..]));
        assert_eq!(dgram(b"OPTIONS sip:a@b SIP/2.0\r\n folded\r\n\r\n").err(), Some(ParseError::HeaderLine));
        assert_eq!(dgram(b"OPTIONS sip:a@b SIP/2.0\r\nNoColon\r\n\r\n").err(), Some(ParseError::HeaderLine));
        assert_eq!(dgram(b"OPTIONS sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n").err(), Some(ParseError::HeaderLine));
    }

    #[test]
    fn datagram_bodies() {
        let m = dgram(b"OPTIONS sip:a@b SIP/2.0\r\nl: 2\r\n\r\nabJUNK").unwrap();
        assert_eq!(m.body_slice(), b"ab");
        let m = dgram(b"OPTIONS sip:a@b SIP/2.0\r\n\r\nrest of datagram").unwrap();
        assert_eq!(m.body_slice(), b"rest of datagram");
        assert_eq!(dgram(b"OPTIONS sip:a@b SIP/2.0\r\nl: 9\r\n\r\nab").err(), Some(ParseError::BodyTruncated));
        assert_eq!(dgram(b"OPTIONS sip:a@b SIP/2.0\r\nl: -1\r\n\r\n").err(), Some(ParseError::ContentLength));
        assert_eq!(
            dgram(b"OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\nab").err(),
            Some(ParseError::ConflictingContentLength)
        );
        let m =
            parse_head(Bytes::from_static(b"OPTIONS sip:a@b SIP/2.0\r\nl: 9\r\nl: x\r\n\r\nab"), &Limits::default())
                .unwrap();
        assert_eq!(m.body_slice(), b"ab");
    }

    #[test]
    fn limits_are_enforced() {
        let small = Limits { max_message_size: 30, max_headers: 1 };
        let too_big = Bytes::from_static(b"OPTIONS sip:a@b SIP/2.0\r\nX: 1234567\r\n\r\n");
        assert_eq!(parse_datagram(too_big, &small).err(), Some(ParseError::TooLarge));
        let two = Bytes::from_static(b"OPTIONS sip:a@b SIP/2.0\r\nA: 1\r\nB: 2\r\n\r\n");
        let l = Limits { max_message_size: 1000, max_headers: 1 };
        assert_eq!(parse_datagram(two, &l).err(), Some(ParseError::TooManyHeaders));
    }

    #[test]
    fn stream_framing() {
        let l = Limits::default();
        let msg = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\n\r\nabcNEXT";
        assert_eq!(frame_stream(msg, &l), Ok(Some(Frame::Message(49))));
        assert_eq!(frame_stream(&msg[..48], &l), Ok(None));
        assert_eq!(frame_stream(&msg[..20], &l), Ok(None));
        assert_eq!(frame_stream(b"\r\n\r\nOPTIONS", &l), Ok(Some(Frame::KeepAlive(4))));
        assert_eq!(frame_stream(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n", &l), Err(ParseError::MissingContentLength));
        assert_eq!(
            frame_stream(b"OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\n", &l),
            Err(ParseError::ConflictingContentLength)
        );
        assert_eq!(frame_stream(b"OPTIONS sip:a@b SIP/2.0\r\nl:\r\n 2\r\n\r\nab", &l), Ok(Some(Frame::Message(37))));
        let small = Limits { max_message_size: 10, max_headers: 4 };
        assert_eq!(frame_stream(b"OPTIONS sip:a@b SIP/2.0\r\n", &small), Err(ParseError::TooLarge));
        let m = parse_stream_message(Bytes::copy_from_slice(&msg[..49]), &l).unwrap();
        assert_eq!(m.body_slice(), b"abc");
        let no_cl = Bytes::from_static(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n");
        assert_eq!(parse_stream_message(no_cl, &l).err(), Some(ParseError::MissingContentLength));
    }

    #[test]
    fn find_lf_matches_naive_search() {
        let data = b"0123456789abcdef\nxyz\n";
        for start in 0..data.len() {
            let s = &data[start..];
            assert_eq!(find_lf(s), s.iter().position(|&c| c == b'\n'));
        }
        assert_eq!(find_lf(b"no newline here at all"), None);
    }
}
