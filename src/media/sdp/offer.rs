//! A fresh offer for a leg we originate (the B-leg toward a callee, a click-to-call leg).
//!
//! Exists so an offer of ours always looks the same: one audio stream at our relay, the
//! codecs in preference order with an `rtpmap` for each (static ones too, which old gear
//! likes), their `fmtp`, `ptime`, and an explicit direction. It must never invent codecs or
//! payload type numbers: the caller's list is used as given (a repeated number is skipped).

use std::net::IpAddr;

use super::codec::Codec;
use super::direction::Direction;
use super::line::{Attribute, Connection, Line};
use super::media::Media;
use super::origin::Origin;
use super::origin_state::OriginState;
use super::session::Sdp;

/// What to offer.
#[derive(Debug, Clone, Copy)]
pub struct OfferOptions<'a> {
    /// Codecs in our preference order, with the payload type numbers to offer.
    pub codecs: &'a [Codec],
    /// Transport, e.g. `RTP/AVP`.
    pub proto: &'a str,
    /// `sendrecv`, or `sendonly`/`inactive` to offer hold.
    pub direction: Direction,
    /// `a=ptime` in milliseconds, if any. Example: `Some(20)`.
    pub ptime: Option<u32>,
}

impl<'a> OfferOptions<'a> {
    /// `RTP/AVP`, `sendrecv`, 20 ms.
    pub fn new(codecs: &'a [Codec]) -> OfferOptions<'a> {
        OfferOptions { codecs, proto: "RTP/AVP", direction: Direction::SendRecv, ptime: Some(20) }
    }
}

/// An audio offer at `media_addr:port`, stamped with `origin`.
pub fn build_offer(options: &OfferOptions<'_>, media_addr: IpAddr, port: u16, origin: &mut OriginState) -> Sdp {
    let mut media = Media::new("audio", port, options.proto, Vec::with_capacity(options.codecs.len()));
    for (i, codec) in options.codecs.iter().enumerate() {
        if options.codecs.iter().take(i).any(|c| c.payload_type == codec.payload_type) {
            continue;
        }
        media.formats.push(codec.payload_type.to_string());
        media.lines.push(Line::Attribute(Attribute::new("rtpmap", codec.rtpmap())));
        if let Some(fmtp) = &codec.fmtp {
            media.lines.push(Line::Attribute(Attribute::new("fmtp", format!("{} {fmtp}", codec.payload_type))));
        }
    }
    if let Some(ptime) = options.ptime {
        media.lines.push(Line::Attribute(Attribute::new("ptime", ptime.to_string())));
    }
    media.set_direction(options.direction);
    let mut sdp = Sdp {
        origin: Origin::new("pbx", origin.sess_id(), origin.version(), media_addr),
        session_name: "-".into(),
        lines: vec![Line::Connection(Connection::new(media_addr)), Line::Other { kind: 't', value: "0 0".into() }],
        media: vec![media],
    };
    origin.stamp(&mut sdp, media_addr);
    sdp
}

#[cfg(test)]
mod tests {
    use super::super::limits::Limits;
    use super::*;

    const OURS: &[Codec] = &[Codec::G722, Codec::PCMA, Codec::PCMU, Codec::telephone_event(101)];

    #[test]
    fn offer_text_is_exact() {
        let sdp =
            build_offer(&OfferOptions::new(OURS), "203.0.113.1".parse().unwrap(), 30000, &mut OriginState::new(99));
        assert_eq!(
            sdp.to_string(),
            "v=0\r\no=pbx 99 1 IN IP4 203.0.113.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n\
             m=audio 30000 RTP/AVP 9 8 0 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n\
             a=ptime:20\r\na=sendrecv\r\n"
        );
    }

    #[test]
    fn offer_parses_back_to_the_same_codecs() {
        let codecs = [Codec::opus(111), Codec::PCMU, Codec::telephone_event(101)];
        let sdp =
            build_offer(&OfferOptions::new(&codecs), "2001:db8::1".parse().unwrap(), 4000, &mut OriginState::new(1));
        let back = Sdp::parse(&sdp.to_bytes(), &Limits::default()).unwrap();
        assert_eq!(back, sdp);
        assert_eq!(back.media[0].codecs(), codecs);
        assert_eq!(back.connection().map(|c| c.addr_type.as_str()), Some("IP6"));
    }

    #[test]
    fn hold_offer_and_reoffer_versions() {
        let mut origin = OriginState::new(5);
        let addr = "203.0.113.1".parse().unwrap();
        let first = build_offer(&OfferOptions::new(OURS), addr, 30000, &mut origin);
        let again = build_offer(&OfferOptions::new(OURS), addr, 30000, &mut origin);
        assert_eq!(again.origin, first.origin, "same offer, same version");
        let hold = OfferOptions { direction: Direction::SendOnly, ..OfferOptions::new(OURS) };
        let held = build_offer(&hold, addr, 30000, &mut origin);
        assert_eq!(held.origin.sess_version, 2);
        assert!(held.is_hold());
    }

    #[test]
    fn repeated_payload_type_is_offered_once() {
        let codecs = [Codec::PCMU, Codec::PCMU, Codec::PCMA];
        let sdp =
            build_offer(&OfferOptions::new(&codecs), "203.0.113.1".parse().unwrap(), 30000, &mut OriginState::new(1));
        assert_eq!(sdp.media[0].formats, ["0", "8"]);
    }
}
