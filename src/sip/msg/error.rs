//! The one error type of the message layer.
//!
//! Exists so callers can map any defect to a SIP status (see [`super::Reject`]) and log it.
//! It must never carry peer bytes: variants are `Copy`, at most naming a header, so an error
//! can't leak or amplify input.

use super::header::HeaderName;

/// What is wrong with a message, a header value or a URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The message is larger than [`super::Limits::max_message_size`].
    #[error("message too large")]
    TooLarge,
    /// The message has more header lines than [`super::Limits::max_headers`].
    #[error("too many header lines")]
    TooManyHeaders,
    /// Nothing but empty lines.
    #[error("empty message")]
    Empty,
    /// No empty line ends the header section.
    #[error("header section not terminated")]
    Unterminated,
    /// The request or status line does not follow RFC 3261 §7.1/§7.2.
    #[error("malformed start line")]
    StartLine,
    /// The status code is not three digits in 100..=699.
    #[error("malformed status code")]
    StatusCode,
    /// A header line has no colon, a bad name or a continuation with nothing to continue.
    #[error("malformed header line")]
    HeaderLine,
    /// A required header is absent.
    #[error("missing {0} header")]
    Missing(HeaderName),
    /// A header that may appear once appears more than once (RFC 4475 §3.3.8).
    #[error("duplicate {0} header")]
    Duplicate(HeaderName),
    /// A header value does not follow its grammar.
    #[error("malformed {0} header")]
    Malformed(HeaderName),
    /// A numeric header value is outside its range (RFC 4475 §3.1.2.4).
    #[error("{0} value out of range")]
    OutOfRange(HeaderName),
    /// A URI does not follow RFC 3261 §25 / RFC 3966.
    #[error("malformed URI")]
    Uri,
    /// Content-Length is not a decimal number (RFC 4475 §3.1.2.3).
    #[error("malformed Content-Length")]
    ContentLength,
    /// Several Content-Length headers disagree (RFC 4475 §3.3.9).
    #[error("conflicting Content-Length headers")]
    ConflictingContentLength,
    /// Content-Length is larger than the bytes received (RFC 4475 §3.1.2.2).
    #[error("body shorter than Content-Length")]
    BodyTruncated,
    /// A stream message without Content-Length (RFC 3261 §18.3).
    #[error("missing Content-Length on a stream transport")]
    MissingContentLength,
    /// Text that must be UTF-8 is not.
    #[error("text is not UTF-8")]
    Utf8,
    /// SIP version other than 2.0 (answer 505).
    #[error("unsupported SIP version")]
    UnsupportedVersion,
    /// Request-URI scheme other than sip, sips or tel (answer 416).
    #[error("unsupported Request-URI scheme")]
    UnsupportedScheme,
    /// Request-URI carries `?headers` (RFC 4475 §3.1.2.11).
    #[error("Request-URI has escaped headers")]
    UriHeaders,
    /// CSeq method differs from the request method (RFC 3261 §8.1.1.5).
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
}

/// Internal marker for "this text does not match the grammar"; callers add context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid;

impl Invalid {
    pub(crate) fn header(name: HeaderName) -> impl Fn(Invalid) -> ParseError {
        move |_| ParseError::Malformed(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_short_and_name_the_header() {
        assert_eq!(ParseError::Missing(HeaderName::CallId).to_string(), "missing Call-ID header");
        assert_eq!(ParseError::Malformed(HeaderName::Via).to_string(), "malformed Via header");
        assert!(std::mem::size_of::<ParseError>() <= 2);
    }
}
