//! INVITE client transaction: timers A, B, D, M, the ACK for non-2xx, absorption.

use super::super::{PeerTransport, TxnState};
use super::*;

const INVITE: &str = "INVITE sip:bob@192.0.2.2";
const SECS: [u64; 7] = [0, 500, 1500, 3500, 7500, 15500, 31500];

#[test]
fn timer_a_doubles_without_t2_cap_until_timer_b() {
    let mut p = Pair::new(PeerTransport::Udp);
    p.client.unplugged = true;
    let key = p.client_sends(request("INVITE", "z9hG4bKa1", 1));
    assert_eq!(p.client.layer.state(&key), Some(TxnState::Calling));
    p.run_until(ms(31_999));
    // RFC 3261 §17.1.1.2: A is 500 ms, 1 s, 2 s, 4 s, 8 s, 16 s; only timer E and G stop
    // doubling at T2.
    assert_eq!(p.client.send_times(p.start, INVITE), SECS.map(ms).to_vec());
    assert_eq!(p.client.timeouts(), 0);
    p.run_until(ms(32_000));
    assert_eq!(p.client.timeouts(), 1, "timer B");
    assert_eq!(p.client.terminated(), 1);
    assert!(p.client.layer.is_empty());
    assert_eq!(p.client.send_times(p.start, INVITE).len(), 7, "no retransmission at B");
}

#[test]
fn lost_invite_is_retransmitted_and_the_retransmission_absorbed() {
    let mut p = Pair::new(PeerTransport::Udp);
    p.server.unplugged = true; // the server never answers, even its 100 Trying is lost
    p.client_sends(request("INVITE", "z9hG4bKa2", 1));
    p.run_until(ms(3_500));
    assert_eq!(p.server.requests().len(), 1, "retransmitted INVITEs never reach the server TU");
    assert_eq!(p.server.sent_since(p.start), vec!["SIP/2.0 100 Trying"; 4], "each answered with the last response");
}

#[test]
fn provisional_stops_timer_a_and_timer_b() {
    let mut p = Pair::new(PeerTransport::Udp);
    let key = p.client_sends(request("INVITE", "z9hG4bKa3", 1));
    assert_eq!(p.client.responses(), vec![100]);
    assert_eq!(p.client.layer.state(&key), Some(TxnState::Proceeding));
    assert_eq!(p.client.layer.poll_timeout(), None, "no A, no B in Proceeding");
    p.run_until(ms(120_000));
    assert_eq!(p.client.send_times(p.start, INVITE).len(), 1);
    assert_eq!(p.client.timeouts(), 0);
    assert_eq!(p.client.layer.state(&key), Some(TxnState::Proceeding));
}

#[test]
fn ack_for_486_uses_the_invite_branch_and_timer_d_absorbs_retransmissions() {
    let mut p = Pair::new(PeerTransport::Udp);
    let ckey = p.client_sends(request("INVITE", "z9hG4bKa4", 1));
    let (skey, invite) = p.server.requests().remove(0);
    p.client.drop_next = 1; // the first ACK is lost: the server retransmits the 486
    p.server_answers(&skey, &invite, 486);
    assert_eq!(p.client.layer.state(&ckey), Some(TxnState::Completed));
    let acks: Vec<_> = p.client.sent.iter().filter(|(_, b)| first_line(b).starts_with("ACK")).collect();
    assert_eq!(acks.len(), 1);
    let ack = parse(&acks[0].1);
    assert_eq!(ack.top_via().unwrap().branch(), Some("z9hG4bKa4"));
    assert_eq!(ack.to().unwrap().tag(), Some("bob1"));
    assert_eq!(ack.cseq().unwrap().to_string(), "1 ACK");
    assert_eq!(ack.request_uri_str(), Some("sip:bob@192.0.2.2"));
    // Timer G retransmits the 486 at +500 ms; the client ACKs again, the TU sees it once.
    let answered = p.now;
    p.run_until(ms(600));
    assert_eq!(p.server.send_times(answered, "SIP/2.0 486"), vec![ms(0), ms(500)]);
    assert_eq!(p.client.send_times(answered, "ACK"), vec![ms(0), ms(500)]);
    assert_eq!(p.client.responses(), vec![100, 486]);
    assert_eq!(p.server.layer.state(&skey), Some(TxnState::Confirmed));
    // Timer D: 32 s after the 486.
    p.run_until(ms(32_000 - 1));
    assert_eq!(p.client.layer.state(&ckey), Some(TxnState::Completed));
    p.run_until(ms(32_000));
    assert_eq!(p.client.layer.state(&ckey), None);
    assert_eq!((p.client.timeouts(), p.client.terminated()), (0, 1));
}

#[test]
fn retransmitted_486_in_completed_is_acked_not_delivered() {
    let mut p = Pair::new(PeerTransport::Udp);
    p.client_sends(request("INVITE", "z9hG4bKa5", 1));
    let (skey, invite) = p.server.requests().remove(0);
    p.server_answers(&skey, &invite, 486);
    let resp = ResponseBuilder::new(&invite, 486).to_tag("bob1").build();
    p.inject_to_client(resp);
    assert_eq!(p.client.send_times(p.start, "ACK").len(), 2);
    assert_eq!(p.client.responses(), vec![100, 486]);
}

#[test]
fn accepted_passes_each_2xx_and_ends_after_timer_m() {
    let mut p = Pair::new(PeerTransport::Udp);
    let ckey = p.client_sends(request("INVITE", "z9hG4bKa6", 1));
    let (skey, invite) = p.server.requests().remove(0);
    p.server_answers(&skey, &invite, 200);
    assert_eq!(p.client.layer.state(&ckey), Some(TxnState::Accepted));
    assert_eq!(p.client.send_times(p.start, "ACK"), vec![], "the TU ACKs a 2xx, not the transaction");
    // The TU core retransmits its 2xx through the server transaction (RFC 6026 Accepted).
    p.now += ms(500);
    p.server_answers(&skey, &invite, 200);
    assert_eq!(p.client.responses(), vec![100, 200, 200], "a 2xx retransmission reaches the TU");
    // Timer M runs from the first 2xx; retransmissions do not restart it.
    p.run_until(ms(32_000 - 1));
    assert_eq!(p.client.layer.state(&ckey), Some(TxnState::Accepted));
    p.run_until(ms(32_000));
    assert_eq!(p.client.layer.state(&ckey), None, "timer M");
    assert_eq!(p.client.timeouts(), 0);
}

#[test]
fn reliable_transport_sends_once_and_timer_d_is_zero() {
    let mut p = Pair::new(PeerTransport::Tcp);
    p.server.unplugged = true;
    let key = p.client_sends(request("INVITE", "z9hG4bKa7", 1));
    assert_eq!(p.client.layer.poll_timeout(), Some(p.start + 64 * T1), "only timer B");
    p.server.unplugged = false;
    let (skey, invite) = p.server.requests().remove(0);
    p.server_answers(&skey, &invite, 603);
    assert_eq!(p.client.layer.state(&key), Some(TxnState::Completed));
    assert_eq!(p.client.layer.poll_timeout(), Some(p.now), "timer D is zero");
    p.step();
    assert_eq!(p.client.layer.state(&key), None);
    assert_eq!(p.client.send_times(p.start, INVITE).len(), 1);
}
