//! INVITE server transaction: 100 Trying, timers G, H, I, L, absorption of INVITE and ACK
//! retransmissions.

use super::super::{PeerTransport, TxnConfig, TxnError, TxnState};
use super::*;

/// The server receives an INVITE straight from the test (no client transaction, so no
/// ACK is generated unless the test injects one).
fn invited(p: &mut Pair, branch: &str) -> (TxnKey, Message) {
    p.inject_to_server(request("INVITE", branch, 1));
    p.server.requests().pop().unwrap()
}

fn ack(branch: &str) -> Bytes {
    request_with("ACK", branch, 1, "<sip:bob@192.0.2.2>;tag=bob1")
}

#[test]
fn trying_is_sent_at_once_and_retransmitted_invites_get_the_last_response() {
    let mut p = Pair::new(PeerTransport::Udp);
    let (key, invite) = invited(&mut p, "z9hG4bKs1");
    assert_eq!(p.server.sent_since(p.start), vec!["SIP/2.0 100 Trying"]);
    p.inject_to_server(request("INVITE", "z9hG4bKs1", 1));
    p.server_answers(&key, &invite, 180);
    p.inject_to_server(request("INVITE", "z9hG4bKs1", 1));
    assert_eq!(
        p.server.sent_since(p.start),
        vec!["SIP/2.0 100 Trying", "SIP/2.0 100 Trying", "SIP/2.0 180 Ringing", "SIP/2.0 180 Ringing"]
    );
    assert_eq!(p.server.requests().len(), 1, "retransmissions are absorbed");
    assert_eq!(p.server.layer.state(&key), Some(TxnState::Proceeding));
    assert_eq!(p.server.layer.poll_timeout(), None, "no timer while the TU decides");
}

#[test]
fn an_invite_answered_before_the_transmits_are_taken_gets_no_trying() {
    let mut layer: TxnLayer<Peer> = TxnLayer::new(TxnConfig::default());
    let now = Instant::now();
    let client = Peer { transport: PeerTransport::Udp, addr: "192.0.2.1:5060".parse().unwrap() };
    let invite = parse(&request("INVITE", "z9hG4bKs9", 1));
    let Some(TxnEvent::Request { key, msg, .. }) = layer.handle_incoming(invite, client, now) else {
        panic!("the INVITE reaches the TU");
    };
    // The TU challenges at once, as pbxd does an INVITE without credentials.
    layer.send_response(&key, ResponseBuilder::new(&msg, 407).to_tag("bob1").build(), now).unwrap();
    let sent: Vec<Bytes> = std::iter::from_fn(|| layer.poll_transmit()).map(|t| t.bytes).collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with(b"SIP/2.0 407"));
}

#[test]
fn trying_waits_for_the_tu_when_auto_trying_is_off() {
    let config = TxnConfig { auto_trying: false, ..TxnConfig::default() };
    let mut p = Pair::with_config(PeerTransport::Udp, config);
    let (key, invite) = invited(&mut p, "z9hG4bKs2");
    p.inject_to_server(request("INVITE", "z9hG4bKs2", 1));
    assert_eq!(p.server.sent_since(p.start), Vec::<String>::new(), "nothing to answer a retransmission with");
    p.server_answers(&key, &invite, 100);
    assert_eq!(p.server.sent_since(p.start), vec!["SIP/2.0 100 Trying"]);
}

#[test]
fn timer_g_doubles_up_to_t2_until_timer_h() {
    let mut p = Pair::new(PeerTransport::Udp);
    let (key, invite) = invited(&mut p, "z9hG4bKs3");
    p.server_answers(&key, &invite, 486);
    assert_eq!(p.server.layer.state(&key), Some(TxnState::Completed));
    p.run_until(ms(31_999));
    let expected: Vec<Duration> =
        [0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500].map(ms).to_vec();
    assert_eq!(p.server.send_times(p.start, "SIP/2.0 486"), expected);
    p.run_until(ms(32_000));
    assert_eq!((p.server.timeouts(), p.server.terminated()), (1, 1), "timer H tells the TU");
    assert!(p.server.layer.is_empty());
}

#[test]
fn ack_stops_timer_g_and_timer_i_absorbs_ack_copies() {
    let mut p = Pair::new(PeerTransport::Udp);
    let (key, invite) = invited(&mut p, "z9hG4bKs4");
    p.server_answers(&key, &invite, 486);
    p.run_until(ms(1_000));
    p.inject_to_server(ack("z9hG4bKs4"));
    assert_eq!(p.server.layer.state(&key), Some(TxnState::Confirmed));
    p.inject_to_server(ack("z9hG4bKs4"));
    p.inject_to_server(request("INVITE", "z9hG4bKs4", 1));
    assert!(p.server.events.iter().all(|e| !matches!(e, TxnEvent::Ack { .. })), "ACKs absorbed");
    assert_eq!(p.server.requests().len(), 1);
    p.run_until(ms(1_000 + 5_000 - 1));
    assert_eq!(p.server.send_times(p.start, "SIP/2.0 486"), vec![ms(0), ms(500)], "G stopped, INVITE absorbed");
    assert_eq!(p.server.layer.state(&key), Some(TxnState::Confirmed));
    p.run_until(ms(6_000));
    assert_eq!(p.server.layer.state(&key), None, "timer I = T4");
    assert_eq!((p.server.timeouts(), p.server.terminated()), (0, 1));
}

#[test]
fn accepted_absorbs_invite_passes_ack_and_ends_after_timer_l() {
    let mut p = Pair::new(PeerTransport::Udp);
    let (key, invite) = invited(&mut p, "z9hG4bKs5");
    p.server_answers(&key, &invite, 200);
    assert_eq!(p.server.layer.state(&key), Some(TxnState::Accepted));
    p.inject_to_server(request("INVITE", "z9hG4bKs5", 1));
    assert_eq!(p.server.send_times(p.start, "SIP/2.0 200").len(), 1, "the TU retransmits 2xx, not the txn");
    assert_eq!(p.server.requests().len(), 1);
    // An ACK for the 2xx normally has a new branch and matches nothing.
    p.inject_to_server(ack("z9hG4bKother"));
    // One reusing the INVITE's branch reaches the TU through Accepted (RFC 6026 §8.7).
    p.inject_to_server(ack("z9hG4bKs5"));
    assert_eq!(p.server.events.iter().filter(|e| matches!(e, TxnEvent::Ack { .. })).count(), 2);
    assert_eq!(
        p.server.layer.send_response(&key, ResponseBuilder::new(&invite, 486).build(), p.now),
        Err(TxnError::State { status: 486, state: TxnState::Accepted })
    );
    p.run_until(ms(32_000 - 1));
    assert_eq!(p.server.layer.state(&key), Some(TxnState::Accepted));
    p.run_until(ms(32_000));
    assert_eq!(p.server.layer.state(&key), None, "timer L");
    assert_eq!(p.server.timeouts(), 0);
}

#[test]
fn reliable_transport_has_no_timer_g_and_zero_timer_i() {
    let mut p = Pair::new(PeerTransport::Tcp);
    let (key, invite) = invited(&mut p, "z9hG4bKs6");
    p.server_answers(&key, &invite, 486);
    assert_eq!(p.server.layer.poll_timeout(), Some(p.start + 64 * T1), "only timer H");
    p.inject_to_server(ack("z9hG4bKs6"));
    assert_eq!(p.server.layer.poll_timeout(), Some(p.now), "timer I is zero");
    p.step();
    assert_eq!(p.server.layer.state(&key), None);
    assert_eq!(p.server.send_times(p.start, "SIP/2.0 486").len(), 1);
}

#[test]
fn end_to_end_486_is_acked_by_the_client_transaction() {
    let mut p = Pair::new(PeerTransport::Udp);
    let ckey = p.client_sends(request("INVITE", "z9hG4bKs7", 1));
    let (skey, invite) = p.server.requests().remove(0);
    p.server_answers(&skey, &invite, 486);
    assert_eq!(p.server.layer.state(&skey), Some(TxnState::Confirmed));
    p.run_to_idle();
    assert!(p.client.layer.is_empty() && p.server.layer.is_empty());
    assert_eq!(p.client.send_times(p.start, "ACK").len(), 1);
    assert_eq!(p.server.send_times(p.start, "SIP/2.0 486").len(), 1);
    assert_eq!(p.client.terminated() + p.server.terminated(), 2);
    assert_eq!(p.client.layer.state(&ckey), None);
}
