//! Content-Type media types (RFC 3261 §20.15, `m-type "/" m-subtype *(SEMI m-parameter)`).
//!
//! Exists so the server can dispatch bodies (SDP, multipart, sipfrag) and answer 415 for
//! types it does not handle (RFC 4475 §3.3.6). Type and subtype compare case-insensitively;
//! it must never interpret the body itself.

use std::fmt;

use super::error::{Invalid, ParseError};
use super::header::HeaderName;
use super::params::{Params, scan_header_params};
use super::scan::Cursor;

/// A media type such as `application/sdp` or `multipart/mixed;boundary=x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    ty: &'a str,
    subtype: &'a str,
    params: Params<'a>,
}

impl<'a> MediaType<'a> {
    pub fn parse(s: &'a str) -> Result<MediaType<'a>, ParseError> {
        scan_media(s).map_err(Invalid::header(HeaderName::ContentType))
    }
    pub fn ty(&self) -> &'a str {
        self.ty
    }
    pub fn subtype(&self) -> &'a str {
        self.subtype
    }
    pub fn params(&self) -> Params<'a> {
        self.params
    }
    /// Case-insensitive `type/subtype` comparison, e.g. `is("application", "sdp")`.
    pub fn is(&self, ty: &str, subtype: &str) -> bool {
        self.ty.eq_ignore_ascii_case(ty) && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

fn scan_media(s: &str) -> Result<MediaType<'_>, Invalid> {
    let mut c = Cursor::new(s);
    c.skip_ws();
    let ty = c.token()?;
    if !c.eat_sep(b'/') {
        return Err(Invalid);
    }
    let subtype = c.token()?;
    let params = scan_header_params(&mut c)?;
    c.expect_end()?;
    Ok(MediaType { ty, subtype, params })
}

impl fmt::Display for MediaType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.ty, self.subtype, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_media_types() {
        let m = MediaType::parse("multipart/mixed;boundary=7a9cbec02ceef655").unwrap();
        assert!(m.is("Multipart", "MIXED"));
        assert_eq!(m.params().value("boundary"), Some("7a9cbec02ceef655"));
        assert!(MediaType::parse("application/unknownformat").is_ok());
        assert!(MediaType::parse("application").is_err());
        assert!(MediaType::parse("application/sdp x").is_err());
    }

    #[test]
    fn print_media_type() {
        let m = MediaType::parse("text/plain ; charset = \"utf-8\"").unwrap();
        assert_eq!(m.to_string(), "text/plain;charset=\"utf-8\"");
    }
}
