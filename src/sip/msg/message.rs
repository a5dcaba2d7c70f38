//! The parsed message: start line, header spans and body over one shared buffer, with the
//! typed accessors a server uses.
//!
//! Exists so the rest of the PBX never touches raw SIP text. Accessors parse on demand
//! and borrow from the buffer; a malformed header only fails the accessor that reads it,
//! so a server can still build an error response. It must never copy the buffer or
//! allocate per access (except where unescaping or unquoting is asked for).

use bytes::Bytes;

use super::auth::AuthValue;
use super::cseq::CSeq;
use super::error::{Invalid, ParseError};
use super::header::{HeaderField, HeaderName, HeaderSpan, range};
use super::media::MediaType;
use super::method::Method;
use super::nameaddr::{Contact, NameAddr, scan_contact, scan_name_addr};
use super::scalar;
use super::scan::{ListIter, split_list, trim_ws};
use super::tokens;
use super::uri::{Uri, parse_uri};
use super::via::Via;

/// The SIP version of a start line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `SIP/2.0`.
    Sip20,
    /// Any other `SIP/x.y`; a server answers 505 (RFC 4475 §3.1.2.16).
    Other { major: u32, minor: u32 },
}

/// The start line of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    Request { method: Method<'a>, uri: &'a str, version: Version },
    Response { version: Version, status: u16, reason: &'a [u8] },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartRepr {
    Request { method: (u32, u32), uri: (u32, u32), version: Version },
    Response { version: Version, status: u16, reason: (u32, u32) },
}

/// A parsed SIP request or response over the received bytes.
#[derive(Debug, Clone)]
pub struct Message {
    pub(crate) buf: Bytes,
    pub(crate) start: StartRepr,
    pub(crate) headers: Vec<HeaderSpan>,
    pub(crate) body: (u32, u32),
}

impl Message {
    fn text(&self, span: (u32, u32)) -> &str {
        std::str::from_utf8(range(&self.buf, span)).unwrap_or("")
    }

    /// The start line.
    pub fn start_line(&self) -> StartLine<'_> {
        match self.start {
            StartRepr::Request { method, uri, version } => {
                let m = self.text(method);
                StartLine::Request {
                    method: Method::parse(m).unwrap_or(Method::Extension(m)),
                    uri: self.text(uri),
                    version,
                }
            }
            StartRepr::Response { version, status, reason } => {
                StartLine::Response { version, status, reason: range(&self.buf, reason) }
            }
        }
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, StartRepr::Request { .. })
    }

    pub fn version(&self) -> Version {
        match self.start {
            StartRepr::Request { version, .. } | StartRepr::Response { version, .. } => version,
        }
    }

    /// The request method; `None` for a response.
    pub fn method(&self) -> Option<Method<'_>> {
        match self.start_line() {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI text as received; `None` for a response.
    pub fn request_uri_str(&self) -> Option<&str> {
        match self.start {
            StartRepr::Request { uri, .. } => Some(self.text(uri)),
            StartRepr::Response { .. } => None,
        }
    }

    /// The parsed Request-URI; `None` for a response.
    pub fn request_uri(&self) -> Option<Result<Uri<'_>, ParseError>> {
        self.request_uri_str().map(|s| parse_uri(s).map_err(|_| ParseError::Uri))
    }

    /// The status code; `None` for a request.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartRepr::Response { status, .. } => Some(status),
            StartRepr::Request { .. } => None,
        }
    }

    /// The reason phrase bytes (may be empty or non-ASCII); `None` for a request.
    pub fn reason(&self) -> Option<&[u8]> {
        match self.start {
            StartRepr::Response { reason, .. } => Some(range(&self.buf, reason)),
            StartRepr::Request { .. } => None,
        }
    }

    /// Every header line in order.
    pub fn headers(&self) -> impl Iterator<Item = HeaderField<'_>> {
        self.headers.iter().map(|span| HeaderField { buf: &self.buf, span })
    }

    /// The header lines of one kind, in order.
    pub fn headers_named(&self, kind: HeaderName) -> impl Iterator<Item = HeaderField<'_>> {
        self.headers().filter(move |h| h.kind() == kind)
    }

    /// The first header line of one kind.
    pub fn header(&self, kind: HeaderName) -> Option<HeaderField<'_>> {
        self.headers_named(kind).next()
    }

    /// The first header line whose name matches `name` exactly, ignoring case (for
    /// headers this crate does not classify, e.g. `P-Asserted-Identity`).
    pub fn header_by_name(&self, name: &str) -> Option<HeaderField<'_>> {
        self.headers().find(|h| h.name().eq_ignore_ascii_case(name.as_bytes()))
    }

    /// Every comma-separated element of every header line of one kind.
    pub fn values(&self, kind: HeaderName) -> impl Iterator<Item = Result<&str, ParseError>> {
        self.headers_named(kind).flat_map(|h| match h.value_str() {
            Ok(s) => Values::List(split_list(s)),
            Err(e) => Values::Err(Some(e)),
        })
    }

    /// The value of a single-valued header; [`ParseError::Missing`] if absent.
    pub fn single(&self, kind: HeaderName) -> Result<&str, ParseError> {
        self.header(kind).ok_or(ParseError::Missing(kind))?.value_str()
    }

    fn optional(&self, kind: HeaderName) -> Result<Option<&str>, ParseError> {
        self.header(kind).map(|h| h.value_str()).transpose()
    }

    /// All Via values, top first.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, ParseError>> {
        self.values(HeaderName::Via).map(|v| v.and_then(Via::parse))
    }

    /// The topmost Via.
    pub fn top_via(&self) -> Result<Via<'_>, ParseError> {
        self.vias().next().unwrap_or(Err(ParseError::Missing(HeaderName::Via)))
    }

    fn name_addr(&self, kind: HeaderName) -> Result<NameAddr<'_>, ParseError> {
        scan_name_addr(self.single(kind)?).map_err(Invalid::header(kind))
    }

    pub fn from(&self) -> Result<NameAddr<'_>, ParseError> {
        self.name_addr(HeaderName::From)
    }

    pub fn to(&self) -> Result<NameAddr<'_>, ParseError> {
        self.name_addr(HeaderName::To)
    }

    pub fn call_id(&self) -> Result<&str, ParseError> {
        scalar::call_id(self.single(HeaderName::CallId)?)
    }

    pub fn cseq(&self) -> Result<CSeq<'_>, ParseError> {
        CSeq::parse(self.single(HeaderName::CSeq)?)
    }

    /// Max-Forwards; `Ok(None)` if absent (RFC 2543 peers omit it).
    pub fn max_forwards(&self) -> Result<Option<u8>, ParseError> {
        self.optional(HeaderName::MaxForwards)?.map(scalar::max_forwards).transpose()
    }

    /// The Expires header in seconds.
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        self.optional(HeaderName::Expires)?.map(|v| scalar::delta_seconds(v, HeaderName::Expires)).transpose()
    }

    /// Content-Length as written (the parser already checked it against the body).
    pub fn content_length(&self) -> Result<Option<usize>, ParseError> {
        self.header(HeaderName::ContentLength).map(|h| scalar::content_length(h.value())).transpose()
    }

    pub fn content_type(&self) -> Result<Option<MediaType<'_>>, ParseError> {
        self.optional(HeaderName::ContentType)?.map(MediaType::parse).transpose()
    }

    /// All Contact values in order.
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'_>, ParseError>> {
        self.values(HeaderName::Contact)
            .map(|v| v.and_then(|v| scan_contact(v).map_err(Invalid::header(HeaderName::Contact))))
    }

    fn addr_list(&self, kind: HeaderName) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> {
        self.values(kind).map(move |v| v.and_then(|v| scan_name_addr(v).map_err(Invalid::header(kind))))
    }

    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> {
        self.addr_list(HeaderName::Route)
    }

    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> {
        self.addr_list(HeaderName::RecordRoute)
    }

    fn auth(&self, kind: HeaderName) -> impl Iterator<Item = Result<AuthValue<'_>, ParseError>> {
        self.headers_named(kind)
            .map(move |h| h.value_str().and_then(|v| AuthValue::parse(v).map_err(|_| ParseError::Malformed(kind))))
    }

    pub fn authorizations(&self) -> impl Iterator<Item = Result<AuthValue<'_>, ParseError>> {
        self.auth(HeaderName::Authorization)
    }

    pub fn proxy_authorizations(&self) -> impl Iterator<Item = Result<AuthValue<'_>, ParseError>> {
        self.auth(HeaderName::ProxyAuthorization)
    }

    pub fn www_authenticates(&self) -> impl Iterator<Item = Result<AuthValue<'_>, ParseError>> {
        self.auth(HeaderName::WwwAuthenticate)
    }

    pub fn proxy_authenticates(&self) -> impl Iterator<Item = Result<AuthValue<'_>, ParseError>> {
        self.auth(HeaderName::ProxyAuthenticate)
    }

    fn token_list(&self, kind: HeaderName) -> impl Iterator<Item = Result<&str, ParseError>> {
        self.headers_named(kind).flat_map(move |h| {
            let (ok, err) = match h.value_str() {
                Ok(v) => (Some(tokens::tokens(v, kind)), None),
                Err(e) => (None, Some(Err(e))),
            };
            ok.into_iter().flatten().chain(err)
        })
    }

    /// Require option tags.
    pub fn require(&self) -> impl Iterator<Item = Result<&str, ParseError>> {
        self.token_list(HeaderName::Require)
    }

    /// Proxy-Require option tags.
    pub fn proxy_require(&self) -> impl Iterator<Item = Result<&str, ParseError>> {
        self.token_list(HeaderName::ProxyRequire)
    }

    /// Supported option tags.
    pub fn supported(&self) -> impl Iterator<Item = Result<&str, ParseError>> {
        self.token_list(HeaderName::Supported)
    }

    /// Allow methods.
    pub fn allow(&self) -> impl Iterator<Item = Result<Method<'_>, ParseError>> {
        self.token_list(HeaderName::Allow)
            .map(|t| t.and_then(|t| Method::parse(t).ok_or(ParseError::Malformed(HeaderName::Allow))))
    }

    /// User-Agent text, trimmed.
    pub fn user_agent(&self) -> Result<Option<&str>, ParseError> {
        Ok(self.optional(HeaderName::UserAgent)?.map(trim_ws))
    }

    /// The body, sharing the buffer.
    pub fn body(&self) -> Bytes {
        self.buf.slice(self.body.0 as usize..self.body.1 as usize)
    }

    /// The body as a slice.
    pub fn body_slice(&self) -> &[u8] {
        range(&self.buf, self.body)
    }

    /// The whole received buffer (for a datagram, trailing bytes after the body included).
    pub fn buffer(&self) -> &Bytes {
        &self.buf
    }
}

enum Values<'a> {
    List(ListIter<'a>),
    Err(Option<ParseError>),
}

impl<'a> Iterator for Values<'a> {
    type Item = Result<&'a str, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Values::List(l) => l.next().map(Ok),
            Values::Err(e) => e.take().map(Err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::limits::Limits;
    use super::super::parse::parse_datagram;
    use super::super::uri::Host;
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds, SIP/2.0/TCP p.example.com\r\n\
v: SIP/2.0/UDP [2001:db8::1]:5062;branch=z9hG4bKxyz;rport=5062\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
f: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
i: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
m: <sip:alice@pc33.atlanta.example.com>;q=0.7;expires=60, *\r\n\
Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>\r\n\
Require: 100rel\r\n\
k: timer, replaces\r\n\
Allow: INVITE, ACK, BYE\r\n\
Expires: 120\r\n\
User-Agent: pbx test 1.0\r\n\
P-Asserted-Identity: <sip:alice@atlanta.example.com>\r\n\
c: application/sdp\r\n\
l: 4\r\n\r\nv=0\n";

    fn msg() -> Message {
        parse_datagram(Bytes::from_static(INVITE), &Limits::default()).unwrap()
    }

    #[test]
    fn typed_accessors() {
        let m = msg();
        assert_eq!(m.method(), Some(Method::Invite));
        assert_eq!(m.request_uri_str(), Some("sip:bob@biloxi.example.com"));
        let vias: Vec<_> = m.vias().collect::<Result<_, _>>().unwrap();
        assert_eq!(vias.len(), 3);
        assert_eq!(vias[0].branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(vias[2].host(), Host::Ipv6("2001:db8::1".parse().unwrap()));
        assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(m.from().unwrap().tag(), Some("1928301774"));
        assert_eq!(m.to().unwrap().tag(), None);
        assert_eq!(m.call_id(), Ok("a84b4c76e66710@pc33.atlanta.example.com"));
        assert_eq!(m.cseq().unwrap(), CSeq { seq: 314159, method: Method::Invite });
        assert_eq!(m.max_forwards(), Ok(Some(70)));
        assert_eq!(m.expires(), Ok(Some(120)));
        assert_eq!(m.content_length(), Ok(Some(4)));
        assert!(m.content_type().unwrap().unwrap().is("application", "sdp"));
        let contacts: Vec<_> = m.contacts().collect::<Result<_, _>>().unwrap();
        assert_eq!(contacts.len(), 2);
        assert_eq!(contacts[0].q_millis(), Some(700));
        assert_eq!(contacts[0].expires(), Ok(Some(60)));
        assert_eq!(contacts[1], Contact::Star);
        assert_eq!(m.routes().count(), 2);
        assert_eq!(m.require().collect::<Vec<_>>(), vec![Ok("100rel")]);
        assert_eq!(m.supported().count(), 2);
        assert_eq!(m.allow().flatten().collect::<Vec<_>>(), vec![Method::Invite, Method::Ack, Method::Bye]);
        assert_eq!(m.user_agent(), Ok(Some("pbx test 1.0")));
        assert!(m.header_by_name("p-asserted-identity").is_some());
        assert_eq!(m.body_slice(), b"v=0\n");
    }

    #[test]
    fn missing_and_malformed_headers_fail_only_their_accessor() {
        let raw = b"OPTIONS sip:a@b SIP/2.0\r\nTo: <sip:a@b\r\nCSeq: x\r\n\r\n";
        let m = parse_datagram(Bytes::from_static(raw), &Limits::default()).unwrap();
        assert_eq!(m.to(), Err(ParseError::Malformed(HeaderName::To)));
        assert_eq!(m.from(), Err(ParseError::Missing(HeaderName::From)));
        assert_eq!(m.cseq(), Err(ParseError::Malformed(HeaderName::CSeq)));
        assert_eq!(m.top_via(), Err(ParseError::Missing(HeaderName::Via)));
        assert_eq!(m.max_forwards(), Ok(None));
    }
}
