//! Token-list headers: Require, Proxy-Require, Supported, Unsupported, Allow,
//! Allow-Events (RFC 3261 §20.32, §20.29, §20.37, §20.40, §20.5).
//!
//! Exists so the server can answer 420 with the option tags it does not support
//! (RFC 4475 §3.3.5) and read Allow as methods. Empty elements are skipped (Supported may
//! be empty); it must never accept a non-token element silently.

use super::error::ParseError;
use super::header::HeaderName;
use super::scan::{is_token_str, split_list};

/// The tokens of one header value, in order; an element that is not a token yields an
/// error naming `name`.
pub(crate) fn tokens(value: &str, name: HeaderName) -> impl Iterator<Item = Result<&str, ParseError>> {
    split_list(value)
        .filter(|t| !t.is_empty())
        .map(move |t| if is_token_str(t) { Ok(t) } else { Err(ParseError::Malformed(name)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_token_lists() {
        let v: Vec<_> = tokens("nothingSupportsThis, nothingSupportsThisEither", HeaderName::Require).collect();
        assert_eq!(v, vec![Ok("nothingSupportsThis"), Ok("nothingSupportsThisEither")]);
        assert_eq!(tokens("", HeaderName::Supported).count(), 0);
        assert_eq!(tokens("100rel,\r\n timer", HeaderName::Supported).count(), 2);
        let bad: Vec<_> = tokens("a b", HeaderName::Require).collect();
        assert_eq!(bad, vec![Err(ParseError::Malformed(HeaderName::Require))]);
    }

    #[test]
    fn print_token_lists() {
        let v: Vec<_> = tokens(" 100rel ,timer", HeaderName::Supported).flatten().collect();
        assert_eq!(v.join(", "), "100rel, timer");
    }
}
