//! The CSeq header (RFC 3261 §20.16): sequence number and method.
//!
//! Exists because transactions and dialogs order requests by it and servers must check
//! its method against the request line. It must never truncate an overlarge number:
//! values above 2^32-1 are an error (RFC 4475 §3.1.2.4).

use std::fmt;

use super::error::ParseError;
use super::header::HeaderName;
use super::method::Method;
use super::scan::{Cursor, NumError, is_token, parse_u32};

/// `CSeq: <seq> <method>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub seq: u32,
    pub method: Method<'a>,
}

impl<'a> CSeq<'a> {
    pub fn parse(s: &'a str) -> Result<CSeq<'a>, ParseError> {
        let bad = ParseError::Malformed(HeaderName::CSeq);
        let mut c = Cursor::new(s);
        c.skip_ws();
        let digits = c.take_while(|b| b.is_ascii_digit());
        let seq = parse_u32(digits).map_err(|e| match e {
            NumError::Overflow => ParseError::OutOfRange(HeaderName::CSeq),
            NumError::Syntax => bad,
        })?;
        if !c.skip_ws() {
            return Err(bad);
        }
        let method = Method::parse(c.take_while(is_token)).ok_or(bad)?;
        c.expect_end().map_err(|_| bad)?;
        Ok(CSeq { seq, method })
    }
}

impl fmt::Display for CSeq<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_cseq() {
        assert_eq!(CSeq::parse("0009\r\n  INVITE"), Ok(CSeq { seq: 9, method: Method::Invite }));
        assert_eq!(CSeq::parse("8 NEWMETHOD"), Ok(CSeq { seq: 8, method: Method::Extension("NEWMETHOD") }));
        assert_eq!(CSeq::parse("36893488147419103232 REGISTER"), Err(ParseError::OutOfRange(HeaderName::CSeq)));
        assert!(CSeq::parse("INVITE").is_err());
        assert!(CSeq::parse("1INVITE").is_err());
        assert!(CSeq::parse("1 INVITE x").is_err());
        assert!(CSeq::parse("-1 INVITE").is_err());
    }

    #[test]
    fn print_cseq() {
        assert_eq!(CSeq::parse(" 0009\r\n INVITE ").unwrap().to_string(), "9 INVITE");
        assert_eq!(CSeq { seq: 1, method: Method::Extension("FOO") }.to_string(), "1 FOO");
    }
}
