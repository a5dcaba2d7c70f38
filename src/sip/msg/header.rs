//! Header names (with RFC 3261 §7.3.3 compact forms) and the raw view of one header line.
//!
//! Exists so the parser classifies each header once, while keeping the name and value
//! exactly as received (unknown headers are proxied verbatim). It must never copy or
//! normalise a header's bytes: [`HeaderField`] is a view into the message buffer.

use std::fmt;

use bytes::Bytes;

use super::error::ParseError;
use super::scan::is_token;

macro_rules! header_names {
    ($( $variant:ident => $canon:literal; )+) => {
        /// A header kind. Compact forms map to their full header; anything else is `Other`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum HeaderName {
            $( #[doc = $canon] $variant, )+
            /// A header this crate has no name for; kept verbatim.
            Other,
        }

        impl HeaderName {
            /// The canonical spelling, e.g. `Call-ID`; `"Other"` for [`HeaderName::Other`].
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( HeaderName::$variant => $canon, )+
                    HeaderName::Other => "Other",
                }
            }
        }
    };
}

header_names! {
    Accept => "Accept";
    AcceptContact => "Accept-Contact";
    AcceptEncoding => "Accept-Encoding";
    AcceptLanguage => "Accept-Language";
    AlertInfo => "Alert-Info";
    Allow => "Allow";
    AllowEvents => "Allow-Events";
    AuthenticationInfo => "Authentication-Info";
    Authorization => "Authorization";
    CallId => "Call-ID";
    CallInfo => "Call-Info";
    Contact => "Contact";
    ContentDisposition => "Content-Disposition";
    ContentEncoding => "Content-Encoding";
    ContentLanguage => "Content-Language";
    ContentLength => "Content-Length";
    ContentType => "Content-Type";
    CSeq => "CSeq";
    Date => "Date";
    ErrorInfo => "Error-Info";
    Event => "Event";
    Expires => "Expires";
    From => "From";
    Identity => "Identity";
    IdentityInfo => "Identity-Info";
    InReplyTo => "In-Reply-To";
    MaxForwards => "Max-Forwards";
    MimeVersion => "MIME-Version";
    MinExpires => "Min-Expires";
    Organization => "Organization";
    Priority => "Priority";
    ProxyAuthenticate => "Proxy-Authenticate";
    ProxyAuthorization => "Proxy-Authorization";
    ProxyRequire => "Proxy-Require";
    RAck => "RAck";
    RecordRoute => "Record-Route";
    ReferTo => "Refer-To";
    ReferredBy => "Referred-By";
    RejectContact => "Reject-Contact";
    ReplyTo => "Reply-To";
    RequestDisposition => "Request-Disposition";
    Require => "Require";
    RetryAfter => "Retry-After";
    Route => "Route";
    RSeq => "RSeq";
    Server => "Server";
    SessionExpires => "Session-Expires";
    Subject => "Subject";
    Supported => "Supported";
    Timestamp => "Timestamp";
    To => "To";
    Unsupported => "Unsupported";
    UserAgent => "User-Agent";
    Via => "Via";
    Warning => "Warning";
    WwwAuthenticate => "WWW-Authenticate";
}

impl HeaderName {
    /// Classifies a header name case-insensitively (`v`, `VIA` and `Via` are all Via).
    pub fn classify(name: &[u8]) -> HeaderName {
        if name.iter().all(|&b| is_token(b)) { from_token(name) } else { HeaderName::Other }
    }

    /// [`HeaderName::classify`] for a name already known to be a token.
    pub(crate) fn classify_token(name: &[u8]) -> HeaderName {
        from_token(name)
    }
}

/// Eight bytes of `b` at `at` as a little-endian word (0 if out of range).
#[inline]
fn load8(b: &[u8], at: usize) -> u64 {
    b.get(at..).and_then(|t| t.first_chunk::<8>()).map_or(0, |w| u64::from_le_bytes(*w))
}

/// Up to eight bytes as a word, built in registers (no store-to-load stall).
#[inline]
fn small(b: &[u8]) -> u64 {
    b.iter().take(8).enumerate().fold(0, |w, (i, &x)| w | (u64::from(x) << (8 * i)))
}

/// `token == lower` ignoring ASCII case, eight bytes at a time. `lower` holds only
/// `[a-z-]`; for token bytes, setting bit 5 lower-cases letters and maps no other token
/// byte onto a letter or `-`, so the comparison is exact.
#[inline]
fn eq_lower(token: &[u8], lower: &[u8]) -> bool {
    const CASE: u64 = 0x2020_2020_2020_2020;
    let n = token.len();
    if n != lower.len() {
        return false;
    }
    if n < 8 {
        return small(token) | CASE == small(lower) | CASE;
    }
    let mut i = 0;
    while i + 8 <= n {
        if load8(token, i) | CASE != load8(lower, i) | CASE {
            return false;
        }
        i += 8;
    }
    // The last, overlapping word covers any remainder.
    i == n || load8(token, n - 8) | CASE == load8(lower, n - 8) | CASE
}

/// Name (full or compact, any case) to kind: a table keyed by length and first letter,
/// so each name is compared with at most a few candidates.
fn from_token(name: &[u8]) -> HeaderName {
    use HeaderName as H;
    let first = name.first().map_or(0, u8::to_ascii_lowercase);
    let candidates: &[(&[u8], HeaderName)] = match (name.len(), first) {
        (1, b'a') => &[(b"a", H::AcceptContact)],
        (1, b'b') => &[(b"b", H::ReferredBy)],
        (1, b'c') => &[(b"c", H::ContentType)],
        (1, b'd') => &[(b"d", H::RequestDisposition)],
        (1, b'e') => &[(b"e", H::ContentEncoding)],
        (1, b'f') => &[(b"f", H::From)],
        (1, b'i') => &[(b"i", H::CallId)],
        (1, b'j') => &[(b"j", H::RejectContact)],
        (1, b'k') => &[(b"k", H::Supported)],
        (1, b'l') => &[(b"l", H::ContentLength)],
        (1, b'm') => &[(b"m", H::Contact)],
        (1, b'n') => &[(b"n", H::IdentityInfo)],
        (1, b'o') => &[(b"o", H::Event)],
        (1, b'r') => &[(b"r", H::ReferTo)],
        (1, b's') => &[(b"s", H::Subject)],
        (1, b't') => &[(b"t", H::To)],
        (1, b'u') => &[(b"u", H::AllowEvents)],
        (1, b'v') => &[(b"v", H::Via)],
        (1, b'x') => &[(b"x", H::SessionExpires)],
        (1, b'y') => &[(b"y", H::Identity)],
        (2, b't') => &[(b"to", H::To)],
        (3, b'v') => &[(b"via", H::Via)],
        (4, b'c') => &[(b"cseq", H::CSeq)],
        (4, b'd') => &[(b"date", H::Date)],
        (4, b'f') => &[(b"from", H::From)],
        (4, b'r') => &[(b"rack", H::RAck), (b"rseq", H::RSeq)],
        (5, b'a') => &[(b"allow", H::Allow)],
        (5, b'e') => &[(b"event", H::Event)],
        (5, b'r') => &[(b"route", H::Route)],
        (6, b'a') => &[(b"accept", H::Accept)],
        (6, b's') => &[(b"server", H::Server)],
        (7, b'c') => &[(b"call-id", H::CallId), (b"contact", H::Contact)],
        (7, b'e') => &[(b"expires", H::Expires)],
        (7, b'r') => &[(b"require", H::Require)],
        (7, b's') => &[(b"subject", H::Subject)],
        (7, b'w') => &[(b"warning", H::Warning)],
        (8, b'i') => &[(b"identity", H::Identity)],
        (8, b'p') => &[(b"priority", H::Priority)],
        (8, b'r') => &[(b"refer-to", H::ReferTo), (b"reply-to", H::ReplyTo)],
        (9, b'c') => &[(b"call-info", H::CallInfo)],
        (9, b's') => &[(b"supported", H::Supported)],
        (9, b't') => &[(b"timestamp", H::Timestamp)],
        (10, b'a') => &[(b"alert-info", H::AlertInfo)],
        (10, b'e') => &[(b"error-info", H::ErrorInfo)],
        (10, b'u') => &[(b"user-agent", H::UserAgent)],
        (11, b'i') => &[(b"in-reply-to", H::InReplyTo)],
        (11, b'm') => &[(b"min-expires", H::MinExpires)],
        (11, b'r') => &[(b"referred-by", H::ReferredBy), (b"retry-after", H::RetryAfter)],
        (11, b'u') => &[(b"unsupported", H::Unsupported)],
        (12, b'a') => &[(b"allow-events", H::AllowEvents)],
        (12, b'c') => &[(b"content-type", H::ContentType)],
        (12, b'm') => &[(b"max-forwards", H::MaxForwards), (b"mime-version", H::MimeVersion)],
        (12, b'o') => &[(b"organization", H::Organization)],
        (12, b'r') => &[(b"record-route", H::RecordRoute)],
        (13, b'a') => &[(b"authorization", H::Authorization)],
        (13, b'i') => &[(b"identity-info", H::IdentityInfo)],
        (13, b'p') => &[(b"proxy-require", H::ProxyRequire)],
        (14, b'a') => &[(b"accept-contact", H::AcceptContact)],
        (14, b'c') => &[(b"content-length", H::ContentLength)],
        (14, b'r') => &[(b"reject-contact", H::RejectContact)],
        (15, b'a') => &[(b"accept-encoding", H::AcceptEncoding), (b"accept-language", H::AcceptLanguage)],
        (15, b's') => &[(b"session-expires", H::SessionExpires)],
        (16, b'c') => &[(b"content-encoding", H::ContentEncoding), (b"content-language", H::ContentLanguage)],
        (16, b'w') => &[(b"www-authenticate", H::WwwAuthenticate)],
        (18, b'p') => &[(b"proxy-authenticate", H::ProxyAuthenticate)],
        (19, b'a') => &[(b"authentication-info", H::AuthenticationInfo)],
        (19, b'c') => &[(b"content-disposition", H::ContentDisposition)],
        (19, b'p') => &[(b"proxy-authorization", H::ProxyAuthorization)],
        (19, b'r') => &[(b"request-disposition", H::RequestDisposition)],
        _ => return H::Other,
    };
    candidates.iter().find(|(n, _)| eq_lower(name, n)).map_or(H::Other, |(_, k)| *k)
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Byte offsets of one header line inside the message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderSpan {
    pub(crate) name: (u32, u32),
    pub(crate) value: (u32, u32),
    pub(crate) kind: HeaderName,
}

/// One header line as received: name, classified kind and raw value.
///
/// The raw value may contain line folding (CRLF followed by whitespace); typed accessors
/// treat it as whitespace and the printer unfolds it.
#[derive(Debug, Clone, Copy)]
pub struct HeaderField<'a> {
    pub(crate) buf: &'a Bytes,
    pub(crate) span: &'a HeaderSpan,
}

impl<'a> HeaderField<'a> {
    /// The header kind.
    pub fn kind(&self) -> HeaderName {
        self.span.kind
    }

    /// The name as received (maybe compact, any case).
    pub fn name(&self) -> &'a [u8] {
        range(self.buf, self.span.name)
    }

    /// The name as text (names are tokens, hence ASCII).
    pub fn name_str(&self) -> &'a str {
        std::str::from_utf8(self.name()).unwrap_or("")
    }

    /// The raw value, leading and trailing whitespace removed.
    pub fn value(&self) -> &'a [u8] {
        range(self.buf, self.span.value)
    }

    /// The value as UTF-8 text.
    pub fn value_str(&self) -> Result<&'a str, ParseError> {
        std::str::from_utf8(self.value()).map_err(|_| ParseError::Utf8)
    }

    /// The value as a [`Bytes`] sharing the message buffer (no copy).
    pub fn value_bytes(&self) -> Bytes {
        let (a, b) = self.span.value;
        self.buf.slice(a as usize..b as usize)
    }
}

pub(crate) fn range(buf: &Bytes, (a, b): (u32, u32)) -> &[u8] {
    buf.get(a as usize..b as usize).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_full_compact_and_case() {
        assert_eq!(HeaderName::classify(b"Via"), HeaderName::Via);
        assert_eq!(HeaderName::classify(b"vIA"), HeaderName::Via);
        assert_eq!(HeaderName::classify(b"v"), HeaderName::Via);
        assert_eq!(HeaderName::classify(b"i"), HeaderName::CallId);
        assert_eq!(HeaderName::classify(b"MaX-fOrWaRdS"), HeaderName::MaxForwards);
        assert_eq!(HeaderName::classify(b"l"), HeaderName::ContentLength);
        assert_eq!(HeaderName::classify(b"k"), HeaderName::Supported);
        assert_eq!(HeaderName::classify(b"C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::classify(b"a-very-long-unknown-header-name"), HeaderName::Other);
        assert_eq!(HeaderName::classify(b""), HeaderName::Other);
    }

    #[test]
    fn print_canonical_names() {
        assert_eq!(HeaderName::CallId.to_string(), "Call-ID");
        assert_eq!(HeaderName::WwwAuthenticate.to_string(), "WWW-Authenticate");
        assert_eq!(HeaderName::CSeq.to_string(), "CSeq");
    }
}
