//! Properties that must hold for any input, checked with generated descriptions.
//!
//! Exists because the example-based tests cover the shapes we know; these cover the ones a
//! peer might invent: printing a parsed description gives its text back, arbitrary lines
//! never panic the parser, and negotiation plus anchoring always yields a description that
//! parses again with one `m=` line per offered one.

use proptest::prelude::*;

use super::*;

fn text() -> impl Strategy<Value = String> {
    "[ -~]{0,24}"
}

fn token() -> impl Strategy<Value = String> {
    "[!-~]{1,12}"
}

fn connection() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| format!("c=IN IP4 {}.{}.{}.{}", o[0], o[1], o[2], o[3])),
        any::<u16>().prop_map(|h| format!("c=IN IP6 2001:db8::{h:x}")),
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        (prop::sample::select(&['i', 'u', 'e', 'p', 'b', 't', 'r', 'z', 'k', 'x', 'y'][..]), text())
            .prop_map(|(k, v)| format!("{k}={v}")),
        text().prop_map(|v| format!("a={v}")),
        (0..128u8, prop::sample::select(&["PCMU/8000", "opus/48000/2", "telephone-event/8000", "x/1"][..]))
            .prop_map(|(pt, enc)| format!("a=rtpmap:{pt} {enc}")),
        prop::sample::select(&["a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive", "a=rtcp:9 IN IP4 0.0.0.0"][..])
            .prop_map(str::to_owned),
        connection(),
    ]
}

fn media() -> impl Strategy<Value = String> {
    let proto = prop::sample::select(&["RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVPF", "udptl"][..]);
    let formats = prop::collection::vec(prop_oneof![(0..128u8).prop_map(|p| p.to_string()), token()], 0..6);
    let count = prop::option::of(1..8u16);
    ("[a-z]{1,8}", any::<u16>(), count, proto, formats, prop::collection::vec(line(), 0..8)).prop_map(
        |(kind, port, count, proto, formats, lines)| {
            let count = count.map(|c| format!("/{c}")).unwrap_or_default();
            let mut m = format!("m={kind} {port}{count} {proto}");
            for f in formats {
                m += &format!(" {f}");
            }
            lines.iter().fold(m + "\r\n", |acc, l| acc + l + "\r\n")
        },
    )
}

fn sdp_text() -> impl Strategy<Value = String> {
    let origin = ("[a-z-]{1,8}", 0..u64::MAX, any::<u64>()).prop_map(|(u, id, v)| format!("o={u} {id} {v} IN IP4 h"));
    (origin, text(), prop::collection::vec(line(), 0..10), prop::collection::vec(media(), 0..4)).prop_map(
        |(o, s, lines, media)| {
            let head = format!("v=0\r\n{o}\r\ns={s}\r\n");
            lines.iter().fold(head, |acc, l| acc + l + "\r\n") + &media.concat()
        },
    )
}

proptest! {
    #[test]
    fn printing_a_parsed_description_gives_its_text(text in sdp_text()) {
        let sdp = Sdp::parse(text.as_bytes(), &Limits::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(sdp.to_string(), text);
    }

    #[test]
    fn arbitrary_lines_never_panic_and_reparse_identically(
        lines in prop::collection::vec(prop_oneof![line(), "[ -~]{0,30}", "[\\x00-\\x{10FFFF}]{0,10}"], 0..30)
    ) {
        let text = lines.iter().fold("v=0\no=- 1 1 IN IP4 h\ns=-\n".to_owned(), |acc, l| acc + l + "\n");
        if let Ok(sdp) = Sdp::parse(text.as_bytes(), &Limits::default()) {
            prop_assert_eq!(Sdp::parse(&sdp.to_bytes(), &Limits::default()), Ok(sdp));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut input = b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n".to_vec();
        input.extend_from_slice(&body);
        let _ = Sdp::parse(&body, &Limits::default());
        let _ = Sdp::parse(&input, &Limits::default());
    }

    #[test]
    fn answer_and_rewrite_always_give_a_parseable_description(text in sdp_text(), order_ours in any::<bool>()) {
        let offer = Sdp::parse(text.as_bytes(), &Limits::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let ours = [Codec::opus(111), Codec::PCMU, Codec::telephone_event(101)];
        let order = if order_ours { CodecOrder::Ours } else { CodecOrder::Offerer };
        let mut reply = answer(&offer, &AnswerPolicy { order, ..AnswerPolicy::new(&ours) });
        prop_assert_eq!(reply.media.len(), offer.media.len());
        for (a, o) in reply.media.iter().zip(&offer.media) {
            prop_assert!(a.formats.iter().all(|f| o.formats.contains(f)));
        }
        let ports: Vec<u16> = (0..reply.media.len() as u16).map(|i| 30000 + 2 * i).collect();
        rewrite_for_relay(&mut reply, "203.0.113.1".parse().unwrap(), &ports, &mut OriginState::new(1)).unwrap();
        prop_assert_eq!(Sdp::parse(&reply.to_bytes(), &Limits::default()), Ok(reply));
    }
}
