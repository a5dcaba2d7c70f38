//! `;name=value` parameter lists, for header values (RFC 3261 `generic-param`, LWS
//! allowed around `;` and `=`) and for SIP URIs (`uri-parameter`, no LWS).
//!
//! Exists so Via, name-addr, Contact, Content-Type and URIs share one validated, zero-copy
//! representation. Lists are validated once when scanned; iterating them again cannot
//! fail and must never allocate.

use std::fmt;

use super::error::Invalid;
use super::scan::{Cursor, byte_class, is_token, is_ws};

/// A validated parameter list, kept as the raw text starting at its first `;`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a> {
    raw: &'a str,
}

/// One parameter. `value` is `None` for a flag such as `lr`; quoted values are given
/// without their quotes (quoted-pairs left escaped) and `quoted` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    pub name: &'a str,
    pub value: Option<&'a str>,
    pub quoted: bool,
}

impl<'a> Params<'a> {
    /// The raw text, e.g. `;tag=1;lr` (may contain LWS for header parameters).
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The parameters in order.
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter { c: Cursor::new(self.raw) }
    }

    /// The first parameter named `name` (case-insensitive).
    pub fn find(&self, name: &str) -> Option<Param<'a>> {
        self.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The value of parameter `name`; `None` if absent or a flag.
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.find(name).and_then(|p| p.value)
    }

    /// True when parameter `name` is present, with or without a value.
    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }
}

impl<'a> IntoIterator for Params<'a> {
    type Item = Param<'a>;
    type IntoIter = ParamIter<'a>;

    fn into_iter(self) -> ParamIter<'a> {
        self.iter()
    }
}

/// Iterator over a validated [`Params`].
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    c: Cursor<'a>,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let c = &mut self.c;
        if !c.eat_sep(b';') {
            return None;
        }
        let name = c.take_while(|b| b != b'=' && b != b';' && !is_ws(b));
        if !c.eat_sep(b'=') {
            return Some(Param { name, value: None, quoted: false });
        }
        if c.peek() == Some(b'"') {
            let v = c.quoted().ok()?;
            return Some(Param { name, value: Some(v), quoted: true });
        }
        let v = c.take_while(|b| b != b';' && !is_ws(b));
        Some(Param { name, value: Some(v), quoted: false })
    }
}

/// Characters allowed in an unquoted header parameter value: token, plus what `host`
/// needs (`:` `[` `]`) for `received`/`maddr` with IPv6 (RFC 5118 §4.5).
const fn gen_value_char(b: u8) -> bool {
    is_token(b) || matches!(b, b':' | b'[' | b']')
}

byte_class! {
    fn is_gen_value = gen_value_char;
}

/// Scans `*( SEMI generic-param )` at the cursor. Stops before the first character that
/// does not start another parameter; the caller decides whether that is an error.
pub(crate) fn scan_header_params<'a>(c: &mut Cursor<'a>) -> Result<Params<'a>, Invalid> {
    scan_header_params_with(c, |_, _| {})
}

/// [`scan_header_params`], calling `visit(name, value)` for each parameter as it is
/// scanned (quoted values without quotes), so callers keep the ones they need without a
/// second pass.
pub(crate) fn scan_header_params_with<'a>(
    c: &mut Cursor<'a>,
    mut visit: impl FnMut(&'a str, Option<&'a str>),
) -> Result<Params<'a>, Invalid> {
    let start = c.pos();
    let mut end = start;
    while c.eat_sep(b';') {
        let name = c.token()?;
        let mut value = None;
        if c.eat_sep(b'=') {
            if c.peek() == Some(b'"') {
                value = Some(c.quoted()?);
            } else {
                let v = c.take_while(is_gen_value);
                if v.is_empty() {
                    return Err(Invalid);
                }
                value = Some(v);
            }
        }
        visit(name, value);
        end = c.pos();
    }
    c.set_pos(end);
    Ok(Params { raw: c.slice(start, end)? })
}

byte_class! {
    fn is_uri_param_char = uri_param_char;
}

/// RFC 3261 `paramchar` (escapes are checked separately).
const fn uri_param_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'[' | b']'
                | b'/'
                | b':'
                | b'&'
                | b'+'
                | b'$'
                | b'-'
                | b'_'
                | b'.'
                | b'!'
                | b'~'
                | b'*'
                | b'\''
                | b'('
                | b')'
                | b'%'
        )
}

/// Scans `*( ";" uri-parameter )` at the cursor (no whitespace allowed).
pub(crate) fn scan_uri_params<'a>(c: &mut Cursor<'a>) -> Result<Params<'a>, Invalid> {
    let start = c.pos();
    while c.eat(b';') {
        let name = c.take_while(is_uri_param_char);
        check_escapes(name)?;
        if name.is_empty() {
            return Err(Invalid);
        }
        if c.eat(b'=') {
            let value = c.take_while(is_uri_param_char);
            check_escapes(value)?;
            if value.is_empty() {
                return Err(Invalid);
            }
        }
    }
    Ok(Params { raw: c.slice(start, c.pos())? })
}

/// Every `%` must start a `%HH` escape.
pub(crate) fn check_escapes(s: &str) -> Result<(), Invalid> {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&x) = b.get(i) {
        if x == b'%' {
            let ok = matches!((b.get(i + 1), b.get(i + 2)), (Some(h), Some(l))
                if h.is_ascii_hexdigit() && l.is_ascii_hexdigit());
            if !ok {
                return Err(Invalid);
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

impl fmt::Display for Param<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)?;
        match (self.value, self.quoted) {
            (Some(v), true) => write!(f, "=\"{v}\""),
            (Some(v), false) => write!(f, "={v}"),
            (None, _) => Ok(()),
        }
    }
}

/// Prints the list normalised: `;name=value` with no whitespace.
impl fmt::Display for Params<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in self.iter() {
            write!(f, ";{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_params(s: &str) -> Result<(Params<'_>, &str), Invalid> {
        let mut c = Cursor::new(s);
        let p = scan_header_params(&mut c)?;
        Ok((p, c.rest()))
    }

    #[test]
    fn parse_header_params_with_lws() {
        let (p, rest) = header_params(" ;   tag    = 1918181833n ;\r\n  lr ; q = 0.33").unwrap();
        assert_eq!(rest, "");
        assert_eq!(p.value("TAG"), Some("1918181833n"));
        assert!(p.contains("lr"));
        assert_eq!(p.find("lr").map(|x| x.value), Some(None));
        assert_eq!(p.value("q"), Some("0.33"));
        let (p, _) = header_params(r#";x="a;b\"c";received=[2001:db8::9:255]"#).unwrap();
        assert_eq!(p.find("x"), Some(Param { name: "x", value: Some(r#"a;b\"c"#), quoted: true }));
        assert_eq!(p.value("received"), Some("[2001:db8::9:255]"));
    }

    #[test]
    fn header_params_reject_empty_and_stop_at_comma() {
        assert!(header_params(";;").is_err());
        assert!(header_params(";a=").is_err());
        assert!(header_params(r#";a="open"#).is_err());
        let (p, rest) = header_params(";a=1 , next").unwrap();
        assert_eq!(p.raw(), ";a=1");
        assert_eq!(rest, " , next");
    }

    #[test]
    fn parse_uri_params() {
        let mut c = Cursor::new(";%6C%72;n%61me=v%61lue%25%34%31>");
        let p = scan_uri_params(&mut c).unwrap();
        assert_eq!(c.rest(), ">");
        assert_eq!(p.value("n%61me"), Some("v%61lue%25%34%31"));
        assert!(scan_uri_params(&mut Cursor::new(";bad%zz")).is_err());
        assert!(scan_uri_params(&mut Cursor::new(";=x")).is_err());
    }

    #[test]
    fn print_normalises_whitespace() {
        let (p, _) = header_params(" ; tag = 98asjd8 ;\r\n lr;x=\"q v\"").unwrap();
        assert_eq!(p.to_string(), ";tag=98asjd8;lr;x=\"q v\"");
    }
}
