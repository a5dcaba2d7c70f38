//! URIs: `sip:`/`sips:` (RFC 3261 §19.1, §25), `tel:` (RFC 3966), anything else kept as an
//! opaque absolute URI, and hosts including IPv6 references (RFC 5118).
//!
//! Exists because routing, registration and authentication all key on URI parts. It must
//! never unescape implicitly: accessors return the text as received, and [`unescape`] /
//! [`SipUri::user_unescaped`] are explicit, so comparisons stay under the caller's control.

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::error::{Invalid, ParseError};
use super::params::{Params, check_escapes, scan_uri_params};
use super::scan::{Cursor, parse_u32};

/// Any URI that can appear in a SIP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:`.
    Tel(TelUri<'a>),
    /// Another scheme, kept opaque (RFC 3261 `absoluteURI`).
    Other(AbsoluteUri<'a>),
}

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUri<'a> {
    raw: &'a str,
    secure: bool,
    user: Option<&'a str>,
    password: Option<&'a str>,
    host: Host<'a>,
    port: Option<u16>,
    params: Params<'a>,
    headers: Option<&'a str>,
}

/// A `tel:` URI (RFC 3966).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelUri<'a> {
    raw: &'a str,
    number: &'a str,
    params: Params<'a>,
}

/// A URI of another scheme, e.g. `soap.beep://192.0.2.103:3002` or `isbn:2983792873`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbsoluteUri<'a> {
    raw: &'a str,
    scheme: &'a str,
}

/// A host: domain name, IPv4 address or IPv6 reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Host<'a> {
    Domain(&'a str),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

impl<'a> Uri<'a> {
    /// Parses a complete URI (no surrounding whitespace or angle brackets).
    pub fn parse(s: &'a str) -> Result<Uri<'a>, ParseError> {
        parse_uri(s).map_err(|_| ParseError::Uri)
    }

    /// The scheme as written.
    pub fn scheme(&self) -> &'a str {
        let raw = self.as_str();
        raw.split_once(':').map_or(raw, |(s, _)| s)
    }

    /// The URI text as received.
    pub fn as_str(&self) -> &'a str {
        match self {
            Uri::Sip(u) => u.raw,
            Uri::Tel(u) => u.raw,
            Uri::Other(u) => u.raw,
        }
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }
}

impl<'a> SipUri<'a> {
    /// True for `sips:`.
    pub fn is_secure(&self) -> bool {
        self.secure
    }
    /// The user part as received (escapes kept), e.g. `user;par=u%40example.net`.
    pub fn user(&self) -> Option<&'a str> {
        self.user
    }
    /// The user part with `%XX` escapes resolved (invalid UTF-8 replaced by U+FFFD).
    pub fn user_unescaped(&self) -> Option<Cow<'a, str>> {
        self.user.map(unescape_str)
    }
    /// The password part, if any (RFC 3261 discourages it).
    pub fn password(&self) -> Option<&'a str> {
        self.password
    }
    pub fn host(&self) -> Host<'a> {
        self.host
    }
    pub fn port(&self) -> Option<u16> {
        self.port
    }
    /// URI parameters (`;transport=tcp;lr`).
    pub fn params(&self) -> Params<'a> {
        self.params
    }
    /// The `?headers` part without the `?`.
    pub fn headers(&self) -> Option<&'a str> {
        self.headers
    }
    pub fn as_str(&self) -> &'a str {
        self.raw
    }
}

impl<'a> TelUri<'a> {
    /// The number with visual separators, e.g. `+1-201-555-0123`.
    pub fn number(&self) -> &'a str {
        self.number
    }
    /// True for a global number (`+` prefix).
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }
    pub fn params(&self) -> Params<'a> {
        self.params
    }
    pub fn as_str(&self) -> &'a str {
        self.raw
    }
}

impl<'a> AbsoluteUri<'a> {
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }
    pub fn as_str(&self) -> &'a str {
        self.raw
    }
}

impl<'a> Host<'a> {
    /// Parses `hostname / IPv4address / IPv6reference`.
    pub fn parse(s: &'a str) -> Result<Host<'a>, ParseError> {
        let mut c = Cursor::new(s);
        let h = scan_host(&mut c).map_err(|_| ParseError::Uri)?;
        if c.at_end() { Ok(h) } else { Err(ParseError::Uri) }
    }
}

/// Resolves `%XX` escapes; invalid escapes are kept as they are.
pub fn unescape(s: &str) -> Cow<'_, [u8]> {
    if !s.contains('%') {
        return Cow::Borrowed(s.as_bytes());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&x) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        match (x, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            _ => {
                out.push(x);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

fn unescape_str(s: &str) -> Cow<'_, str> {
    match unescape(s) {
        Cow::Borrowed(_) => Cow::Borrowed(s),
        Cow::Owned(v) => match String::from_utf8(v) {
            Ok(s) => Cow::Owned(s),
            Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        },
    }
}

const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')')
}

const fn is_user_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
}

const fn is_password_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'&' | b'=' | b'+' | b'$' | b',')
}

const fn is_header_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$' | b'=' | b'&')
}

fn is_scheme(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

pub(crate) fn parse_uri(s: &str) -> Result<Uri<'_>, Invalid> {
    let (scheme, rest) = s.split_once(':').ok_or(Invalid)?;
    if !is_scheme(scheme) {
        return Err(Invalid);
    }
    if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
        parse_sip(s, scheme.len() == 4, rest).map(Uri::Sip)
    } else if scheme.eq_ignore_ascii_case("tel") {
        parse_tel(s, rest).map(Uri::Tel)
    } else {
        let ok = !rest.is_empty() && rest.bytes().all(|b| b > b' ' && b != 0x7f && !matches!(b, b'<' | b'>' | b'"'));
        if ok { Ok(Uri::Other(AbsoluteUri { raw: s, scheme })) } else { Err(Invalid) }
    }
}

fn parse_sip<'a>(raw: &'a str, secure: bool, rest: &'a str) -> Result<SipUri<'a>, Invalid> {
    let (userinfo, hostpart) = match rest.split_once('@') {
        Some((ui, hp)) => (Some(ui), hp),
        None => (None, rest),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(ui) => {
            let (u, p) = match ui.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (ui, None),
            };
            if u.is_empty() || !u.bytes().all(is_user_char) {
                return Err(Invalid);
            }
            check_escapes(u)?;
            if let Some(p) = p {
                if !p.bytes().all(is_password_char) {
                    return Err(Invalid);
                }
                check_escapes(p)?;
            }
            (Some(u), p)
        }
    };
    let mut c = Cursor::new(hostpart);
    let host = scan_host(&mut c)?;
    let port = if c.eat(b':') { Some(scan_port(&mut c)?) } else { None };
    let params = scan_uri_params(&mut c)?;
    let headers = if c.eat(b'?') {
        let h = c.take_while(is_header_char);
        check_escapes(h)?;
        Some(h)
    } else {
        None
    };
    if !c.at_end() {
        return Err(Invalid);
    }
    Ok(SipUri { raw, secure, user, password, host, port, params, headers })
}

fn parse_tel<'a>(raw: &'a str, rest: &'a str) -> Result<TelUri<'a>, Invalid> {
    let mut c = Cursor::new(rest);
    let number = c.take_while(|b| b != b';');
    let digits = number.strip_prefix('+').unwrap_or(number);
    let visual = |b: u8| matches!(b, b'-' | b'.' | b'(' | b')');
    let ok = if number.starts_with('+') {
        digits.bytes().all(|b| b.is_ascii_digit() || visual(b)) && digits.bytes().any(|b| b.is_ascii_digit())
    } else {
        digits.bytes().all(|b| b.is_ascii_hexdigit() || b == b'*' || b == b'#' || visual(b))
            && digits.bytes().any(|b| b.is_ascii_hexdigit() || b == b'*' || b == b'#')
    };
    if !ok {
        return Err(Invalid);
    }
    let params = scan_uri_params(&mut c)?;
    if !c.at_end() {
        return Err(Invalid);
    }
    Ok(TelUri { raw, number, params })
}

/// Scans `host` at the cursor.
pub(crate) fn scan_host<'a>(c: &mut Cursor<'a>) -> Result<Host<'a>, Invalid> {
    if c.eat(b'[') {
        let addr = c.take_while(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !c.eat(b']') {
            return Err(Invalid);
        }
        return addr.parse::<Ipv6Addr>().map(Host::Ipv6).map_err(|_| Invalid);
    }
    let name = c.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if name.is_empty() || name.starts_with(['.', '-']) {
        return Err(Invalid);
    }
    if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return name.parse::<Ipv4Addr>().map(Host::Ipv4).map_err(|_| Invalid);
    }
    Ok(Host::Domain(name))
}

/// Scans `port` (1*DIGIT, at most 65535).
pub(crate) fn scan_port(c: &mut Cursor<'_>) -> Result<u16, Invalid> {
    let d = c.take_while(|b| b.is_ascii_digit());
    parse_u32(d).ok().and_then(|p| u16::try_from(p).ok()).ok_or(Invalid)
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for SipUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(s: &str) -> SipUri<'_> {
        match Uri::parse(s) {
            Ok(Uri::Sip(u)) => u,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn parse_sip_parts() {
        let u = sip("sips:first.last:pw@example.com:5061;transport=tcp;lr?subject=x%20y");
        assert!(u.is_secure());
        assert_eq!(u.user(), Some("first.last"));
        assert_eq!(u.password(), Some("pw"));
        assert_eq!(u.host(), Host::Domain("example.com"));
        assert_eq!(u.port(), Some(5061));
        assert_eq!(u.params().value("transport"), Some("tcp"));
        assert!(u.params().contains("lr"));
        assert_eq!(u.headers(), Some("subject=x%20y"));
        let u = sip("sip:example.com");
        assert_eq!((u.user(), u.port()), (None, None));
    }

    #[test]
    fn user_with_semicolon_and_escapes() {
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user(), Some("user;par=u%40example.net"));
        assert_eq!(u.host(), Host::Domain("example.com"));
        let u = sip("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(u.user_unescaped().as_deref(), Some("sips:user@example.com"));
        let u = sip("sip:null-%00-null@example.com");
        assert_eq!(u.user_unescaped().as_deref(), Some("null-\0-null"));
        assert!(Uri::parse("sip:bad%zzuser@example.com").is_err());
    }

    #[test]
    fn ipv6_references() {
        let u = sip("sip:[2001:db8::10]:5070");
        assert_eq!(u.host(), Host::Ipv6("2001:db8::10".parse().unwrap()));
        assert_eq!(u.port(), Some(5070));
        let u = sip("sip:user@[2001:db8::10:5070]");
        assert_eq!(u.port(), None);
        assert!(Uri::parse("sip:2001:db8::10").is_err());
        assert!(Uri::parse("sip:[2001:db8::10").is_err());
        assert!(Uri::parse("sip:[::ffff:192.0.2.1]").is_ok());
    }

    #[test]
    fn tel_and_other_schemes() {
        match Uri::parse("tel:+1-201-555-0123;ext=1") {
            Ok(Uri::Tel(t)) => {
                assert!(t.is_global());
                assert_eq!(t.number(), "+1-201-555-0123");
                assert_eq!(t.params().value("ext"), Some("1"));
            }
            other => panic!("{other:?}"),
        }
        assert!(Uri::parse("tel:7042;phone-context=example.com").is_ok());
        assert!(Uri::parse("tel:+").is_err());
        let u = Uri::parse("soap.beep://192.0.2.103:3002").unwrap();
        assert_eq!(u.scheme(), "soap.beep");
        assert!(matches!(u, Uri::Other(_)));
        assert!(Uri::parse("<sip:user@example.com>").is_err());
        assert!(Uri::parse("sip:user@example.com; lr").is_err());
        assert!(Uri::parse(" sip:user@example.com").is_err());
    }

    #[test]
    fn bad_ports_and_hosts() {
        assert!(Uri::parse("sip:a@b:65536").is_err());
        assert!(Uri::parse("sip:a@b:").is_err());
        assert!(Uri::parse("sip:a@").is_err());
        assert!(Uri::parse("sip:a@999.1.1.1").is_err());
        assert!(Host::parse("192.0.2.1").is_ok_and(|h| matches!(h, Host::Ipv4(_))));
    }

    #[test]
    fn print_uris_and_hosts() {
        let s = "sip:%75se%72@example.com;transport=udp";
        assert_eq!(Uri::parse(s).unwrap().to_string(), s);
        assert_eq!(Host::Ipv6("2001:db8::1".parse().unwrap()).to_string(), "[2001:db8::1]");
        assert_eq!(Host::parse("a.example").unwrap().to_string(), "a.example");
    }
}
