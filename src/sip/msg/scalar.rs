//! Single-valued scalar headers: Max-Forwards, Expires, Content-Length, Call-ID.
//!
//! Exists so each of them is checked in one place with the right range. It must never
//! wrap or clamp: an overlarge value is [`ParseError::OutOfRange`] and the caller decides
//! (RFC 4475 §3.1.2.4 allows ignoring an overlarge Max-Forwards or Expires).

use super::error::ParseError;
use super::header::HeaderName;
use super::scan::{NumError, byte_class, parse_u32, trim_ws};

fn number(s: &str, name: HeaderName) -> Result<u32, ParseError> {
    parse_u32(trim_ws(s)).map_err(|e| match e {
        NumError::Overflow => ParseError::OutOfRange(name),
        NumError::Syntax => ParseError::Malformed(name),
    })
}

/// Max-Forwards: `1*DIGIT`, 0..=255 (RFC 3261 §20.22).
pub(crate) fn max_forwards(s: &str) -> Result<u8, ParseError> {
    let v = number(s, HeaderName::MaxForwards)?;
    u8::try_from(v).map_err(|_| ParseError::OutOfRange(HeaderName::MaxForwards))
}

/// Expires / Min-Expires: delta-seconds, 0..=2^32-1 (RFC 3261 §20.19).
pub(crate) fn delta_seconds(s: &str, name: HeaderName) -> Result<u32, ParseError> {
    number(s, name)
}

/// Content-Length: `1*DIGIT` (RFC 3261 §20.14).
pub(crate) fn content_length(s: &[u8]) -> Result<usize, ParseError> {
    let s = std::str::from_utf8(s).map_err(|_| ParseError::ContentLength)?;
    parse_u32(trim_ws(s)).map(|v| v as usize).map_err(|_| ParseError::ContentLength)
}

byte_class! {
    fn is_word = word_char;
}

/// RFC 3261 `word` characters, used by Call-ID.
const fn word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'!'
                | b'%'
                | b'*'
                | b'_'
                | b'+'
                | b'`'
                | b'\''
                | b'~'
                | b'('
                | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        )
}

/// Call-ID: `word [ "@" word ]`.
pub(crate) fn call_id(s: &str) -> Result<&str, ParseError> {
    let s = trim_ws(s);
    let (a, b) = s.split_once('@').unwrap_or((s, "x"));
    let word = |w: &str| !w.is_empty() && w.bytes().all(is_word);
    if word(a) && word(b) { Ok(s) } else { Err(ParseError::Malformed(HeaderName::CallId)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_max_forwards() {
        assert_eq!(max_forwards(" 0068 "), Ok(68));
        assert_eq!(max_forwards("0"), Ok(0));
        assert_eq!(max_forwards("300"), Err(ParseError::OutOfRange(HeaderName::MaxForwards)));
        assert_eq!(max_forwards("7a"), Err(ParseError::Malformed(HeaderName::MaxForwards)));
        assert_eq!(max_forwards(""), Err(ParseError::Malformed(HeaderName::MaxForwards)));
    }

    #[test]
    fn parse_expires_and_content_length() {
        assert_eq!(delta_seconds("3600", HeaderName::Expires), Ok(3600));
        assert_eq!(
            delta_seconds(&"1".repeat(100), HeaderName::Expires),
            Err(ParseError::OutOfRange(HeaderName::Expires))
        );
        assert_eq!(content_length(b" 150 "), Ok(150));
        assert_eq!(content_length(b"-999"), Err(ParseError::ContentLength));
        assert_eq!(content_length(b""), Err(ParseError::ContentLength));
    }

    #[test]
    fn parse_call_id() {
        assert_eq!(call_id(" a84b4c76e66710@pc33.atlanta.com "), Ok("a84b4c76e66710@pc33.atlanta.com"));
        assert!(call_id("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{").is_ok());
        assert!(call_id("two words").is_err());
        assert!(call_id("a@b@c").is_err());
        assert!(call_id("").is_err());
    }

    #[test]
    fn print_scalars() {
        // Scalars print as plain decimals; the value printed is what parses back.
        for v in [0u8, 70, 255] {
            assert_eq!(max_forwards(&v.to_string()), Ok(v));
        }
    }
}
