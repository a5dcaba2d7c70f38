//! Media anchoring: rewrite a description so that its media flows through our relay.
//!
//! Exists because a B2BUA that anchors media must show each peer our address and ports
//! instead of the other peer's: every `c=` gets our address, every active `m=` our port,
//! `a=rtcp` our RTCP port (RTP + 1, RFC 3605), and the `o=` becomes ours
//! ([`OriginState`]). ICE lines are removed because a plain RTP leg answers no
//! connectivity checks; leaving them in would make an ICE peer wait for them. Everything
//! else (codecs, fmtp, DTLS, unknown lines) passes through unchanged. It must never revive a
//! rejected stream (port 0 stays 0) and never leave the peer's address in a line it
//! rewrites.

use std::net::IpAddr;

use super::attr::Rtcp;
use super::error::RelayError;
use super::line::{Attribute, Connection, Line, addr_type};
use super::origin_state::OriginState;
use super::session::Sdp;

/// Points `sdp` at our relay: `media_addr`, and `ports[i]` (RTP; RTCP is `+ 1`) for the
/// `i`-th `m=` line (ignored for a rejected one); a `/<number of ports>` suffix is dropped, as
/// the relay holds one RTP/RTCP pair per stream. Then stamps our origin. On error nothing has
/// been changed.
pub fn rewrite_for_relay(
    sdp: &mut Sdp,
    media_addr: IpAddr,
    ports: &[u16],
    origin: &mut OriginState,
) -> Result<(), RelayError> {
    if ports.len() != sdp.media.len() {
        return Err(RelayError::PortCount { media: sdp.media.len(), ports: ports.len() });
    }
    let no_rtcp_room = ports.iter().zip(&sdp.media).find(|(p, m)| **p == u16::MAX && !m.is_rejected());
    if let Some((&port, _)) = no_rtcp_room {
        return Err(RelayError::RtcpPort { port });
    }
    let ours = Connection::new(media_addr);
    set_session_connection(&mut sdp.lines, &ours);
    sdp.lines.retain(|l| l.attribute().is_none_or(|a| !is_ice(a)));
    for (media, &port) in sdp.media.iter_mut().zip(ports) {
        let active = !media.is_rejected();
        if active {
            media.port = port;
            media.port_count = None;
        }
        let mut seen_connection = false;
        media.lines.retain_mut(|line| match line {
            Line::Connection(c) => {
                *c = ours.clone();
                !std::mem::replace(&mut seen_connection, true)
            }
            Line::Attribute(a) if is_ice(a) => false,
            Line::Attribute(a) if a.is("rtcp") => active && rewrite_rtcp(a, port.saturating_add(1), media_addr),
            _ => true,
        });
    }
    origin.stamp(sdp, media_addr);
    Ok(())
}

/// ICE (RFC 8839) lines: candidates and credentials.
fn is_ice(a: &Attribute) -> bool {
    a.is("candidate") || a.is("remote-candidates") || a.is("end-of-candidates") || a.name.starts_with("ice-")
}

/// Our session-level `c=`: replaces the first, drops others, or is inserted where RFC 8866
/// §5 orders it (after `i= u= e= p=`).
fn set_session_connection(lines: &mut Vec<Line>, ours: &Connection) {
    let mut seen = false;
    lines.retain_mut(|line| match line {
        Line::Connection(c) => {
            *c = ours.clone();
            !std::mem::replace(&mut seen, true)
        }
        _ => true,
    });
    if !seen {
        let at = lines.iter().position(|l| !matches!(l.kind(), 'i' | 'u' | 'e' | 'p')).unwrap_or(lines.len());
        lines.insert(at, Line::Connection(ours.clone()));
    }
}

/// `a=rtcp:<rtcp port>`, with our address when the original named one; false drops it.
fn rewrite_rtcp(a: &mut Attribute, rtcp_port: u16, media_addr: IpAddr) -> bool {
    let Some(old) = Rtcp::parse(a.text()) else { return false };
    a.value = Some(match old.connection {
        Some(_) => format!("{rtcp_port} IN {} {media_addr}", addr_type(media_addr)),
        None => rtcp_port.to_string(),
    });
    true
}

#[cfg(test)]
mod tests {
    use super::super::answer::{AnswerPolicy, answer};
    use super::super::codec::Codec;
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn asterisk_offer_is_anchored_exactly() {
        let mut sdp = parse(ASTERISK);
        rewrite_for_relay(&mut sdp, ADDR, &[30000], &mut OriginState::new(5)).unwrap();
        assert_eq!(
            sdp.to_string(),
            ASTERISK
                .replace("- 1640995200 1640995202 IN IP4 198.51.100.5", "pbx 5 1 IN IP4 203.0.113.1")
                .replace("c=IN IP4 198.51.100.5", "c=IN IP4 203.0.113.1")
                .replace("m=audio 14562", "m=audio 30000")
        );
    }

    #[test]
    fn webrtc_offer_loses_ice_and_gets_our_rtcp() {
        let mut sdp = parse(WEBRTC);
        rewrite_for_relay(&mut sdp, ADDR, &[30002], &mut OriginState::new(9)).unwrap();
        let expected = "v=0\r\n\
o=pbx 9 1 IN IP4 203.0.113.1\r\n\
s=-\r\n\
c=IN IP4 203.0.113.1\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS 3d6d0f9e\r\n\
m=audio 30002 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
c=IN IP4 203.0.113.1\r\n\
a=rtcp:30003 IN IP4 203.0.113.1\r\n\
a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=sendrecv\r\n\
a=msid:- 3d6d0f9e\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:63 red/48000/2\r\n\
a=fmtp:63 111/111\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:13 CN/8000\r\n\
a=rtpmap:110 telephone-event/48000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
a=ssrc:3510681183 cname:Bo3PdfqPRz0+lEnT\r\n";
        assert_eq!(sdp.to_string(), expected);
    }

    #[test]
    fn ipv6_offer_to_ipv4_relay_keeps_rejected_video_at_port_zero() {
        let mut sdp = parse(IPV6);
        rewrite_for_relay(&mut sdp, ADDR, &[30004, 30006], &mut OriginState::new(3)).unwrap();
        let text = sdp.to_string();
        assert!(text.starts_with("v=0\r\no=pbx 3 1 IN IP4 203.0.113.1\r\ns=IPv6 call\r\n"), "{text}");
        assert!(text.contains("\r\nc=IN IP4 203.0.113.1\r\nb=CT:128\r\n"), "{text}");
        assert!(text.contains("m=audio 30004 RTP/AVP 0 101\r\ni=voice\r\nc=IN IP4 203.0.113.1\r\n"), "{text}");
        assert!(text.ends_with("m=video 0 RTP/AVP 31\r\n"), "{text}");
        assert!(!text.contains("2001:db8"), "{text}");
    }

    #[test]
    fn linphone_rtcp_port_only_form_is_kept() {
        let mut sdp = parse(LINPHONE);
        rewrite_for_relay(&mut sdp, ADDR, &[40000, 40002], &mut OriginState::new(1)).unwrap();
        assert_eq!(sdp.media[0].rtcp().map(|r| (r.port, r.connection)), Some((40001, None)));
        assert_eq!(sdp.media[1].rtcp().map(|r| r.port), Some(40003));
    }

    #[test]
    fn missing_session_connection_is_inserted_in_rfc_order() {
        let mut sdp = parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\ni=info\r\nt=0 0\r\nm=audio 5 RTP/AVP 0\r\n");
        rewrite_for_relay(&mut sdp, ADDR, &[30000], &mut OriginState::new(2)).unwrap();
        assert_eq!(
            sdp.to_string(),
            "v=0\r\no=pbx 2 1 IN IP4 203.0.113.1\r\ns=-\r\ni=info\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n\
             m=audio 30000 RTP/AVP 0\r\n"
        );
    }

    #[test]
    fn answer_then_rewrite_is_ready_to_send() {
        let mut a = answer(&parse(BARESIP), &AnswerPolicy::new(&[Codec::PCMA, Codec::telephone_event(101)]));
        rewrite_for_relay(&mut a, ADDR, &[30010], &mut OriginState::new(77)).unwrap();
        assert_eq!(
            a.to_string(),
            "v=0\r\no=pbx 77 1 IN IP4 203.0.113.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n\
             m=audio 30010 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
        );
    }

    #[test]
    fn version_rises_only_when_the_rewritten_content_changes() {
        let mut state = OriginState::new(1);
        let mut version = |text: &str, port: u16| {
            let mut sdp = parse(text);
            rewrite_for_relay(&mut sdp, ADDR, &[port], &mut state).unwrap();
            sdp.origin.sess_version
        };
        assert_eq!(version(ASTERISK, 30000), 1);
        assert_eq!(version(&ASTERISK.replace("198.51.100.5", "198.51.100.6"), 30000), 1, "peer address hidden");
        assert_eq!(version(ASTERISK, 30002), 2, "our port moved");
        assert_eq!(version(&ASTERISK.replace("a=sendrecv", "a=sendonly"), 30002), 3, "hold");
        assert_eq!(version(&ASTERISK.replace("a=sendrecv", "a=sendonly"), 30002), 3, "same hold again");
    }

    #[test]
    fn bad_port_lists_change_nothing() {
        let mut sdp = parse(LINPHONE);
        let before = sdp.clone();
        let mut state = OriginState::new(1);
        assert_eq!(
            rewrite_for_relay(&mut sdp, ADDR, &[30000], &mut state),
            Err(RelayError::PortCount { media: 2, ports: 1 })
        );
        assert_eq!(
            rewrite_for_relay(&mut sdp, ADDR, &[30000, 65535], &mut state),
            Err(RelayError::RtcpPort { port: 65535 })
        );
        assert_eq!(sdp, before);
        assert_eq!(state, OriginState::new(1));
    }
}
