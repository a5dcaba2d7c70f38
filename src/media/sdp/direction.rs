//! Media direction (RFC 8866 §6.7) and its offer/answer rules (RFC 3264 §6.1, §8.4).
//!
//! Exists so hold, resume and the answerer's direction are computed in one place. A
//! direction is read from the side that wrote it: `sendonly` in a peer's SDP means the peer
//! sends. This module must never look at addresses (RFC 2543 `0.0.0.0` hold is
//! [`super::Sdp::is_hold`]'s business).

use std::fmt;

/// Whether the side that wrote the SDP sends, receives, both or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// `a=sendrecv`, the default when no direction is written.
    #[default]
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The direction named by an attribute, if it is one.
    pub fn from_attribute(name: &str) -> Option<Direction> {
        Some(match name {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn from_flags(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// The writer sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// The writer receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The answerer's direction for an offered one (RFC 3264 §6.1): `sendonly` → `recvonly`,
    /// `recvonly` → `sendonly`, `sendrecv` and `inactive` unchanged. With `local_hold` the
    /// answerer also refuses to receive (RFC 3264 §8.4): `sendrecv` → `sendonly`,
    /// `sendonly` → `inactive`.
    pub fn answer(self, local_hold: bool) -> Direction {
        Direction::from_flags(self.receives(), self.sends() && !local_hold)
    }

    /// The direction to offer when putting a stream on hold (RFC 3264 §8.4): stop receiving.
    pub fn held(self) -> Direction {
        Direction::from_flags(self.sends(), false)
    }

    /// The writer holds the stream: it will not receive (`sendonly`, `inactive`).
    pub fn is_hold(self) -> bool {
        !self.receives()
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Direction::*;
    use super::*;

    #[test]
    fn answer_reverses_per_rfc3264_6_1() {
        assert_eq!(SendRecv.answer(false), SendRecv);
        assert_eq!(SendOnly.answer(false), RecvOnly);
        assert_eq!(RecvOnly.answer(false), SendOnly);
        assert_eq!(Inactive.answer(false), Inactive);
    }

    #[test]
    fn answer_with_local_hold_never_receives() {
        assert_eq!(SendRecv.answer(true), SendOnly);
        assert_eq!(SendOnly.answer(true), Inactive);
        assert_eq!(RecvOnly.answer(true), SendOnly);
        assert_eq!(Inactive.answer(true), Inactive);
    }

    #[test]
    fn hold_offer_per_rfc3264_8_4() {
        assert_eq!(SendRecv.held(), SendOnly);
        assert_eq!(RecvOnly.held(), Inactive);
        assert!(SendOnly.is_hold() && Inactive.is_hold());
        assert!(!SendRecv.is_hold() && !RecvOnly.is_hold());
    }

    #[test]
    fn names_round_trip() {
        for d in [SendRecv, SendOnly, RecvOnly, Inactive] {
            assert_eq!(Direction::from_attribute(d.as_str()), Some(d));
        }
        assert_eq!(Direction::from_attribute("rtpmap"), None);
        assert_eq!(Direction::default(), SendRecv);
    }
}
