//! Property tests: generated messages survive print -> parse -> print unchanged with the
//! same typed values, and no input (random or mutated) makes any entry point panic.

use bytes::Bytes;
use pbx::sip::msg::{
    Contact, DisplayName, Frame, Limits, Message, MessageWriter, Method, check_request, frame_stream, parse_datagram,
    parse_head, parse_stream_message,
};
use proptest::prelude::*;

const KNOWN: [Method<'static>; 6] =
    [Method::Invite, Method::Options, Method::Register, Method::Bye, Method::Message, Method::Subscribe];

#[derive(Debug, Clone)]
struct Spec {
    method: String,
    user: String,
    host: String,
    port: Option<u16>,
    branches: Vec<String>,
    display: Option<String>,
    from_tag: String,
    to_tag: Option<String>,
    call_id: String,
    cseq: u32,
    max_forwards: u8,
    contacts: Vec<(String, Option<u16>)>,
    extra: Vec<(String, String)>,
    body: Vec<u8>,
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,11}"
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop_oneof![(0..KNOWN.len()).prop_map(|i| KNOWN[i].as_str().to_owned()), "[A-Z][A-Z0-9_-]{2,9}",],
        "[a-z0-9][a-z0-9._+-]{0,9}(%2[0-9A-F])?",
        "[a-z][a-z0-9-]{0,8}(\\.[a-z][a-z0-9-]{0,8}){0,3}",
        proptest::option::of(1u16..),
        proptest::collection::vec(token(), 1..4),
        proptest::option::of("[A-Za-z0-9 ,<>;:@\"\\\\]{0,12}"),
        token(),
        proptest::option::of(token()),
        ("[A-Za-z0-9.!%*_+-]{1,16}", proptest::option::of("[a-z0-9.]{1,12}")),
    )
        .prop_flat_map(|(method, user, host, port, branches, display, from_tag, to_tag, (cid, cid_host))| {
            let call_id = match cid_host {
                Some(h) => format!("{cid}@{h}"),
                None => cid,
            };
            (
                any::<u32>(),
                any::<u8>(),
                proptest::collection::vec(("[a-z][a-z0-9]{0,6}", proptest::option::of(0u16..=1000)), 0..3),
                proptest::collection::vec(("X-[A-Za-z0-9-]{1,12}", "[!-~]([ -~]{0,30}[!-~])?"), 0..4),
                proptest::collection::vec(any::<u8>(), 0..200),
            )
                .prop_map(move |(cseq, max_forwards, contacts, extra, body)| Spec {
                    method: method.clone(),
                    user: user.clone(),
                    host: host.clone(),
                    port,
                    branches: branches.clone(),
                    display: display.clone(),
                    from_tag: from_tag.clone(),
                    to_tag: to_tag.clone(),
                    call_id: call_id.clone(),
                    cseq,
                    max_forwards,
                    contacts,
                    extra,
                    body,
                })
        })
}

fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

fn write(s: &Spec) -> Bytes {
    let method = Method::parse(&s.method).unwrap();
    let port = s.port.map(|p| format!(":{p}")).unwrap_or_default();
    let uri = format!("sip:{}@{}{}", s.user, s.host, port);
    let mut w = MessageWriter::request(method, &uri);
    for b in &s.branches {
        w.header("Via", format!("SIP/2.0/UDP {}{};branch=z9hG4bK{b};rport", s.host, port));
    }
    w.header("Max-Forwards", s.max_forwards);
    let display = s.display.as_deref().map(|d| format!("{} ", quote(d))).unwrap_or_default();
    w.header("From", format!("{display}<sip:a@{}>;tag={}", s.host, s.from_tag));
    match &s.to_tag {
        Some(t) => w.header("To", format!("<{uri}>;tag={t}")),
        None => w.header("To", format!("<{uri}>")),
    };
    w.header("Call-ID", &s.call_id);
    w.header("CSeq", format!("{} {}", s.cseq, s.method));
    for (u, q) in &s.contacts {
        let q = q.map(|q| if q == 1000 { ";q=1".to_owned() } else { format!(";q=0.{q:03}") }).unwrap_or_default();
        w.header("Contact", format!("<sip:{u}@{}>{q}", s.host));
    }
    for (n, v) in &s.extra {
        w.header(n, v);
    }
    w.finish(&s.body)
}

fn check_values(s: &Spec, m: &Message) {
    assert_eq!(m.method().map(|m| m.as_str().to_owned()), Some(s.method.clone()));
    let ruri = m.request_uri().unwrap().unwrap();
    let sip = ruri.as_sip().unwrap();
    assert_eq!(sip.user(), Some(s.user.as_str()));
    assert_eq!(sip.port(), s.port);
    let branches: Vec<String> =
        m.vias().map(|v| v.unwrap().branch().unwrap().trim_start_matches("z9hG4bK").to_owned()).collect();
    assert_eq!(branches, s.branches);
    let from = m.from().unwrap();
    assert_eq!(from.tag(), Some(s.from_tag.as_str()));
    assert_eq!(from.display_name().map(|d| d.text().into_owned()), s.display.clone());
    if let Some(DisplayName::Quoted(_)) | None = from.display_name() {
    } else {
        panic!("display names are written quoted");
    }
    assert_eq!(m.to().unwrap().tag(), s.to_tag.as_deref());
    assert_eq!(m.call_id(), Ok(s.call_id.as_str()));
    assert_eq!(m.cseq().unwrap().seq, s.cseq);
    assert_eq!(m.max_forwards(), Ok(Some(s.max_forwards)));
    let qs: Vec<Option<u16>> = m.contacts().map(|c| c.unwrap().q_millis()).collect();
    assert_eq!(qs, s.contacts.iter().map(|(_, q)| *q).collect::<Vec<_>>());
    for (n, v) in &s.extra {
        assert!(m.headers().any(|h| h.name() == n.as_bytes() && h.value() == v.as_bytes()));
    }
    assert_eq!(m.body_slice(), &s.body[..]);
    assert_eq!(check_request(m), Ok(()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn print_parse_round_trip(s in spec()) {
        let limits = Limits::default();
        let wire = write(&s);
        let m = parse_datagram(wire.clone(), &limits).unwrap();
        check_values(&s, &m);
        prop_assert_eq!(m.to_bytes(), wire.clone());
        // The same bytes frame and parse on a stream transport.
        let mut stream = wire.to_vec();
        stream.extend_from_slice(b"\r\n\r\nNEXT");
        prop_assert_eq!(frame_stream(&stream, &limits), Ok(Some(Frame::Message(wire.len()))));
        let m2 = parse_stream_message(wire.clone(), &limits).unwrap();
        check_values(&s, &m2);
    }

    #[test]
    fn contacts_print_canonically(u in "[a-z][a-z0-9]{0,6}", q in 0u16..=999) {
        let text = format!("<sip:{u}@example.com>;q=0.{q:03}");
        let c = Contact::parse(&text).unwrap();
        prop_assert_eq!(c.to_string(), text);
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        exercise(Bytes::from(data));
    }

    #[test]
    fn mutated_messages_never_panic(s in spec(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut wire = write(&s).to_vec();
        for (at, b) in flips {
            let n = wire.len();
            wire[at % n] = b;
        }
        exercise(Bytes::from(wire));
    }
}

/// Calls every entry point and accessor; only panics matter here.
fn exercise(buf: Bytes) {
    let limits = Limits::default();
    let _ = frame_stream(&buf, &limits);
    let _ = parse_stream_message(buf.clone(), &limits);
    for m in [parse_datagram(buf.clone(), &limits), parse_head(buf, &limits)].into_iter().flatten() {
        let _ = check_request(&m);
        let _ = pbx::sip::msg::check_response(&m);
        let _ = m.request_uri().map(|u| u.map(|u| u.as_sip().map(|s| s.user_unescaped())));
        for v in m.vias().flatten() {
            let _ = (v.branch(), v.received(), v.rport());
        }
        let _ = m.from().map(|f| (f.tag(), f.display_name().map(|d| d.text())));
        let _ = m.to().map(|t| t.to_string());
        let _ = (m.call_id(), m.cseq(), m.max_forwards(), m.expires(), m.content_length(), m.content_type());
        for c in m.contacts().flatten() {
            let _ = (c.q_millis(), c.expires());
        }
        let _ = m.routes().chain(m.record_routes()).count();
        for a in m.authorizations().chain(m.www_authenticates()).flatten() {
            if let Some(d) = a.digest() {
                let _ = (d.username(), d.nc(), d.algorithm(), d.qop());
            }
        }
        let _ = m.require().chain(m.supported()).count();
        let _ = m.allow().count();
        let _ = m.to_bytes();
        let _ = pbx::sip::msg::ResponseBuilder::new(&m, 400).to_tag("x").build();
    }
}
