//! Session descriptions shaped like those real user agents send, shared by the tests.
//!
//! Exists so every module tests against the same realistic inputs. Addresses are from the
//! documentation ranges (RFC 5737, RFC 3849); keys and fingerprints are made up.

use std::net::{IpAddr, Ipv4Addr};

use super::limits::Limits;
use super::session::Sdp;

/// Parses a fixture (they are all valid).
pub fn parse(text: &str) -> Sdp {
    Sdp::parse(text.as_bytes(), &Limits::default()).unwrap()
}

/// The relay address the rewriting tests anchor media on.
pub const ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));

/// A baresip-style offer: Opus first, G.722, G.711, telephone-event.
pub const BARESIP: &str = "v=0\r\n\
o=- 3467812562 3467812563 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 10000 RTP/AVP 96 9 0 8 101\r\n\
b=AS:128\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 stereo=1;sprop-stereo=1\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=sendrecv\r\n\
a=label:1\r\n\
a=ssrc:1867203290 cname:4d8e2c0f-0b9e-4f43\r\n\
a=rtcp-rsize\r\n\
a=ptime:20\r\n";

/// A linphone-style offer: audio and video, several telephone-event rates, RTCP feedback.
pub const LINPHONE: &str = "v=0\r\n\
o=alice 2345 678 IN IP4 192.0.2.50\r\n\
s=Talk\r\n\
c=IN IP4 192.0.2.50\r\n\
t=0 0\r\n\
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n\
a=record:off\r\n\
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 useinbandfec=1\r\n\
a=rtpmap:97 speex/16000\r\n\
a=fmtp:97 vbr=on\r\n\
a=rtpmap:98 speex/8000\r\n\
a=fmtp:98 vbr=on\r\n\
a=fmtp:18 annexb=yes\r\n\
a=rtpmap:101 telephone-event/48000\r\n\
a=rtpmap:99 telephone-event/16000\r\n\
a=rtpmap:100 telephone-event/8000\r\n\
a=rtcp:7079\r\n\
a=rtcp-fb:* trr-int 1000\r\n\
a=rtcp-fb:* ccm tmmbr\r\n\
m=video 9078 RTP/AVP 96 97\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=rtpmap:97 H264/90000\r\n\
a=fmtp:97 profile-level-id=42801F\r\n\
a=rtcp:9079\r\n\
a=rtcp-fb:* trr-int 1000\r\n\
a=rtcp-fb:96 nack pli\r\n\
a=rtcp-fb:96 ccm fir\r\n\
a=rtcp-fb:97 nack pli\r\n\
a=rtcp-fb:97 ccm tmmbr\r\n";

/// An Asterisk-style offer: static types, telephone-event 101, ptime and maxptime.
pub const ASTERISK: &str = "v=0\r\n\
o=- 1640995200 1640995202 IN IP4 198.51.100.5\r\n\
s=Asterisk\r\n\
c=IN IP4 198.51.100.5\r\n\
t=0 0\r\n\
m=audio 14562 RTP/AVP 0 8 3 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:3 GSM/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n";

/// A browser-style WebRTC offer (JsSIP over Chromium): BUNDLE, ICE, DTLS, RTCP mux.
pub const WEBRTC: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS 3d6d0f9e\r\n\
m=audio 54400 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
c=IN IP4 203.0.113.7\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=candidate:842163049 1 udp 1677729535 203.0.113.7 54400 typ srflx raddr 10.0.0.5 rport 54400 generation 0\r\n\
a=candidate:3967327213 1 udp 2122260223 10.0.0.5 54400 typ host generation 0 network-id 1\r\n\
a=end-of-candidates\r\n\
a=ice-ufrag:Mvg3\r\n\
a=ice-pwd:UsrBWgXfLTJXNmCNW1CG3m2q\r\n\
a=ice-options:trickle\r\n\
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

/// An IPv6 offer using every session-level line type, an unknown `y=` line and a
/// disabled video stream.
pub const IPV6: &str = "v=0\r\n\
o=bob 2890844730 2890844731 IN IP6 2001:db8::10\r\n\
s=IPv6 call\r\n\
i=A call over IPv6\r\n\
u=http://www.example.com/seminars/sdp.pdf\r\n\
e=bob@example.com (Bob)\r\n\
p=+1 617 555-6011\r\n\
c=IN IP6 2001:db8::10\r\n\
b=CT:128\r\n\
t=2873397496 2873404696\r\n\
r=7d 1h 0 25h\r\n\
z=2882844526 -1h 2898848070 0\r\n\
k=prompt\r\n\
y=0100000001\r\n\
a=recvonly\r\n\
m=audio 49170 RTP/AVP 0 101\r\n\
i=voice\r\n\
c=IN IP6 2001:db8::20\r\n\
b=AS:64\r\n\
k=prompt\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
m=video 0 RTP/AVP 31\r\n";

/// Every fixture with its name.
pub const ALL: [(&str, &str); 5] =
    [("baresip", BARESIP), ("linphone", LINPHONE), ("asterisk", ASTERISK), ("webrtc", WEBRTC), ("ipv6", IPV6)];
