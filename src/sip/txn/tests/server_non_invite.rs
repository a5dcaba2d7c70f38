//! Non-INVITE server transaction: absorption in Trying, last response in Proceeding and
//! Completed, timer J.

use super::super::{PeerTransport, TxnError, TxnState};
use super::*;

#[test]
fn retransmissions_get_nothing_then_the_provisional_then_the_final() {
    let mut p = Pair::new(PeerTransport::Udp);
    p.inject_to_server(request("BYE", "z9hG4bKb1", 2));
    let (key, bye) = p.server.requests().remove(0);
    assert_eq!(p.server.layer.state(&key), Some(TxnState::Trying));
    p.inject_to_server(request("BYE", "z9hG4bKb1", 2));
    assert_eq!(p.server.sent_since(p.start), Vec::<String>::new(), "absorbed silently in Trying");
    p.server_answers(&key, &bye, 100);
    assert_eq!(p.server.layer.state(&key), Some(TxnState::Proceeding));
    p.inject_to_server(request("BYE", "z9hG4bKb1", 2));
    p.server_answers(&key, &bye, 200);
    p.inject_to_server(request("BYE", "z9hG4bKb1", 2));
    assert_eq!(
        p.server.sent_since(p.start),
        vec!["SIP/2.0 100 Trying", "SIP/2.0 100 Trying", "SIP/2.0 200 OK", "SIP/2.0 200 OK"]
    );
    assert_eq!(p.server.requests().len(), 1);
    assert_eq!(
        p.server.layer.send_response(&key, ResponseBuilder::new(&bye, 500).build(), p.now),
        Err(TxnError::State { status: 500, state: TxnState::Completed }),
        "one final response only"
    );
}

#[test]
fn timer_j_keeps_the_final_response_for_64_t1() {
    let mut p = Pair::new(PeerTransport::Udp);
    p.inject_to_server(request("MESSAGE", "z9hG4bKb2", 3));
    let (key, req) = p.server.requests().remove(0);
    p.server_answers(&key, &req, 202);
    p.run_until(ms(32_000 - 1));
    p.inject_to_server(request("MESSAGE", "z9hG4bKb2", 3));
    assert_eq!(p.server.send_times(p.start, "SIP/2.0 202").len(), 2);
    p.run_until(ms(32_000));
    assert_eq!(p.server.layer.state(&key), None, "timer J");
    assert_eq!((p.server.timeouts(), p.server.terminated()), (0, 1));
    // After J a copy is a new request for the TU.
    p.inject_to_server(request("MESSAGE", "z9hG4bKb2", 3));
    assert_eq!(p.server.requests().len(), 2);
}

#[test]
fn reliable_transport_timer_j_is_zero() {
    let mut p = Pair::new(PeerTransport::Tcp);
    p.inject_to_server(request("OPTIONS", "z9hG4bKb3", 1));
    let (key, req) = p.server.requests().remove(0);
    p.server_answers(&key, &req, 200);
    assert_eq!(p.server.layer.poll_timeout(), Some(p.now));
    p.step();
    assert_eq!(p.server.layer.state(&key), None);
}
