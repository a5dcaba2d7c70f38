//! The printer: serialises a [`Message`] and writes new messages with [`MessageWriter`].
//!
//! Exists so everything the PBX sends goes through one place that emits canonical start
//! lines (single spaces, RFC 4475 §3.1.2.9/10), unfolded header values and a correct
//! Content-Length. It must never emit a CR or LF inside a header value (no header
//! injection from values that came from a peer or a config file).

use std::fmt::{self, Write as _};

use bytes::Bytes;

use super::header::HeaderName;
use super::message::{Message, StartLine, Version};
use super::method::Method;
use super::scan::is_token;

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Sip20 => f.write_str("SIP/2.0"),
            Version::Other { major, minor } => write!(f, "SIP/{major}.{minor}"),
        }
    }
}

/// Appends `v` without CR or LF: folded values become single-line, injected line breaks
/// are dropped.
fn push_unfolded(out: &mut Vec<u8>, v: &[u8]) {
    out.extend(v.iter().copied().filter(|&c| c != b'\r' && c != b'\n'));
}

impl Message {
    /// Serialises the message: canonical start line, every header with its name as
    /// received and its value unfolded, Content-Length set to the body length (added if
    /// absent, duplicates dropped), then the body.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.buf.len() + 32);
        let mut line = String::new();
        match self.start_line() {
            StartLine::Request { method, uri, version } => {
                let _ = write!(line, "{method} {uri} {version}\r\n");
                out.extend_from_slice(line.as_bytes());
            }
            StartLine::Response { version, status, reason } => {
                let _ = write!(line, "{version} {status} ");
                out.extend_from_slice(line.as_bytes());
                push_unfolded(out, reason);
                out.extend_from_slice(b"\r\n");
            }
        }
        let body = self.body_slice();
        let mut wrote_cl = false;
        for h in self.headers() {
            if h.kind() == HeaderName::ContentLength {
                if wrote_cl {
                    continue;
                }
                wrote_cl = true;
                out.extend_from_slice(h.name());
                out.extend_from_slice(format!(": {}\r\n", body.len()).as_bytes());
                continue;
            }
            out.extend_from_slice(h.name());
            out.extend_from_slice(b": ");
            push_unfolded(out, h.value());
            out.extend_from_slice(b"\r\n");
        }
        if !wrote_cl {
            out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
    }

    /// [`Message::write_to`] into new bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::new();
        self.write_to(&mut out);
        Bytes::from(out)
    }
}

/// Writes a new request or response line by line; [`MessageWriter::finish`] adds
/// Content-Length and the body.
#[derive(Debug, Clone)]
pub struct MessageWriter {
    buf: Vec<u8>,
}

impl MessageWriter {
    /// Starts `METHOD uri SIP/2.0`. The URI is written as given, minus CR/LF.
    pub fn request(method: Method<'_>, uri: &str) -> MessageWriter {
        let mut buf = Vec::with_capacity(512);
        buf.extend_from_slice(method.as_str().as_bytes());
        buf.push(b' ');
        buf.extend(uri.bytes().filter(|&c| !matches!(c, b'\r' | b'\n' | b' ')));
        buf.extend_from_slice(b" SIP/2.0\r\n");
        MessageWriter { buf }
    }

    /// Starts `SIP/2.0 status reason`.
    pub fn response(status: u16, reason: &str) -> MessageWriter {
        let mut buf = Vec::with_capacity(512);
        buf.extend_from_slice(format!("SIP/2.0 {status} ").as_bytes());
        push_unfolded(&mut buf, reason.as_bytes());
        buf.extend_from_slice(b"\r\n");
        MessageWriter { buf }
    }

    /// Adds `name: value`; non-token bytes in the name and CR/LF in the value are dropped.
    /// Do not add Content-Length: `finish` does.
    pub fn header(&mut self, name: &str, value: impl fmt::Display) -> &mut Self {
        let mut v = String::new();
        let _ = write!(v, "{value}");
        self.raw_header(name.as_bytes(), v.as_bytes())
    }

    /// Adds a header from raw bytes (e.g. copied from a received message), unfolded.
    pub fn raw_header(&mut self, name: &[u8], value: &[u8]) -> &mut Self {
        self.buf.extend(name.iter().copied().filter(|&c| is_token(c)));
        self.buf.extend_from_slice(b": ");
        push_unfolded(&mut self.buf, value);
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    /// Adds `Content-Length`, the empty line and `body`.
    pub fn finish(mut self, body: &[u8]) -> Bytes {
        self.buf.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        self.buf.extend_from_slice(body);
        Bytes::from(self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::super::limits::Limits;
    use super::super::parse::parse_datagram;
    use super::*;

    #[test]
    fn print_canonicalises_start_line_and_unfolds() {
        let raw = b"OPTIONS  sip:a@b  SIP/2.0 \r\nTo :\r\n sip:a@b ;\r\n tag=1\r\nl: 0\r\nl: 0\r\n\r\n";
        let m = parse_datagram(Bytes::from_static(raw), &Limits::default()).unwrap();
        assert_eq!(&m.to_bytes()[..], b"OPTIONS sip:a@b SIP/2.0\r\nTo: sip:a@b ; tag=1\r\nl: 0\r\n\r\n");
    }

    #[test]
    fn print_adds_content_length_and_drops_trailing_datagram_bytes() {
        let raw = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\nbody";
        let m = parse_datagram(Bytes::from_static(raw), &Limits::default()).unwrap();
        assert_eq!(&m.to_bytes()[..], b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 4\r\n\r\nbody");
    }

    #[test]
    fn writer_blocks_header_injection() {
        let mut w = MessageWriter::request(Method::Message, "sip:a@b");
        w.header("Sub ject", "hi\r\nVia: evil");
        let out = w.finish(b"x");
        assert_eq!(&out[..], b"MESSAGE sip:a@b SIP/2.0\r\nSubject: hiVia: evil\r\nContent-Length: 1\r\n\r\nx");
    }

    #[test]
    fn print_versions() {
        assert_eq!(Version::Sip20.to_string(), "SIP/2.0");
        assert_eq!(Version::Other { major: 7, minor: 0 }.to_string(), "SIP/7.0");
    }
}
