//! The answerer's side of RFC 3264 offer/answer: from an offer and the codecs we allow, the
//! answer.
//!
//! Exists so every leg negotiates the same way: per `m=` line, the intersection of the
//! offered codecs with ours under the offerer's payload type numbers (§6.1), telephone-event
//! kept when offered and allowed, streams we cannot take rejected with port 0 (§6), the
//! direction reversed (§6.1) or held (§8.4), and as many `m=` lines in the same order.
//! The answer is structural: its `o=` is a placeholder and its `c=` lines and ports are the
//! offer's until [`super::rewrite_for_relay`] puts ours in — always call it before sending.
//! This module must never copy an offer attribute it does not understand into the answer
//! (ICE, crypto, DTLS and RTCP-mux lines are promises only their owner can keep).

use super::attr::split_payload_type;
use super::codec::Codec;
use super::line::{Attribute, Line};
use super::media::Media;
use super::origin::Origin;
use super::session::Sdp;

/// Transports a plain RTP relay leg can answer.
pub const PLAIN_RTP: &[&str] = &["RTP/AVP", "RTP/AVPF"];

/// Whose preference orders the codecs of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecOrder {
    /// Our list's order (the tenant's preference).
    Ours,
    /// The offer's order (RFC 3264 §6.1 lets the answerer choose; many PBXes honour the caller).
    Offerer,
}

/// What we accept when answering.
#[derive(Debug, Clone, Copy)]
pub struct AnswerPolicy<'a> {
    /// Codecs we allow, in our preference order; their payload type numbers do not matter.
    pub codecs: &'a [Codec],
    /// Whose order wins.
    pub order: CodecOrder,
    /// Transports we accept (case-insensitive); other streams are rejected. Example: [`PLAIN_RTP`].
    pub protos: &'a [&'a str],
    /// We hold the call: answer without receiving (RFC 3264 §8.4).
    pub local_hold: bool,
    /// Answer one voice codec per stream (plus telephone-event / CN at its clock rate), so
    /// neither side can switch codecs mid-call and the relay can stay a passthrough.
    pub single_codec: bool,
}

impl<'a> AnswerPolicy<'a> {
    /// Our order, plain RTP, no hold, every common codec.
    pub fn new(codecs: &'a [Codec]) -> AnswerPolicy<'a> {
        AnswerPolicy { codecs, order: CodecOrder::Ours, protos: PLAIN_RTP, local_hold: false, single_codec: false }
    }
}

/// The answer to `offer` under `policy`. If every stream is rejected (check
/// [`Sdp::is_all_rejected`]) the caller should refuse the offer with 488 instead.
pub fn answer(offer: &Sdp, policy: &AnswerPolicy<'_>) -> Sdp {
    let mut lines: Vec<Line> = offer.connection().map(|c| Line::Connection(c.clone())).into_iter().collect();
    // RFC 3264 §6: the t= line of the answer must equal the offer's.
    lines.extend(offer.lines.iter().filter(|l| matches!(l.kind(), 't' | 'r' | 'z')).cloned());
    if !lines.iter().any(|l| l.kind() == 't') {
        lines.push(Line::Other { kind: 't', value: "0 0".into() });
    }
    let media = offer.media.iter().enumerate().map(|(i, m)| answer_media(offer, i, m, policy)).collect();
    let origin = Origin::new("pbx", 0, 0, std::net::Ipv4Addr::UNSPECIFIED.into());
    Sdp { origin, session_name: "-".into(), lines, media }
}

impl Sdp {
    /// Every stream has port 0: nothing was accepted.
    pub fn is_all_rejected(&self) -> bool {
        self.media.iter().all(Media::is_rejected)
    }
}

fn answer_media(offer: &Sdp, index: usize, offered: &Media, policy: &AnswerPolicy<'_>) -> Media {
    let rejected = || Media::new(&offered.kind, 0, &offered.proto, offered.formats.clone());
    if offered.is_rejected() || !policy.protos.iter().any(|p| p.eq_ignore_ascii_case(&offered.proto)) {
        return rejected();
    }
    let chosen = choose(&offered.codecs(), policy);
    if chosen.is_empty() {
        return rejected();
    }
    let mut media = Media::new(&offered.kind, offered.port, &offered.proto, Vec::with_capacity(chosen.len()));
    media.lines.extend(offered.lines.iter().filter(|l| l.kind() == 'c').cloned());
    for codec in &chosen {
        media.formats.push(codec.payload_type.to_string());
        media.lines.extend(format_attributes(offered, codec.payload_type));
    }
    for a in offered.attributes().filter(|a| a.is("ptime") || a.is("maxptime")) {
        media.lines.push(Line::Attribute(a.clone()));
    }
    media.set_direction(offer.media_direction(index).answer(policy.local_hold));
    media
}

/// The offered codecs we take, under their offered numbers; empty when no voice codec is left.
fn choose(offered: &[Codec], policy: &AnswerPolicy<'_>) -> Vec<Codec> {
    let mut ranked: Vec<(usize, &Codec)> = Vec::new();
    for codec in offered {
        let rank = policy.codecs.iter().position(|ours| ours.same_format(codec));
        if let Some(rank) = rank.filter(|r| !ranked.iter().any(|(taken, _)| taken == r)) {
            ranked.push((rank, codec));
        }
    }
    if policy.order == CodecOrder::Ours {
        ranked.sort_by_key(|(rank, _)| *rank);
    }
    let Some(voice) = ranked.iter().map(|(_, c)| *c).find(|c| !c.is_auxiliary()) else {
        return Vec::new();
    };
    let keep = |c: &Codec| !policy.single_codec || c == voice || (c.is_auxiliary() && c.clock_rate == voice.clock_rate);
    ranked.into_iter().map(|(_, c)| c).filter(|c| keep(c)).cloned().collect()
}

/// The offer's `rtpmap` and `fmtp` lines of `pt`, verbatim.
fn format_attributes(offered: &Media, pt: u8) -> impl Iterator<Item = Line> + '_ {
    let ours = move |a: &&Attribute| {
        (a.is("rtpmap") || a.is("fmtp")) && split_payload_type(a.text()).is_some_and(|(p, _)| p == pt)
    };
    offered.attributes().filter(ours).map(|a| Line::Attribute(a.clone()))
}

#[cfg(test)]
mod tests {
    use super::super::direction::Direction;
    use super::super::fixtures::*;
    use super::*;

    const OURS: &[Codec] = &[Codec::PCMA, Codec::PCMU, Codec::telephone_event(101)];

    fn formats(sdp: &Sdp, i: usize) -> Vec<&str> {
        sdp.media[i].formats.iter().map(String::as_str).collect()
    }

    #[test]
    fn asterisk_offer_answered_in_our_order_with_its_numbers_and_fmtp() {
        let a = answer(&parse(ASTERISK), &AnswerPolicy::new(OURS));
        assert_eq!(
            a.to_string(),
            "v=0\r\no=pbx 0 0 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\n\
             m=audio 14562 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=maxptime:150\r\n\
             a=sendrecv\r\n"
        );
    }

    #[test]
    fn offerer_order_is_kept_when_asked() {
        let policy = AnswerPolicy { order: CodecOrder::Offerer, ..AnswerPolicy::new(OURS) };
        assert_eq!(formats(&answer(&parse(ASTERISK), &policy), 0), ["0", "8", "101"]);
    }

    #[test]
    fn dynamic_numbers_of_the_offer_are_kept() {
        let ours = [Codec::opus(111), Codec::G722, Codec::telephone_event(101)];
        let a = answer(&parse(BARESIP), &AnswerPolicy::new(&ours));
        assert_eq!(formats(&a, 0), ["96", "9", "101"]);
        let m = &a.media[0];
        assert_eq!(m.codec(96).and_then(|c| c.fmtp).as_deref(), Some("stereo=1;sprop-stereo=1"));
        assert_eq!(m.codec(101).and_then(|c| c.fmtp).as_deref(), Some("0-15"), "offered fmtp kept");
    }

    #[test]
    fn telephone_event_needs_to_be_offered_and_allowed() {
        let no_dtmf = ASTERISK.replace(" 101\r\n", "\r\n");
        assert_eq!(formats(&answer(&parse(&no_dtmf), &AnswerPolicy::new(OURS)), 0), ["8", "0"]);
        let not_allowed = [Codec::PCMU];
        assert_eq!(formats(&answer(&parse(ASTERISK), &AnswerPolicy::new(&not_allowed)), 0), ["0"]);
    }

    #[test]
    fn telephone_event_matches_on_clock_rate() {
        let ours = [Codec::PCMU, Codec::telephone_event(101)];
        let a = answer(&parse(LINPHONE), &AnswerPolicy::new(&ours));
        assert_eq!(formats(&a, 0), ["0", "100"], "telephone-event/8000 is 100 in linphone's offer");
    }

    #[test]
    fn unsupported_streams_are_rejected_in_place() {
        let a = answer(&parse(LINPHONE), &AnswerPolicy::new(OURS));
        assert_eq!(a.media.len(), 2);
        assert_eq!(a.media[1].to_string(), "video 0 RTP/AVP 96 97");
        assert!(a.media[1].lines.is_empty());
        assert!(!a.is_all_rejected());
    }

    #[test]
    fn secure_transports_are_rejected_by_a_plain_rtp_policy() {
        let a = answer(&parse(WEBRTC), &AnswerPolicy::new(OURS));
        assert_eq!(a.media[0].to_string(), "audio 0 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126");
        assert!(a.is_all_rejected());
    }

    #[test]
    fn only_telephone_event_in_common_rejects_the_stream() {
        let a = answer(&parse(BARESIP), &AnswerPolicy::new(&[Codec::telephone_event(101)]));
        assert!(a.is_all_rejected());
    }

    #[test]
    fn disabled_offer_stream_stays_disabled() {
        let a = answer(&parse(IPV6), &AnswerPolicy::new(OURS));
        assert_eq!(a.media[1].to_string(), "video 0 RTP/AVP 31");
        assert_eq!(a.media.len(), 2);
    }

    #[test]
    fn ipv6_answer_keeps_media_connection_and_timing() {
        let a = answer(&parse(IPV6), &AnswerPolicy::new(OURS));
        let text = a.to_string();
        assert!(text.contains("c=IN IP6 2001:db8::10\r\nt=2873397496 2873404696\r\nr=7d 1h 0 25h\r\nz="), "{text}");
        assert!(text.contains("m=audio 49170 RTP/AVP 0 101\r\nc=IN IP6 2001:db8::20\r\n"), "{text}");
        assert!(!text.contains("i=") && !text.contains("k=") && !text.contains("y="), "{text}");
    }

    #[test]
    fn direction_is_answered_per_rfc3264() {
        for (offered, normal, held) in [
            ("sendrecv", Direction::SendRecv, Direction::SendOnly),
            ("sendonly", Direction::RecvOnly, Direction::Inactive),
            ("recvonly", Direction::SendOnly, Direction::SendOnly),
            ("inactive", Direction::Inactive, Direction::Inactive),
        ] {
            let offer = parse(&ASTERISK.replace("a=sendrecv", &format!("a={offered}")));
            assert_eq!(answer(&offer, &AnswerPolicy::new(OURS)).media[0].direction(), Some(normal), "{offered}");
            let hold = AnswerPolicy { local_hold: true, ..AnswerPolicy::new(OURS) };
            assert_eq!(answer(&offer, &hold).media[0].direction(), Some(held), "{offered} on local hold");
        }
    }

    #[test]
    fn session_level_direction_is_answered_at_media_level() {
        let a = answer(&parse(IPV6), &AnswerPolicy::new(OURS));
        assert_eq!(a.direction(), None);
        assert_eq!(a.media[0].direction(), Some(Direction::SendOnly), "offer said recvonly at session level");
    }

    #[test]
    fn single_codec_keeps_the_top_voice_codec_and_matching_events() {
        let wideband_events = Codec { clock_rate: 48000, ..Codec::telephone_event(101) };
        let ours = [Codec::opus(111), Codec::PCMU, Codec::telephone_event(101), wideband_events, Codec::CN];
        let policy = AnswerPolicy { single_codec: true, ..AnswerPolicy::new(&ours) };
        assert_eq!(
            formats(&answer(&parse(WEBRTC.replace("UDP/TLS/RTP/SAVPF", "RTP/AVP").as_str()), &policy), 0),
            ["111", "110"]
        );
        let policy = AnswerPolicy { single_codec: true, ..AnswerPolicy::new(&ours[1..]) };
        assert_eq!(
            formats(&answer(&parse(WEBRTC.replace("UDP/TLS/RTP/SAVPF", "RTP/AVP").as_str()), &policy), 0),
            ["0", "126", "13"]
        );
    }

    #[test]
    fn answer_has_no_ice_dtls_or_mux_lines() {
        let offer = parse(&WEBRTC.replace("UDP/TLS/RTP/SAVPF", "RTP/AVPF"));
        let text = answer(&offer, &AnswerPolicy::new(OURS)).to_string();
        for banned in ["candidate", "ice-", "fingerprint", "setup", "rtcp-mux", "mid", "ssrc", "BUNDLE", "rtcp:"] {
            assert!(!text.contains(banned), "{banned} in {text}");
        }
        assert!(text.contains("m=audio 54400 RTP/AVPF 8 0 126\r\n"), "{text}");
    }
}
