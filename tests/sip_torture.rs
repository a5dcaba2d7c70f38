//! RFC 4475 torture messages: every one of the 49 files in `tests/fixtures/torture/`, with the
//! verdict RFC 4475 §3 asks for and the values a server reads from it.
//!
//! "Accept" means the message parses and passes `check_request` (requests) or
//! `check_response` (responses); "Reject(n)" means the server answers status n (from the
//! parse error or from `check_request`); "Drop" means a response the element discards.
//! The `app` column says what the application layer does beyond that, when RFC 4475 asks
//! for more than the message layer decides.

use bytes::Bytes;
use pbx::sip::msg::{
    Contact, DisplayName, Frame, HeaderName, Host, Limits, Message, Method, ParseError, Reject, ResponseBuilder,
    Transport, Uri, Version, check_request, check_response, frame_stream, parse_datagram, parse_head,
};

mod common;

use Verdict::{Accept, Drop, Reject as Rej};
use common::torture::{CASES, Verdict, load};

fn verdict(buf: &Bytes) -> Verdict {
    let limits = Limits::default();
    match parse_datagram(buf.clone(), &limits) {
        Err(_) if buf.starts_with(b"SIP/") => Drop,
        Err(e) => {
            // The server must still be able to answer: the head parses and yields a 400.
            let head = parse_head(buf.clone(), &limits).expect("head parses");
            let answer = ResponseBuilder::new(&head, Reject::from(e).status).to_tag("t").build();
            let answer = parse_datagram(answer, &limits).expect("answer parses");
            assert!(answer.top_via().is_ok(), "answer carries the Via");
            Rej(Reject::from(e).status)
        }
        Ok(m) if m.is_request() => match check_request(&m) {
            Ok(()) => Accept,
            Err(r) => Rej(r.status),
        },
        Ok(m) => match check_response(&m) {
            Ok(()) => Accept,
            Err(_) => Drop,
        },
    }
}

#[test]
fn every_torture_file_is_in_the_table() {
    let dir = format!("{}/tests/fixtures/torture", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("torture dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".dat").map(str::to_owned))
        .collect();
    files.sort();
    let mut table: Vec<&str> = CASES.iter().map(|c| c.file).collect();
    table.sort();
    assert_eq!(files, table);
}

#[test]
fn verdicts_match_rfc4475_section_3() {
    let mut wrong = Vec::new();
    for c in &CASES {
        let got = verdict(&load(c.file));
        if got != c.verdict {
            let app = if c.app.is_empty() { String::new() } else { format!(" (then the server: {})", c.app) };
            wrong.push(format!("{} (§{}): want {:?}{app}, got {:?} — {}", c.file, c.section, c.verdict, got, c.why));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn accepted_messages_print_and_reparse_identically() {
    let limits = Limits::default();
    for c in CASES.iter().filter(|c| c.verdict == Accept) {
        let m = parse_datagram(load(c.file), &limits).unwrap();
        let printed = m.to_bytes();
        let again = parse_datagram(printed.clone(), &limits).unwrap_or_else(|e| panic!("{}: {e}", c.file));
        assert_eq!(again.start_line(), m.start_line(), "{}", c.file);
        assert_eq!(
            again.headers().count(),
            m.headers().count() + usize::from(m.content_length().unwrap().is_none()),
            "{}",
            c.file
        );
        assert_eq!(again.body_slice(), m.body_slice(), "{}", c.file);
        assert_eq!(again.to_bytes(), printed, "{}: printing is idempotent", c.file);
        if m.is_request() {
            assert_eq!(check_request(&again), Ok(()), "{}", c.file);
        }
    }
}

fn msg(file: &str) -> Message {
    parse_datagram(load(file), &Limits::default()).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn rejected(file: &str) -> Reject {
    check_request(&msg(file)).expect_err(file)
}

fn user(u: Uri<'_>) -> String {
    u.as_sip().and_then(|s| s.user_unescaped()).map(|s| s.into_owned()).unwrap_or_default()
}

#[test]
fn valid_messages_yield_the_right_values() {
    // 3.1.1.1 wsinv
    let m = msg("wsinv");
    assert_eq!(m.method(), Some(Method::Invite));
    assert_eq!(m.to().unwrap().tag(), Some("1918181833n"));
    let from = m.from().unwrap();
    assert_eq!(from.display_name().map(|d| d.text().into_owned()).as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(m.max_forwards(), Ok(Some(68)));
    assert_eq!(m.cseq().unwrap().seq, 9);
    let branches: Vec<_> = m.vias().map(|v| v.unwrap().branch().unwrap_or("")).collect();
    assert_eq!(branches, ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"]);
    assert_eq!(m.contacts().next().unwrap().unwrap().q_millis(), Some(330));
    assert_eq!(m.header(HeaderName::Subject).map(|h| h.value()), Some(&b""[..]));
    assert_eq!(m.content_length(), Ok(Some(150)));
    assert_eq!(m.body_slice().len(), 150);

    // 3.1.1.2 intmeth
    let m = msg("intmeth");
    assert_eq!(m.method(), Some(Method::Extension("!interesting-Method0123456789_*+`.%indeed'~")));
    let ruri = m.request_uri().unwrap().unwrap();
    let ruri = ruri.as_sip().unwrap();
    assert_eq!(ruri.user(), Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"));
    assert_eq!(ruri.password(), Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"));
    assert_eq!(
        m.to().unwrap().display_name().map(|d| d.text().into_owned()).as_deref(),
        Some("BEL:\x07 NUL:\0 DEL:\x7f")
    );
    let from = m.from().unwrap();
    assert_eq!(from.display_name(), Some(DisplayName::Tokens("token1~` token2'+_ token3*%!.-")));
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(m.call_id(), Ok("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"));
    assert_eq!(m.max_forwards(), Ok(Some(255)));
    assert!(m.header_by_name("extensionHeader-!.%*+_`'~").is_some());

    // 3.1.1.3 esc01
    let m = msg("esc01");
    assert_eq!(user(m.request_uri().unwrap().unwrap()), "sips:user@example.com");
    assert_eq!(user(m.to().unwrap().uri()), "user");
    assert_eq!(user(m.from().unwrap().uri()), "I have spaces");
    let contact = m.contacts().next().unwrap().unwrap();
    assert_eq!(user(contact.addr().unwrap().uri()), "caller");

    // 3.1.1.4 escnull
    let m = msg("escnull");
    assert_eq!(user(m.to().unwrap().uri()), "null-\0-null");
    let users: Vec<_> = m.contacts().map(|c| user(c.unwrap().addr().unwrap().uri())).collect();
    assert_eq!(users, ["\0", "\0\0"]);

    // 3.1.1.5 esc02: C%6Fntact is not Contact; the method is not REGISTER.
    let m = msg("esc02");
    assert_eq!(m.method(), Some(Method::Extension("RE%47IST%45R")));
    assert_eq!(m.contacts().count(), 2);
    assert!(m.header_by_name("C%6Fntact").is_some());
    assert_eq!(m.to().unwrap().display_name(), Some(DisplayName::Quoted("%Z%45")));
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK209%fzsnel234"));

    // 3.1.1.6 lwsdisp
    let m = msg("lwsdisp");
    assert_eq!(m.from().unwrap().display_name(), Some(DisplayName::Tokens("caller")));

    // 3.1.1.7 longreq
    let m = msg("longreq");
    let to = m.to().unwrap();
    assert!(to.display_name().unwrap().text().contains("extremeextreme"));
    assert_eq!(to.uri().as_sip().unwrap().port(), Some(6000));
    assert!(to.uri().as_sip().unwrap().params().contains("verylonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglongParameterNameWithNoValue"));
    assert!(m.from().unwrap().tag().unwrap().len() > 100);
    assert!(m.call_id().unwrap().ends_with("reallylongcallid"));
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(vias.len(), 34);
    assert_eq!(vias[0].host(), Host::Domain("sip33.example.com"));
    assert_eq!(vias[33].received(), "192.0.2.5".parse().ok());
    assert!(vias[33].branch().unwrap().ends_with("longbranchvalue"));
    assert!(user(m.contacts().next().unwrap().unwrap().addr().unwrap().uri()).starts_with("amazinglylong"));
    assert_eq!(m.body_slice().len(), 150);

    // 3.1.1.8 dblreq: only the REGISTER counts.
    let m = msg("dblreq");
    assert_eq!(m.method(), Some(Method::Register));
    assert_eq!(m.body_slice(), b"");
    assert_eq!(m.call_id(), Ok("dblreq.0ha0isndaksdj99sdfafnl3lk233412"));
    assert!(!m.to_bytes().windows(6).any(|w| w == b"INVITE"));

    // 3.1.1.9 semiuri
    let m = msg("semiuri");
    let ruri = m.request_uri().unwrap().unwrap();
    assert_eq!(ruri.as_sip().unwrap().user(), Some("user;par=u%40example.net"));
    assert_eq!(ruri.as_sip().unwrap().host(), Host::Domain("example.com"));
    assert_eq!(m.values(HeaderName::Accept).count(), 6);

    // 3.1.1.10 transports
    let m = msg("transports");
    let t: Vec<_> = m.vias().map(|v| v.unwrap().transport()).collect();
    assert_eq!(t, [Transport::Udp, Transport::Sctp, Transport::Tls, Transport::Other("UNKNOWN"), Transport::Tcp]);

    // 3.1.1.11 mpart01
    let m = msg("mpart01");
    let ct = m.content_type().unwrap().unwrap();
    assert!(ct.is("multipart", "mixed"));
    assert_eq!(ct.params().value("boundary"), Some("7a9cbec02ceef655"));
    assert_eq!(m.body_slice().len(), 553);
    assert_eq!(m.top_via().unwrap().rport(), Some(None));
    assert_eq!(m.user_agent(), Ok(Some("SIPimp.org/0.2.5 (curses)")));
    assert_eq!(m.routes().count(), 1);

    // 3.1.1.12 unreason, 3.1.1.13 noreason
    let m = msg("unreason");
    assert_eq!(m.status(), Some(200));
    assert!(std::str::from_utf8(m.reason().unwrap()).unwrap().starts_with("= 2**3 * 5**2 "));
    let m = msg("noreason");
    assert_eq!((m.status(), m.reason()), (Some(100), Some(&b""[..])));
}

#[test]
fn invalid_messages_fail_for_the_right_reason() {
    let limits = Limits::default();
    let parse_err = |f: &str| parse_datagram(load(f), &limits).err();
    assert_eq!(rejected("badinv01").error, ParseError::Malformed(HeaderName::Via));
    assert_eq!(parse_err("clerr"), Some(ParseError::BodyTruncated));
    assert_eq!(frame_stream(&load("clerr"), &limits), Ok(None), "TCP waits for the rest");
    assert_eq!(parse_err("ncl"), Some(ParseError::ContentLength));
    assert_eq!(frame_stream(&load("ncl"), &limits), Err(ParseError::ContentLength));

    let m = msg("scalar02");
    assert_eq!(check_request(&m).unwrap_err().error, ParseError::OutOfRange(HeaderName::CSeq));
    assert_eq!(m.max_forwards(), Err(ParseError::OutOfRange(HeaderName::MaxForwards)));
    assert_eq!(m.expires(), Err(ParseError::OutOfRange(HeaderName::Expires)));
    let c = m.contacts().next().unwrap().unwrap();
    assert_eq!(c.expires(), Err(ParseError::OutOfRange(HeaderName::Contact)));
    assert_eq!(check_response(&msg("scalarlg")), Err(ParseError::OutOfRange(HeaderName::CSeq)));

    assert_eq!(rejected("quotbal").error, ParseError::Malformed(HeaderName::To));
    assert_eq!(rejected("ltgtruri").error, ParseError::Uri);
    assert_eq!(rejected("lwsruri").error, ParseError::Uri);
    let m = msg("lwsstart");
    assert!(m.to_bytes().starts_with(b"INVITE sip:user@example.com SIP/2.0\r\n"));
    let m = msg("trws");
    assert!(m.to_bytes().starts_with(b"OPTIONS sip:remote-target@example.com SIP/2.0\r\n"));
    assert_eq!(rejected("escruri").error, ParseError::UriHeaders);
    assert!(msg("baddate").header(HeaderName::Date).is_some());
    assert_eq!(rejected("regbadct").error, ParseError::Malformed(HeaderName::Contact));
    assert_eq!(rejected("badaspec").error, ParseError::Malformed(HeaderName::To));
    assert_eq!(rejected("baddn").error, ParseError::Malformed(HeaderName::To)); // From is bad too
    let m = msg("badvers");
    assert_eq!(m.version(), Version::Other { major: 7, minor: 0 });
    assert_eq!(check_request(&m).unwrap_err().error, ParseError::UnsupportedVersion);
    assert_eq!(rejected("mismatch01").error, ParseError::CSeqMethodMismatch);
    let r = rejected("mismatch02");
    assert_eq!((r.status, r.error), (501, ParseError::CSeqMethodMismatch));
    assert_eq!(parse_err("bigcode"), Some(ParseError::StatusCode));
}

#[test]
fn transaction_and_application_layer_cases_expose_what_the_server_needs() {
    let limits = Limits::default();
    // 3.2.1 badbranch
    let v = msg("badbranch");
    let via = v.top_via().unwrap();
    assert_eq!(via.branch(), Some("z9hG4bK"));
    assert!(!via.has_rfc3261_branch());

    // 3.3.1 insuf
    assert_eq!(rejected("insuf").error, ParseError::Missing(HeaderName::To));
    // 3.3.2 / 3.3.3
    assert_eq!(rejected("unkscm").error, ParseError::UnsupportedScheme);
    let m = msg("novelsc");
    assert_eq!(m.request_uri().unwrap().unwrap().scheme(), "soap.beep");
    // 3.3.4 unksm2
    let m = msg("unksm2");
    assert_eq!(m.to().unwrap().uri().scheme(), "isbn");
    assert_eq!(m.from().unwrap().uri().scheme(), "http");
    assert_eq!(m.contacts().next().unwrap().unwrap().addr().unwrap().uri().scheme(), "name");
    // 3.3.5 bext01
    let m = msg("bext01");
    assert_eq!(m.require().collect::<Vec<_>>(), [Ok("nothingSupportsThis"), Ok("nothingSupportsThisEither")]);
    assert_eq!(m.proxy_require().count(), 2);
    // 3.3.6 invut
    assert!(msg("invut").content_type().unwrap().unwrap().is("application", "unknownformat"));
    // 3.3.7 regaut01
    let m = msg("regaut01");
    let a = m.authorizations().next().unwrap().unwrap();
    assert_eq!(a.scheme(), "NoOneKnowsThisScheme");
    assert!(a.digest().is_none());
    // 3.3.8 multi01
    assert!(matches!(rejected("multi01").error, ParseError::Duplicate(_)));
    // 3.3.9 mcl01: UDP answer 400, TCP cannot frame.
    assert_eq!(parse_datagram(load("mcl01"), &limits).err(), Some(ParseError::ConflictingContentLength));
    assert_eq!(frame_stream(&load("mcl01"), &limits), Err(ParseError::ConflictingContentLength));
    // 3.3.10 bcast
    let m = msg("bcast");
    let second = m.vias().nth(1).unwrap().unwrap();
    assert_eq!(second.host(), Host::Ipv4("255.255.255.255".parse().unwrap()));
    // 3.3.11 zeromf
    assert_eq!(msg("zeromf").max_forwards(), Ok(Some(0)));
    // 3.3.12 cparam01: header parameter, not URI parameter.
    let m = msg("cparam01");
    let Contact::Addr(a) = m.contacts().next().unwrap().unwrap() else { panic!("star") };
    assert!(a.params().contains("unknownparam"));
    assert!(a.uri().as_sip().unwrap().params().is_empty());
    assert_eq!(a.uri().as_sip().unwrap().user(), Some("+19725552222"));
    // 3.3.13 cparam02: URI parameter.
    let m = msg("cparam02");
    let Contact::Addr(a) = m.contacts().next().unwrap().unwrap() else { panic!("star") };
    assert!(a.params().is_empty());
    assert!(a.uri().as_sip().unwrap().params().contains("unknownparam"));
    // 3.3.14 regescrt
    let m = msg("regescrt");
    let c = m.contacts().next().unwrap().unwrap();
    assert_eq!(c.addr().unwrap().uri().as_sip().unwrap().headers(), Some("Route=%3Csip:sip.example.com%3E"));
    // 3.3.15 sdp01
    assert_eq!(msg("sdp01").values(HeaderName::Accept).collect::<Vec<_>>(), [Ok("text/nobodyKnowsThis")]);
    // 3.4.1 inv2543
    let m = msg("inv2543");
    assert_eq!(m.max_forwards(), Ok(None));
    assert_eq!(m.top_via().unwrap().branch(), None);
    assert_eq!(m.from().unwrap().tag(), None);
    assert_eq!(m.content_length(), Ok(None));
    assert!(m.body_slice().starts_with(b"v=0"));
    assert!(m.record_routes().next().unwrap().is_ok());
}

#[test]
fn stream_framing_of_torture_messages() {
    // Over TCP every message with a valid Content-Length frames to exactly its length.
    let limits = Limits::default();
    let m = load("dblreq");
    let Ok(Some(Frame::Message(n))) = frame_stream(&m, &limits) else { panic!("dblreq frames") };
    assert_eq!(&m[n..n + 6], b"\r\nINVI");
    let m = load("inv2543");
    assert_eq!(frame_stream(&m, &limits), Err(ParseError::MissingContentLength));
    let m = load("wsinv");
    assert_eq!(frame_stream(&m, &limits), Ok(Some(Frame::Message(m.len()))));
}
