//! `name-addr` / `addr-spec` values (From, To, Contact, Route, Record-Route, Reply-To...)
//! per RFC 3261 §20.10 and §25.1.
//!
//! Exists so dialog and routing code get the display name, URI and header parameters
//! (tag, q, expires) without string surgery. Per §20.10, parameters after an
//! unbracketed URI are header parameters, and an unbracketed URI may not contain `;`,
//! `,` or `?`. It must never accept spaces inside `<...>` (RFC 4475 §3.1.2.14).

use std::borrow::Cow;
use std::fmt;

use super::error::{Invalid, ParseError};
use super::header::HeaderName;
use super::params::{Params, scan_header_params_with};
use super::scan::{Cursor, NumError, is_token, is_ws, parse_u32, trim_ws, unquote};
use super::uri::{Uri, parse_uri};

/// A display name as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayName<'a> {
    /// `"..."`: the text between the quotes, quoted-pairs left escaped.
    Quoted(&'a str),
    /// `token *(LWS token)`, e.g. `A. Bell` is not valid but `Bell Alexander` is.
    Tokens(&'a str),
}

impl<'a> DisplayName<'a> {
    /// The display text with quoted-pairs resolved.
    pub fn text(&self) -> Cow<'a, str> {
        match self {
            DisplayName::Quoted(q) => unquote(q),
            DisplayName::Tokens(t) => Cow::Borrowed(t),
        }
    }
}

/// An address: optional display name, URI and header parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    display: Option<DisplayName<'a>>,
    uri: Uri<'a>,
    params: Params<'a>,
    tag: Option<&'a str>,
}

impl<'a> NameAddr<'a> {
    /// Parses one `(name-addr / addr-spec) *(SEMI param)` value.
    pub fn parse(s: &'a str) -> Result<NameAddr<'a>, ParseError> {
        scan_name_addr(s).map_err(|_| ParseError::Malformed(HeaderName::Other))
    }

    pub fn display_name(&self) -> Option<DisplayName<'a>> {
        self.display
    }
    pub fn uri(&self) -> Uri<'a> {
        self.uri
    }
    /// Header parameters (after the URI).
    pub fn params(&self) -> Params<'a> {
        self.params
    }
    /// The `tag` parameter (From/To).
    pub fn tag(&self) -> Option<&'a str> {
        self.tag
    }
}

pub(crate) fn scan_name_addr(s: &str) -> Result<NameAddr<'_>, Invalid> {
    scan_name_addr_with(s, |_, _| Ok(()))
}

/// [`scan_name_addr`], passing each header parameter to `visit`, which may reject it.
fn scan_name_addr_with<'a>(
    s: &'a str,
    mut visit: impl FnMut(&'a str, Option<&'a str>) -> Result<(), Invalid>,
) -> Result<NameAddr<'a>, Invalid> {
    let mut c = Cursor::new(s);
    c.skip_ws();
    let (display, bracketed) = match c.peek() {
        Some(b'"') => {
            let q = c.quoted()?;
            c.skip_ws();
            if !c.eat(b'<') {
                return Err(Invalid);
            }
            (Some(DisplayName::Quoted(q)), true)
        }
        Some(b'<') => {
            c.bump();
            (None, true)
        }
        _ => {
            let save = c.pos();
            let words = c.take_while(|b| is_token(b) || is_ws(b));
            if c.eat(b'<') {
                let d = trim_ws(words);
                (if d.is_empty() { None } else { Some(DisplayName::Tokens(d)) }, true)
            } else {
                c.set_pos(save);
                (None, false)
            }
        }
    };
    let uri = if bracketed {
        let inner = c.take_while(|b| b != b'>');
        if !c.eat(b'>') {
            return Err(Invalid);
        }
        parse_uri(inner)?
    } else {
        let text = c.take_while(|b| !is_ws(b) && b != b';' && b != b',');
        if text.contains('?') {
            return Err(Invalid);
        }
        parse_uri(text)?
    };
    let mut tag = None;
    let mut verdict = Ok(());
    let params = scan_header_params_with(&mut c, |n, v| {
        if tag.is_none() && n.eq_ignore_ascii_case("tag") {
            tag = v;
        }
        if verdict.is_ok() {
            verdict = visit(n, v);
        }
    })?;
    verdict?;
    c.expect_end()?;
    Ok(NameAddr { display, uri, params, tag })
}

/// One Contact value: `*` or an address with `q` / `expires` parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *` (REGISTER removing all bindings).
    Star,
    Addr(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// Parses one Contact value; `q` and `expires` are checked for syntax.
    pub fn parse(s: &'a str) -> Result<Contact<'a>, ParseError> {
        scan_contact(s).map_err(Invalid::header(HeaderName::Contact))
    }

    /// The address, unless this is `*`.
    pub fn addr(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => Some(a),
        }
    }

    /// `q` in thousandths (`q=0.5` -> 500), if present.
    pub fn q_millis(&self) -> Option<u16> {
        self.addr().and_then(|a| a.params.value("q")).and_then(|q| parse_q(q).ok())
    }

    /// `expires` in seconds; [`ParseError::OutOfRange`] when it exceeds 2^32-1 (RFC 4475
    /// §3.1.2.4 suggests treating that as the default expiry).
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        match self.addr().and_then(|a| a.params.value("expires")) {
            None => Ok(None),
            Some(v) => parse_u32(v).map(Some).map_err(|e| match e {
                NumError::Overflow => ParseError::OutOfRange(HeaderName::Contact),
                NumError::Syntax => ParseError::Malformed(HeaderName::Contact),
            }),
        }
    }
}

pub(crate) fn scan_contact(s: &str) -> Result<Contact<'_>, Invalid> {
    if trim_ws(s) == "*" {
        return Ok(Contact::Star);
    }
    let a = scan_name_addr_with(s, |n, v| {
        if n.eq_ignore_ascii_case("q") {
            parse_q(v.ok_or(Invalid)?)?;
        } else if n.eq_ignore_ascii_case("expires") {
            let e = v.ok_or(Invalid)?;
            if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Invalid);
            }
        }
        Ok(())
    })?;
    Ok(Contact::Addr(a))
}

/// RFC 3261 `qvalue`: `0[.ddd]` or `1[.000]`, in thousandths.
fn parse_q(q: &str) -> Result<u16, Invalid> {
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid);
    }
    let mut millis: u16 = 0;
    for (i, b) in frac.bytes().enumerate() {
        millis += u16::from(b - b'0') * [100, 10, 1].get(i).copied().unwrap_or(0);
    }
    match int {
        "0" => Ok(millis),
        "1" if millis == 0 => Ok(1000),
        _ => Err(Invalid),
    }
}

/// Prints the canonical bracketed form: `"Name" <uri>;param=value`.
impl fmt::Display for NameAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.display {
            Some(DisplayName::Quoted(q)) => write!(f, "\"{q}\" ")?,
            Some(DisplayName::Tokens(t)) => write!(f, "{t} ")?,
            None => {}
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

impl fmt::Display for Contact<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Star => f.write_str("*"),
            Contact::Addr(a) => a.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_name_addr_forms() {
        let a = NameAddr::parse(
            r#""J Rosenberg \\\""       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8"#,
        )
        .unwrap();
        assert_eq!(a.display_name().map(|d| d.text()).as_deref(), Some(r#"J Rosenberg \""#));
        assert_eq!(a.tag(), Some("98asjd8"));
        let a = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(a.display_name(), Some(DisplayName::Tokens("caller")));
        let a = NameAddr::parse("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n").unwrap();
        assert_eq!(a.uri().as_str(), "sip:vivekg@chair-dnrc.example.com");
        assert_eq!(a.tag(), Some("1918181833n"));
        let a = NameAddr::parse("isbn:2983792873").unwrap();
        assert_eq!(a.uri().scheme(), "isbn");
    }

    #[test]
    fn reject_malformed_addresses() {
        // RFC 4475 §3.1.2.14, §3.1.2.15, §3.1.2.6, §3.1.2.13.
        assert!(NameAddr::parse(r#""Watson, Thomas" < sip:t.watson@example.org >"#).is_err());
        assert!(NameAddr::parse("Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_err());
        assert!(NameAddr::parse(r#""Mr. J. User <sip:j.user@example.com>"#).is_err());
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
        assert!(NameAddr::parse(r#""Joe" <sip:joe@example.org>;;;;"#).is_err());
        assert!(NameAddr::parse("<sip:a@b> trailing").is_err());
    }

    #[test]
    fn parse_contacts() {
        let c = Contact::parse(
            r#""Quoted string \"\"" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33"#,
        )
        .unwrap();
        assert_eq!(c.q_millis(), Some(330));
        assert!(c.addr().is_some_and(|a| a.params().contains("secondparam")));
        assert_eq!(Contact::parse(" * ").unwrap(), Contact::Star);
        let c = Contact::parse("<sip:user@host129.example.com>\r\n  ;expires=280297596632815").unwrap();
        assert_eq!(c.expires(), Err(ParseError::OutOfRange(HeaderName::Contact)));
        let c = Contact::parse("<sip:a@b>;expires=3600;q=1").unwrap();
        assert_eq!((c.expires(), c.q_millis()), (Ok(Some(3600)), Some(1000)));
        assert!(Contact::parse("<sip:a@b>;q=1.5").is_err());
        assert!(Contact::parse("<sip:a@b>;expires=soon").is_err());
    }

    #[test]
    fn print_canonical_form() {
        let a = NameAddr::parse("sip:a@example.com ; tag = x").unwrap();
        assert_eq!(a.to_string(), "<sip:a@example.com>;tag=x");
        let a = NameAddr::parse(r#""Bob \"B\"" <sips:bob@[2001:db8::1]:5061>;tag=1"#).unwrap();
        assert_eq!(a.to_string(), r#""Bob \"B\"" <sips:bob@[2001:db8::1]:5061>;tag=1"#);
        let a = NameAddr::parse("Alice Smith <sip:alice@a.example>").unwrap();
        assert_eq!(a.to_string(), "Alice Smith <sip:alice@a.example>");
        assert_eq!(Contact::parse("*").unwrap().to_string(), "*");
    }
}
