//! The error types of the SDP layer.
//!
//! Exists so a caller can turn any defect into a SIP answer (488 Not Acceptable Here for an
//! offer, 400 for garbage) and log it. It must never carry peer bytes: variants are `Copy`
//! and hold only numbers and static text, so an error can't leak or amplify the input.

/// Why a session description could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is larger than [`super::Limits::max_size`].
    #[error("SDP larger than {limit} bytes")]
    TooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The body has more lines than [`super::Limits::max_lines`].
    #[error("SDP has more than {limit} lines")]
    TooManyLines {
        /// The limit in force.
        limit: usize,
    },
    /// The body has more `m=` lines than [`super::Limits::max_media`].
    #[error("SDP has more than {limit} media sections")]
    TooManyMedia {
        /// The limit in force.
        limit: usize,
    },
    /// SDP text must be UTF-8 (RFC 8866 §5, `a=charset` aside).
    #[error("SDP is not UTF-8")]
    Utf8,
    /// Nothing but blank lines.
    #[error("SDP is empty")]
    Empty,
    /// The first line is not `v=`.
    #[error("SDP does not start with v=")]
    MissingVersion,
    /// No `o=` line in the session section.
    #[error("SDP has no o= line")]
    MissingOrigin,
    /// No `s=` line in the session section.
    #[error("SDP has no s= line")]
    MissingSessionName,
    /// A line does not follow its grammar; `line` is 1-based, `what` names the defect.
    #[error("SDP line {line}: {what}")]
    Malformed {
        /// 1-based line number in the input.
        line: usize,
        /// A short static description, e.g. `"bad m= port"`.
        what: &'static str,
    },
}

/// Why [`super::rewrite_for_relay`] could not anchor a session description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// The caller must hand one RTP port per `m=` line.
    #[error("{ports} relay ports given for {media} media sections")]
    PortCount {
        /// Number of `m=` lines.
        media: usize,
        /// Number of ports given.
        ports: usize,
    },
    /// RTCP uses RTP port + 1, which does not exist for 65535.
    #[error("relay port {port} leaves no room for RTCP")]
    RtcpPort {
        /// The offending RTP port.
        port: u16,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_well_and_hold_no_input() {
        assert_eq!(ParseError::Malformed { line: 7, what: "bad m= port" }.to_string(), "SDP line 7: bad m= port");
        assert_eq!(ParseError::TooLarge { limit: 8192 }.to_string(), "SDP larger than 8192 bytes");
        assert_eq!(
            RelayError::PortCount { media: 2, ports: 1 }.to_string(),
            "1 relay ports given for 2 media sections"
        );
    }
}
