//! The call machine in virtual time: every deadline path (ring time, 2xx without ACK,
//! session timer, maximum duration) and the CANCEL and fork rules, without a network.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::machine::{Call, Input, Output};
use super::{CallSettings, CallSetup, Party, Side, Target};
use crate::media::relay::{PortPool, PortPoolConfig, Relay, RelayConfig};
use crate::sip::msg::{Limits, Message, Method, ResponseBuilder, parse_datagram};
use crate::sip::transport::Source;
use crate::sip::txn::{PeerTransport, TxnKey};

const T1: Duration = Duration::from_millis(500);

fn relay() -> Arc<Relay> {
    static RELAY: OnceLock<Arc<Relay>> = OnceLock::new();
    RELAY
        .get_or_init(|| {
            let pool = PortPool::new(PortPoolConfig::new("127.0.0.1".parse().unwrap(), 46_000..=46_999)).unwrap();
            Arc::new(Relay::new(RelayConfig::default(), pool).unwrap())
        })
        .clone()
}

fn source(port: u16) -> Source {
    Source { transport: PeerTransport::Udp, addr: ([127, 0, 0, 1], port).into(), listener: 0, flow: 0 }
}

fn settings() -> CallSettings {
    CallSettings {
        ring_timeout: Duration::from_secs(30),
        max_duration: Duration::from_secs(3600),
        session_expires: Duration::from_secs(1800),
        min_se: Duration::from_secs(90),
        t1: T1,
        t2: Duration::from_secs(4),
    }
}

const SDP_A: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0 101\r\n\
a=rtpmap:101 telephone-event/8000\r\n";
const SDP_B: &str = "v=0\r\no=- 2 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7100 RTP/AVP 0 101\r\n\
a=rtpmap:101 telephone-event/8000\r\n";

fn message(text: &str) -> Message {
    parse_datagram(Bytes::from(text.to_owned()), &Limits::default()).unwrap()
}

fn invite(extra: &str) -> Message {
    message(&format!(
        "INVITE sip:102@acme.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bKa1;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:101@acme.example>;tag=a\r\nTo: <sip:102@acme.example>\r\nCall-ID: c1\r\n\
         CSeq: 2 INVITE\r\nContact: <sip:101@127.0.0.1:5071>\r\n{extra}Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{SDP_A}",
        SDP_A.len()
    ))
}

/// A server key for `msg`, as the transaction layer would make it.
fn key_of(msg: &Message) -> TxnKey {
    let mut layer: crate::sip::txn::TxnLayer<Source> = crate::sip::txn::TxnLayer::new(Default::default());
    match layer.handle_incoming(msg.clone(), source(5071), Instant::now()) {
        Some(crate::sip::txn::TxnEvent::Request { key, .. }) => key,
        other => panic!("no request event: {other:?}"),
    }
}

struct Harness {
    call: Call,
    now: Instant,
    /// INVITEs sent to each fork: (req, message).
    invites: Vec<(u64, Message)>,
    /// Everything else the call sent as it started (an early refusal).
    started: Vec<Output>,
}

impl Harness {
    fn new(forks: u16, extra: &str, settings: CallSettings) -> Harness {
        Harness::with_invite(forks, invite(extra), settings)
    }

    fn with_invite(forks: u16, invite: Message, settings: CallSettings) -> Harness {
        let now = Instant::now();
        let targets = (0..forks)
            .map(|i| Target {
                uri: format!("sip:102@127.0.0.1:{}", 7200 + i),
                dest: source(7200 + i),
                local_addr: "127.0.0.1:5060".parse().unwrap(),
            })
            .collect();
        let setup = CallSetup {
            id: 1,
            tenant: "acme".into(),
            caller: Party { number: "101".into(), name: Some("Alice".into()), domain: "acme.example".into() },
            callee: Party { number: "102".into(), name: None, domain: "acme.example".into() },
            invite_key: key_of(&invite),
            invite,
            source: source(5071),
            local_addr: "127.0.0.1:5060".parse().unwrap(),
            targets,
            settings,
            relay: relay(),
            media_ip: "127.0.0.1".parse().unwrap(),
            seed: 42,
            b_call_id: "b1@pbx".into(),
            recorder: None,
        };
        let mut h = Harness { call: Call::start(setup, now), now, invites: Vec::new(), started: Vec::new() };
        for out in h.drain() {
            match out {
                Output::Request { req, bytes, .. } => {
                    h.invites.push((req, parse_datagram(bytes, &Limits::default()).unwrap()))
                }
                other => h.started.push(other),
            }
        }
        h
    }

    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.call.poll_output()).filter(|o| !matches!(o, Output::State(_))).collect()
    }

    fn input(&mut self, input: Input) -> Vec<Output> {
        self.call.handle(input, self.now);
        self.drain()
    }

    fn advance(&mut self, by: Duration) -> Vec<Output> {
        self.now += by;
        self.call.handle_timeout(self.now);
        self.drain()
    }

    /// Fork `i` answers its INVITE with `status` (To tag `b<i>`).
    fn fork_says(&mut self, i: usize, status: u16) -> Vec<Output> {
        let (req, inv) = self.invites[i].clone();
        let tag = format!("b{i}");
        let mut r = ResponseBuilder::new(&inv, status)
            .to_tag(&tag)
            .header("Contact", format!("<sip:102@127.0.0.1:{}>", 7200 + i));
        if (200..300).contains(&status) || status == 183 {
            r = r.body("application/sdp", SDP_B.as_bytes());
        }
        self.input(Input::Response { req, msg: parse_datagram(r.build(), &Limits::default()).unwrap() })
    }
}

fn sent(outputs: &[Output]) -> Vec<String> {
    outputs
        .iter()
        .map(|o| {
            let (kind, bytes) = match o {
                Output::Respond { bytes, .. } => ("respond", bytes),
                Output::Request { bytes, .. } => ("request", bytes),
                Output::Stateless { bytes, .. } => ("stateless", bytes),
                Output::State(_) => unreachable!(),
            };
            let line = String::from_utf8_lossy(bytes).lines().next().unwrap_or_default().to_owned();
            format!("{kind} {line}")
        })
        .collect()
}

fn requests_of(outputs: &[Output]) -> Vec<(u64, Message)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Request { req, bytes, .. } => {
                Some((*req, parse_datagram(bytes.clone(), &Limits::default()).unwrap()))
            }
            _ => None,
        })
        .collect()
}

fn answer(h: &mut Harness, req: u64, msg: &Message, status: u16) -> Vec<Output> {
    let r = ResponseBuilder::new(msg, status).build();
    h.input(Input::Response { req, msg: parse_datagram(r, &Limits::default()).unwrap() })
}

#[test]
fn the_offer_is_anchored_and_forked_to_every_contact() {
    let h = Harness::new(2, "", settings());
    assert_eq!(h.invites.len(), 2);
    let body = String::from_utf8_lossy(h.invites[0].1.body_slice()).into_owned();
    assert!(body.contains("c=IN IP4 127.0.0.1") && !body.contains("7000"), "our relay port, not A's: {body}");
    assert_ne!(h.invites[0].1.top_via().unwrap().branch(), h.invites[1].1.top_via().unwrap().branch());
    assert_eq!(h.invites[0].1.call_id().unwrap(), "b1@pbx");
}

#[test]
fn ringing_too_long_gives_480_and_cancels_the_ringing_phone() {
    let mut h = Harness::new(1, "", settings());
    assert_eq!(sent(&h.fork_says(0, 180)), ["respond SIP/2.0 180 Ringing"]);
    assert!(h.advance(Duration::from_secs(29)).is_empty());
    let out = h.advance(Duration::from_secs(1));
    assert_eq!(
        sent(&out),
        ["respond SIP/2.0 480 Temporarily Unavailable", "request CANCEL sip:102@127.0.0.1:7200 SIP/2.0"]
    );
    let (cancel_req, cancel) = requests_of(&out).remove(0);
    assert_eq!(cancel.top_via().unwrap().branch(), h.invites[0].1.top_via().unwrap().branch(), "§9.1: same branch");
    answer(&mut h, cancel_req, &cancel, 200);
    assert!(!h.call.is_done(), "the INVITE still waits for its 487");
    h.fork_says(0, 487);
    assert!(h.call.is_done());
    assert_eq!(h.call.cdr().disposition, "no_answer");
}

#[test]
fn a_cancel_waits_for_the_first_provisional_response() {
    let mut h = Harness::new(1, "", settings());
    let cancel = message(
        "CANCEL sip:102@acme.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bKa1;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:101@acme.example>;tag=a\r\nTo: <sip:102@acme.example>\r\nCall-ID: c1\r\n\
         CSeq: 2 CANCEL\r\nContent-Length: 0\r\n\r\n",
    );
    let out = h.input(Input::Request { side: Side::A, key: key_of(&cancel), msg: cancel });
    assert_eq!(
        sent(&out),
        ["respond SIP/2.0 200 OK", "respond SIP/2.0 487 Request Terminated"],
        "no CANCEL before a 1xx"
    );
    let out = h.fork_says(0, 180);
    assert_eq!(sent(&out), ["request CANCEL sip:102@127.0.0.1:7200 SIP/2.0"]);
    assert_eq!(h.call.cdr().disposition, "cancelled");
}

#[test]
fn a_2xx_is_retransmitted_until_acked_and_without_ack_both_sides_get_bye() {
    let mut h = Harness::new(1, "", settings());
    let out = h.fork_says(0, 200);
    assert_eq!(sent(&out), ["stateless ACK sip:102@127.0.0.1:7200 SIP/2.0", "respond SIP/2.0 200 OK"]);
    let ok = String::from_utf8_lossy(match &out[1] {
        Output::Respond { bytes, .. } => bytes,
        _ => unreachable!(),
    })
    .into_owned();
    assert!(ok.contains("m=audio ") && !ok.contains("7100"), "A sees our relay, not B: {ok}");
    let mut retransmits = Vec::new();
    let mut elapsed = Duration::ZERO;
    while elapsed < T1 * 64 {
        let wake = h.call.poll_timeout().unwrap();
        let step = wake - h.now;
        elapsed += step;
        let out = h.advance(step);
        if out.iter().any(|o| matches!(o, Output::Stateless { .. })) {
            retransmits.push(elapsed);
        }
        if out.iter().any(|o| matches!(o, Output::Request { .. })) {
            assert_eq!(sent(&out).len(), 2, "BYE to A and to B: {:?}", sent(&out));
            break;
        }
    }
    assert_eq!(&retransmits[..4], [T1, T1 * 3, T1 * 7, T1 * 15], "T1 doubling, capped at T2");
    assert_eq!(h.call.cdr().hangup_cause, "no ACK from caller");
}

#[test]
fn the_ack_stops_retransmission_and_bye_from_the_caller_reaches_the_callee() {
    let mut h = Harness::new(1, "", settings());
    h.fork_says(0, 200);
    let ack = message(
        "ACK sip:pbx@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bKa2;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:101@acme.example>;tag=a\r\nTo: <sip:102@acme.example>;tag=x\r\n\
         Call-ID: c1\r\nCSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(h.input(Input::Ack { side: Side::A, msg: ack }).is_empty());
    assert!(h.advance(T1 * 2).is_empty(), "no retransmission after the ACK");
    let bye = message(
        "BYE sip:pbx@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bKa3;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:101@acme.example>;tag=a\r\nTo: <sip:102@acme.example>;tag=x\r\n\
         Call-ID: c1\r\nCSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n",
    );
    let out = h.input(Input::Request { side: Side::A, key: key_of(&bye), msg: bye });
    assert_eq!(sent(&out), ["respond SIP/2.0 200 OK", "request BYE sip:102@127.0.0.1:7200 SIP/2.0"]);
    let (req, bye_b) = requests_of(&out).remove(0);
    assert_eq!(bye_b.call_id().unwrap(), "b1@pbx");
    assert_eq!(bye_b.to().unwrap().tag(), Some("b0"), "in B's dialog");
    answer(&mut h, req, &bye_b, 200);
    assert!(h.call.is_done());
    let cdr = h.call.cdr();
    assert_eq!((cdr.disposition.as_str(), cdr.hangup_side.as_str()), ("answered", "caller"));
}

#[test]
fn a_second_fork_answering_late_is_acked_and_hung_up() {
    let mut h = Harness::new(2, "", settings());
    h.fork_says(0, 180);
    h.fork_says(1, 180);
    let out = h.fork_says(1, 200);
    assert!(sent(&out).contains(&"request CANCEL sip:102@127.0.0.1:7200 SIP/2.0".to_owned()), "{:?}", sent(&out));
    let out = h.fork_says(0, 200);
    assert_eq!(
        sent(&out),
        ["stateless ACK sip:102@127.0.0.1:7200 SIP/2.0", "request BYE sip:102@127.0.0.1:7200 SIP/2.0"]
    );
}

#[test]
fn busy_wins_over_other_failures() {
    let mut h = Harness::new(2, "", settings());
    assert!(h.fork_says(0, 404).is_empty(), "the other fork may still answer");
    let out = h.fork_says(1, 486);
    assert_eq!(sent(&out), ["respond SIP/2.0 486 Busy Here"]);
    assert_eq!(h.call.cdr().disposition, "busy");
    assert!(h.call.is_done());
}

#[test]
fn a_session_timer_nobody_refreshes_ends_the_call() {
    let mut h = Harness::new(1, "Supported: timer\r\nSession-Expires: 120\r\n", settings());
    let out = h.fork_says(0, 200);
    let ok = match &out[1] {
        Output::Respond { bytes, .. } => String::from_utf8_lossy(bytes).into_owned(),
        _ => unreachable!(),
    };
    assert!(ok.contains("Session-Expires: 120;refresher=uac\r\n") && ok.contains("Require: timer\r\n"), "{ok}");
    let ack = message(
        "ACK sip:pbx@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bKa2\r\nMax-Forwards: 70\r\n\
         From: <sip:101@acme.example>;tag=a\r\nTo: <sip:102@acme.example>;tag=x\r\nCall-ID: c1\r\nCSeq: 2 ACK\r\n\
         Content-Length: 0\r\n\r\n",
    );
    h.input(Input::Ack { side: Side::A, msg: ack });
    assert!(h.advance(Duration::from_secs(87)).is_empty(), "120 s minus 32 s of margin");
    let out = h.advance(Duration::from_secs(1));
    assert_eq!(requests_of(&out).len(), 2, "BYE both sides when the caller's refresh is overdue: {:?}", sent(&out));
    assert_eq!(h.call.cdr().hangup_cause, "session timer expired (caller)");
}

#[test]
fn the_maximum_duration_hangs_up_both_sides() {
    let settings =
        CallSettings { max_duration: Duration::from_secs(10), session_expires: Duration::ZERO, ..settings() };
    let mut h = Harness::new(1, "", settings);
    h.fork_says(0, 200);
    let mut byes = 0;
    for _ in 0..40 {
        let out = h.advance(Duration::from_millis(500));
        byes += requests_of(&out).iter().filter(|(_, m)| m.method() == Some(Method::Bye)).count();
    }
    assert_eq!(byes, 2);
    assert_eq!(h.call.cdr().hangup_cause, "maximum call duration");
}

#[test]
fn a_late_offer_is_answered_in_the_callers_ack() {
    let late = message(
        "INVITE sip:102@acme.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bKa1;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:101@acme.example>;tag=a\r\nTo: <sip:102@acme.example>\r\nCall-ID: c1\r\n\
         CSeq: 2 INVITE\r\nContact: <sip:101@127.0.0.1:5071>\r\nContent-Length: 0\r\n\r\n",
    );
    let mut h = Harness::with_invite(1, late, settings());
    assert!(h.invites[0].1.body_slice().is_empty(), "the callee gets no offer either");
    // B offers in its 200: A gets that offer, anchored; B is not ACKed yet.
    let out = h.fork_says(0, 200);
    assert_eq!(sent(&out), ["respond SIP/2.0 200 OK"], "no ACK to B before A's answer");
    let Output::Respond { bytes, .. } = &out[0] else { unreachable!() };
    let ok = parse_datagram(bytes.clone(), &Limits::default()).unwrap();
    let offer = String::from_utf8_lossy(ok.body_slice()).into_owned();
    assert!(offer.contains("m=audio") && !offer.contains("7100"), "B's offer on our relay port: {offer}");
    // A retransmitted 200 from B is not ACKed without the answer.
    assert!(sent(&h.fork_says(0, 200)).iter().all(|l| !l.starts_with("stateless ACK")));
    // A's ACK brings the answer: B gets its ACK with it, anchored.
    let ack = message(&format!(
        "ACK sip:102@acme.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bKa2;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:101@acme.example>;tag=a\r\nTo: <sip:102@acme.example>;tag=x\r\nCall-ID: c1\r\n\
         CSeq: 2 ACK\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP_A}",
        SDP_A.len()
    ));
    let out = h.input(Input::Ack { side: Side::A, msg: ack });
    assert_eq!(sent(&out), ["stateless ACK sip:102@127.0.0.1:7200 SIP/2.0"]);
    let Output::Stateless { bytes, .. } = &out[0] else { unreachable!() };
    let ack_b = parse_datagram(bytes.clone(), &Limits::default()).unwrap();
    let answer = String::from_utf8_lossy(ack_b.body_slice()).into_owned();
    assert!(answer.contains("m=audio") && !answer.contains("7000"), "A's answer on our relay port: {answer}");
    assert_eq!(ack_b.cseq().unwrap().seq, h.invites[0].1.cseq().unwrap().seq);
    assert_eq!(h.call.cdr().codec, "PCMU");
}

#[test]
fn a_session_interval_below_min_se_gets_422_with_ours() {
    let h = Harness::new(1, "Supported: timer\r\nSession-Expires: 60\r\n", settings());
    assert!(h.invites.is_empty(), "nothing forked");
    assert_eq!(sent(&h.started), ["respond SIP/2.0 422 Session Interval Too Small"]);
    let Output::Respond { bytes, .. } = &h.started[0] else { unreachable!() };
    assert!(String::from_utf8_lossy(bytes).contains("Min-SE: 90\r\n"));
    let cdr = h.call.cdr();
    assert_eq!((cdr.disposition.as_str(), cdr.hangup_cause.as_str()), ("failed", "session interval too small"));
}
