//! Authorization / Proxy-Authorization credentials and WWW- / Proxy-Authenticate
//! challenges (RFC 3261 §20.7, §20.27, §20.28, §20.44, §22.4; RFC 8760 for SHA-256).
//!
//! Exists so the registrar's digest check reads parameters without string hacking.
//! Unknown schemes parse (RFC 4475 §3.3.7) with their parameters left opaque. It must
//! never compute or compare digests: that belongs to the auth module, not the parser.

use std::borrow::Cow;
use std::fmt;

use super::error::{Invalid, ParseError};
use super::header::HeaderName;
use super::scan::{Cursor, is_token, is_ws, unquote};

/// A credentials or challenge value: `scheme param=value, ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthValue<'a> {
    scheme: &'a str,
    params: &'a str,
}

/// Authorization / Proxy-Authorization value.
pub type Credentials<'a> = AuthValue<'a>;
/// WWW-Authenticate / Proxy-Authenticate value.
pub type Challenge<'a> = AuthValue<'a>;

/// Digest `algorithm` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm<'a> {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
    Sha512_256,
    Sha512_256Sess,
    Other(&'a str),
}

impl<'a> Algorithm<'a> {
    pub fn parse(s: &'a str) -> Algorithm<'a> {
        const KNOWN: [(&str, Algorithm<'static>); 6] = [
            ("MD5", Algorithm::Md5),
            ("MD5-sess", Algorithm::Md5Sess),
            ("SHA-256", Algorithm::Sha256),
            ("SHA-256-sess", Algorithm::Sha256Sess),
            ("SHA-512-256", Algorithm::Sha512_256),
            ("SHA-512-256-sess", Algorithm::Sha512_256Sess),
        ];
        KNOWN.iter().find(|(k, _)| k.eq_ignore_ascii_case(s)).map_or(Algorithm::Other(s), |(_, a)| *a)
    }

    /// The token as RFC 7616 spells it (an unknown one as written).
    pub fn as_str(&self) -> &'a str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
            Algorithm::Other(s) => s,
        }
    }
}

impl<'a> AuthValue<'a> {
    /// Parses a credentials/challenge value. For the Digest scheme every parameter must be
    /// `token = (token / quoted-string)`; other schemes keep their parameters opaque.
    pub fn parse(s: &'a str) -> Result<AuthValue<'a>, ParseError> {
        scan_auth(s).map_err(Invalid::header(HeaderName::Authorization))
    }

    /// The scheme, e.g. `Digest`.
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// The parameters as received.
    pub fn params_raw(&self) -> &'a str {
        self.params
    }

    /// `(name, value, quoted)` for each parameter; values without their quotes.
    pub fn params(&self) -> AuthParamIter<'a> {
        AuthParamIter { c: Cursor::new(self.params) }
    }

    /// The unquoted value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        self.params()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v, q)| if q { unquote(v) } else { Cow::Borrowed(v) })
    }

    /// Digest view, if the scheme is Digest.
    pub fn digest(&self) -> Option<Digest<'a>> {
        self.scheme.eq_ignore_ascii_case("Digest").then_some(Digest { v: *self })
    }
}

/// Typed access to Digest parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest<'a> {
    v: AuthValue<'a>,
}

impl<'a> Digest<'a> {
    pub fn username(&self) -> Option<Cow<'a, str>> {
        self.v.param("username")
    }
    pub fn realm(&self) -> Option<Cow<'a, str>> {
        self.v.param("realm")
    }
    pub fn nonce(&self) -> Option<Cow<'a, str>> {
        self.v.param("nonce")
    }
    /// `uri` (the digest-uri, compared against the Request-URI by the server).
    pub fn uri(&self) -> Option<Cow<'a, str>> {
        self.v.param("uri")
    }
    pub fn response(&self) -> Option<Cow<'a, str>> {
        self.v.param("response")
    }
    pub fn cnonce(&self) -> Option<Cow<'a, str>> {
        self.v.param("cnonce")
    }
    pub fn opaque(&self) -> Option<Cow<'a, str>> {
        self.v.param("opaque")
    }
    /// `algorithm`; absent means MD5 (RFC 2617 §3.2.1).
    pub fn algorithm(&self) -> Option<Algorithm<'a>> {
        self.v.params().find(|(n, _, _)| n.eq_ignore_ascii_case("algorithm")).map(|(_, v, _)| Algorithm::parse(v))
    }
    /// `qop` as written (`auth` in credentials, maybe `auth,auth-int` in a challenge).
    pub fn qop(&self) -> Option<Cow<'a, str>> {
        self.v.param("qop")
    }
    /// `nc`: 8 hex digits (RFC 2617 `nonce-count`).
    pub fn nc(&self) -> Option<Result<u32, ParseError>> {
        let v = self.v.param("nc")?;
        let ok = !v.is_empty() && v.len() <= 8 && v.bytes().all(|b| b.is_ascii_hexdigit());
        Some(u32::from_str_radix(&v, 16).ok().filter(|_| ok).ok_or(ParseError::Malformed(HeaderName::Authorization)))
    }
    /// `stale=true` in a challenge.
    pub fn stale(&self) -> bool {
        self.v.param("stale").is_some_and(|s| s.eq_ignore_ascii_case("true"))
    }
}

/// Iterator over auth parameters.
#[derive(Debug, Clone)]
pub struct AuthParamIter<'a> {
    c: Cursor<'a>,
}

impl<'a> Iterator for AuthParamIter<'a> {
    type Item = (&'a str, &'a str, bool);

    fn next(&mut self) -> Option<Self::Item> {
        let c = &mut self.c;
        c.skip_ws();
        while c.eat(b',') {
            c.skip_ws();
        }
        let name = c.take_while(|b| b != b'=' && b != b',' && !is_ws(b));
        if name.is_empty() {
            return None;
        }
        if !c.eat_sep(b'=') {
            return Some((name, "", false));
        }
        if c.peek() == Some(b'"') {
            let v = c.quoted().ok()?;
            return Some((name, v, true));
        }
        Some((name, c.take_while(|b| b != b',' && !is_ws(b)), false))
    }
}

fn scan_auth(s: &str) -> Result<AuthValue<'_>, Invalid> {
    let mut c = Cursor::new(s);
    c.skip_ws();
    let scheme = c.token()?;
    if !c.at_end() && !c.skip_ws() {
        return Err(Invalid);
    }
    let params = super::scan::trim_ws(c.rest());
    if scheme.eq_ignore_ascii_case("Digest") {
        let mut first = true;
        loop {
            c.skip_ws();
            if c.at_end() {
                break;
            }
            if !first && !c.eat_sep(b',') {
                return Err(Invalid);
            }
            first = false;
            c.token()?;
            if !c.eat_sep(b'=') {
                return Err(Invalid);
            }
            if c.peek() == Some(b'"') {
                c.quoted()?;
            } else if c.take_while(|b| is_token(b) || b == b'/' || b == b':').is_empty() {
                return Err(Invalid);
            }
        }
    }
    Ok(AuthValue { scheme, params })
}

/// Prints `Scheme p1=v1, p2="v2"` (Digest) or the opaque parameters as received.
impl fmt::Display for AuthValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme)?;
        if self.digest().is_none() {
            if !self.params.is_empty() {
                write!(f, " {}", self.params)?;
            }
            return Ok(());
        }
        for (i, (n, v, q)) in self.params().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            if q { write!(f, "{sep}{n}=\"{v}\"")? } else { write!(f, "{sep}{n}={v}")? }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDS: &str = r#"Digest username="bob", realm="biloxi.com",
 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", qop=auth,
 nc=0000001a, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1",
 opaque="5ccc069c403ebaf9f0171e9517f40e41", algorithm=SHA-256"#;

    #[test]
    fn parse_digest_credentials() {
        let a = AuthValue::parse(CREDS).unwrap();
        let d = a.digest().unwrap();
        assert_eq!(d.username().as_deref(), Some("bob"));
        assert_eq!(d.realm().as_deref(), Some("biloxi.com"));
        assert_eq!(d.nonce().as_deref(), Some("dcd98b7102dd2f0e8b11d0f600bfb0c093"));
        assert_eq!(d.uri().as_deref(), Some("sip:bob@biloxi.com"));
        assert_eq!(d.response().as_deref(), Some("6629fae49393a05397450978507c4ef1"));
        assert_eq!(d.qop().as_deref(), Some("auth"));
        assert_eq!(d.nc(), Some(Ok(0x1a)));
        assert_eq!(d.cnonce().as_deref(), Some("0a4f113b"));
        assert_eq!(d.opaque().as_deref(), Some("5ccc069c403ebaf9f0171e9517f40e41"));
        assert_eq!(d.algorithm(), Some(Algorithm::Sha256));
    }

    #[test]
    fn parse_challenge_and_odd_values() {
        let c = AuthValue::parse(
            r#"Digest realm="atlanta.com", qop="auth,auth-int", nonce="84a4cc6f", stale=TRUE, algorithm=MD5-sess"#,
        )
        .unwrap();
        let d = c.digest().unwrap();
        assert_eq!(d.qop().as_deref(), Some("auth,auth-int"));
        assert!(d.stale());
        assert_eq!(d.algorithm(), Some(Algorithm::Md5Sess));
        let bad_nc = AuthValue::parse("Digest nc=zz").unwrap();
        assert!(matches!(bad_nc.digest().and_then(|d| d.nc()), Some(Err(_))));
        let r = AuthValue::parse(r#"Digest username="a\"b""#).unwrap();
        assert_eq!(r.digest().and_then(|d| d.username()).as_deref(), Some("a\"b"));
    }

    #[test]
    fn unknown_scheme_is_opaque() {
        let a = AuthValue::parse("NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert_eq!(a.scheme(), "NoOneKnowsThisScheme");
        assert!(a.digest().is_none());
        assert_eq!(a.param("opaque-data").as_deref(), Some("here"));
        assert!(AuthValue::parse("Basic dXNlcjpwYXNz").is_ok());
    }

    #[test]
    fn reject_malformed_digest() {
        assert!(AuthValue::parse("Digest username").is_err());
        assert!(AuthValue::parse(r#"Digest username="open"#).is_err());
        assert!(AuthValue::parse("Digest a=1 b=2").is_err());
        assert!(AuthValue::parse("").is_err());
    }

    #[test]
    fn print_digest() {
        let a = AuthValue::parse("Digest  username=\"bob\" ,realm=\"x\",\r\n nc=00000001").unwrap();
        assert_eq!(a.to_string(), "Digest username=\"bob\", realm=\"x\", nc=00000001");
        assert_eq!(AuthValue::parse("Basic abc=").unwrap().to_string(), "Basic abc=");
    }
}
