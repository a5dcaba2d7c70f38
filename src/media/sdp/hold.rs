//! Effective direction of each stream and hold detection.
//!
//! Exists so the call actor can tell "the peer put us on hold" (play music, stop the RTP
//! timeout) from a normal re-INVITE. A stream is held by its writer when its effective
//! direction (media level, else session level, else `sendrecv`) is `sendonly` or
//! `inactive` (RFC 3264 §8.4), or when its connection address is `0.0.0.0` (RFC 2543 §B.5,
//! still sent by old phones; `::` is treated alike). It must never change the description.

use super::direction::Direction;
use super::session::Sdp;

impl Sdp {
    /// The direction written at session level, if any.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes().find_map(|a| Direction::from_attribute(&a.name).filter(|_| a.value.is_none()))
    }

    /// Stream `index`'s direction: its own, else the session's, else `sendrecv`.
    pub fn media_direction(&self, index: usize) -> Direction {
        let own = self.media.get(index).and_then(|m| m.direction());
        own.or_else(|| self.direction()).unwrap_or_default()
    }

    /// The writer holds stream `index`: sends at most, or points it at an unspecified address.
    pub fn is_media_held(&self, index: usize) -> bool {
        self.media_direction(index).is_hold() || self.media_connection(index).is_some_and(|c| c.is_unspecified())
    }

    /// The writer holds the call: it has active streams (port ≠ 0) and holds all of them.
    /// A call that only pauses its video is not on hold.
    pub fn is_hold(&self) -> bool {
        let mut active = self.media.iter().enumerate().filter(|(_, m)| !m.is_rejected()).map(|(i, _)| i).peekable();
        active.peek().is_some() && active.all(|i| self.is_media_held(i))
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    fn with_direction(direction: &str) -> Sdp {
        parse(&ASTERISK.replace("a=sendrecv", direction))
    }

    #[test]
    fn sendrecv_and_recvonly_are_not_hold() {
        assert!(!parse(ASTERISK).is_hold());
        assert!(!with_direction("a=recvonly").is_hold());
        assert!(!parse(BARESIP).is_hold());
    }

    #[test]
    fn sendonly_and_inactive_are_hold() {
        assert!(with_direction("a=sendonly").is_hold());
        assert!(with_direction("a=inactive").is_hold());
    }

    #[test]
    fn rfc2543_zero_address_is_hold() {
        let sdp = parse(&ASTERISK.replace("c=IN IP4 198.51.100.5", "c=IN IP4 0.0.0.0"));
        assert!(sdp.is_hold());
        assert_eq!(sdp.media_direction(0), Direction::SendRecv);
    }

    #[test]
    fn media_direction_overrides_session_direction() {
        let session_sendonly = ASTERISK.replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
        let sdp = parse(&session_sendonly);
        assert_eq!(sdp.direction(), Some(Direction::SendOnly));
        assert_eq!(sdp.media_direction(0), Direction::SendRecv, "a=sendrecv at media level wins");
        assert!(!sdp.is_hold());
        let sdp = parse(&session_sendonly.replace("a=sendrecv\r\n", ""));
        assert_eq!(sdp.media_direction(0), Direction::SendOnly, "session level applies when media says nothing");
        assert!(sdp.is_hold());
    }

    #[test]
    fn ipv6_session_recvonly_is_not_hold_and_rejected_video_is_ignored() {
        let sdp = parse(IPV6);
        assert_eq!(sdp.media_direction(0), Direction::RecvOnly);
        assert!(!sdp.is_hold());
        assert!(parse(&IPV6.replace("a=recvonly", "a=inactive")).is_hold());
    }

    #[test]
    fn paused_video_alone_is_not_hold() {
        let text = LINPHONE.replace("a=rtcp:9079\r\n", "a=rtcp:9079\r\na=inactive\r\n");
        let sdp = parse(&text);
        assert!(sdp.is_media_held(1) && !sdp.is_media_held(0));
        assert!(!sdp.is_hold());
    }

    #[test]
    fn no_active_stream_is_not_hold() {
        assert!(!parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 0 RTP/AVP 0\r\n").is_hold());
    }
}
