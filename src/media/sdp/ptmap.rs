//! Payload type alignment across the two legs of a relayed call.
//!
//! Exists because a callee may answer our offer with its own numbers for a codec (offered as
//! telephone-event 101, answered as 96), and the caller must see the numbers it offered or
//! its DTMF goes unrecognised. [`align_payload_types`] renames the callee's answer to the
//! caller's numbers wherever the codec is the same, and returns per stream the pairs the
//! relay needs to rewrite the RTP payload type byte. It must never create two formats with
//! one number: a rename that would collide is not made.

use super::attr::{payload_type, split_payload_type};
use super::line::Line;
use super::media::Media;
use super::session::Sdp;

/// One codec's payload type on each leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PtPair {
    /// The number the caller offered (and now sees in its answer).
    pub caller: u8,
    /// The number the callee answered with.
    pub callee: u8,
}

/// The renamed payload types of one stream; empty when both legs use the same numbers.
///
/// RFC 3264 §6.1: each side sends with the numbers the other side wrote. The callee wrote
/// `callee`, so packets from the caller toward the callee need [`PtMap::toward_callee`].
/// Many callees also send with their own numbers; [`PtMap::toward_caller`] undoes that.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PtMap {
    /// The pairs whose numbers differ.
    pub pairs: Vec<PtPair>,
}

impl PtMap {
    /// No payload type byte needs rewriting.
    pub fn is_identity(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The number to put in a packet going to the callee, given the caller's number.
    pub fn toward_callee(&self, pt: u8) -> u8 {
        self.pairs.iter().find(|p| p.caller == pt).map_or(pt, |p| p.callee)
    }

    /// The number to put in a packet going to the caller, given the callee's number.
    pub fn toward_caller(&self, pt: u8) -> u8 {
        self.pairs.iter().find(|p| p.callee == pt).map_or(pt, |p| p.caller)
    }
}

/// Renames, in the callee's `answer`, every payload type whose codec the caller's `offer`
/// has under another number (same `m=` index), in the `m=` line and in `rtpmap`, `fmtp` and
/// `rtcp-fb`. Returns one [`PtMap`] per `m=` line of the answer.
pub fn align_payload_types(offer: &Sdp, answer: &mut Sdp) -> Vec<PtMap> {
    let mut maps = Vec::with_capacity(answer.media.len());
    for (index, media) in answer.media.iter_mut().enumerate() {
        let Some(offered) = offer.media.get(index).filter(|_| media.is_rtp() && !media.is_rejected()) else {
            maps.push(PtMap::default());
            continue;
        };
        let offered = offered.codecs();
        let mut pairs = Vec::new();
        for pt in media.payload_types() {
            let Some(codec) = media.codec(pt) else { continue };
            let mut same = offered.iter().filter(|o| o.same_format(&codec));
            let Some(first) = same.clone().next() else { continue };
            if first.payload_type != pt && !same.any(|o| o.payload_type == pt) {
                pairs.push(PtPair { caller: first.payload_type, callee: pt });
            }
        }
        let answered: Vec<u8> = media.payload_types().collect();
        drop_collisions(&mut pairs, &answered);
        let map = PtMap { pairs };
        if !map.is_identity() {
            rename(media, &map);
        }
        maps.push(map);
    }
    maps
}

/// Applies `map` to the `m=` formats and the per-format attributes of a callee's stream.
fn rename(media: &mut Media, map: &PtMap) {
    for format in &mut media.formats {
        if let Some(pt) = payload_type(format) {
            *format = map.toward_caller(pt).to_string();
        }
    }
    for line in &mut media.lines {
        let Line::Attribute(a) = line else { continue };
        if !(a.is("rtpmap") || a.is("fmtp") || a.is("rtcp-fb")) {
            continue;
        }
        if let Some((pt, rest)) = split_payload_type(a.text()) {
            a.value = Some(format!("{}{rest}", map.toward_caller(pt)));
        }
    }
}

/// Removes renames until the answer's numbers, renamed, are all distinct.
fn drop_collisions(pairs: &mut Vec<PtPair>, answered: &[u8]) {
    loop {
        let renamed = |pt: u8| pairs.iter().find(|p| p.callee == pt).map_or(pt, |p| p.caller);
        let clash = pairs.iter().position(|p| answered.iter().filter(|&&pt| renamed(pt) == p.caller).count() > 1);
        match clash {
            Some(i) => {
                pairs.remove(i);
            }
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    const CALLEE_96: &str = "v=0\r\no=callee 1 1 IN IP4 192.0.2.99\r\ns=-\r\nc=IN IP4 192.0.2.99\r\nt=0 0\r\n\
        m=audio 6000 RTP/AVP 0 96\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:96 telephone-event/8000\r\n\
        a=fmtp:96 0-15\r\na=rtcp-fb:96 nack\r\n";

    #[test]
    fn telephone_event_96_is_presented_as_the_offered_101() {
        let mut a = parse(CALLEE_96);
        let maps = align_payload_types(&parse(ASTERISK), &mut a);
        assert_eq!(maps, [PtMap { pairs: vec![PtPair { caller: 101, callee: 96 }] }]);
        assert_eq!(
            a.to_string(),
            CALLEE_96.replace(" 0 96\r\n", " 0 101\r\n").replace(":96 ", ":101 "),
            "m= line, rtpmap, fmtp and rtcp-fb renamed"
        );
        assert_eq!(maps[0].toward_callee(101), 96);
        assert_eq!(maps[0].toward_caller(96), 101);
        assert_eq!(maps[0].toward_callee(0), 0);
    }

    #[test]
    fn same_numbers_need_no_map() {
        let mut a = parse(&CALLEE_96.replace("96", "101"));
        let maps = align_payload_types(&parse(ASTERISK), &mut a);
        assert!(maps[0].is_identity());
        assert_eq!(a.to_string(), CALLEE_96.replace("96", "101"));
    }

    #[test]
    fn codecs_the_caller_did_not_offer_keep_their_numbers() {
        let mut a = parse(&CALLEE_96.replace("telephone-event/8000", "telephone-event/16000"));
        assert!(align_payload_types(&parse(ASTERISK), &mut a)[0].is_identity());
    }

    #[test]
    fn a_rename_that_would_collide_is_not_made() {
        // The callee uses 101 for something else the caller never offered: 96 stays 96.
        let text = CALLEE_96.replace(" 0 96\r\n", " 0 96 101\r\n") + "a=rtpmap:101 x-foo/8000\r\n";
        let mut a = parse(&text);
        assert!(align_payload_types(&parse(ASTERISK), &mut a)[0].is_identity());
        assert_eq!(a.to_string(), text);
    }

    #[test]
    fn swapped_numbers_are_renamed_both_ways() {
        let offer = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 96 97\r\n\
            a=rtpmap:96 opus/48000/2\r\na=rtpmap:97 telephone-event/48000\r\n";
        let mut a = parse(
            &offer.replace("rtpmap:96", "rtpmap:X").replace("rtpmap:97", "rtpmap:96").replace("rtpmap:X", "rtpmap:97"),
        );
        let maps = align_payload_types(&parse(offer), &mut a);
        assert_eq!(maps[0].pairs.len(), 2);
        assert_eq!(a.to_string(), offer.replace("RTP/AVP 96 97", "RTP/AVP 97 96"), "the answer's order stays");
    }

    #[test]
    fn rejected_and_extra_streams_get_empty_maps() {
        let mut a = parse(&format!("{CALLEE_96}m=video 0 RTP/AVP 31\r\nm=audio 7000 RTP/AVP 96\r\n"));
        let maps = align_payload_types(&parse(ASTERISK), &mut a);
        assert_eq!(maps.len(), 3);
        assert!(!maps[0].is_identity() && maps[1].is_identity() && maps[2].is_identity());
    }
}
