//! The layer: matching (§17.1.3, §17.2.3, RFC 2543), CANCEL lookup (§9.2), the bound on
//! transactions, transport errors, stray and malformed input.

use super::super::{PeerTransport, Role, TxnConfig, TxnError, TxnState};
use super::*;

fn rejected(side: &Side) -> Vec<TxnError> {
    side.events
        .iter()
        .filter_map(|e| match e {
            TxnEvent::Rejected { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn cancel_is_its_own_transaction_and_finds_its_invite() {
    let mut p = Pair::new(PeerTransport::Udp);
    let invite_key = p.client_sends(request("INVITE", "z9hG4bKc1", 1));
    let cancel_key = p.client_sends(request("CANCEL", "z9hG4bKc1", 1));
    assert_ne!(invite_key, cancel_key, "same branch, different client transactions");
    let mut reqs = p.server.requests();
    let (skey_cancel, cancel) = reqs.pop().unwrap();
    let (skey_invite, invite) = reqs.pop().unwrap();
    assert_eq!((skey_invite.method(), skey_cancel.method()), ("INVITE", "CANCEL"));
    assert_eq!(p.server.layer.cancel_target(&cancel), Some(skey_invite.clone()));
    assert_eq!(p.server.layer.cancel_target(&invite), None, "only a CANCEL has a target");
    p.server_answers(&skey_cancel, &cancel, 200);
    p.server_answers(&skey_invite, &invite, 487);
    assert_eq!(p.client.responses(), vec![100, 200, 487]);
    assert_eq!(p.client.send_times(p.start, "ACK").len(), 1);
    assert_eq!(p.server.layer.state(&skey_invite), Some(TxnState::Confirmed));
}

#[test]
fn cancel_for_an_unknown_invite_has_no_target() {
    let mut p = Pair::new(PeerTransport::Udp);
    p.inject_to_server(request("INVITE", "z9hG4bKc2", 1));
    p.inject_to_server(request("CANCEL", "z9hG4bKc3", 1));
    let (_, cancel) = p.server.requests().pop().unwrap();
    assert_eq!(p.server.layer.cancel_target(&cancel), None, "TU answers 481");
}

#[test]
fn rfc2543_requests_match_without_a_cookie() {
    let mut p = Pair::new(PeerTransport::Udp);
    p.inject_to_server(request("INVITE", "oldbranch1", 5));
    p.inject_to_server(request("INVITE", "oldbranch1", 5));
    let (key, invite) = p.server.requests().pop().unwrap();
    assert!(key.is_rfc2543());
    assert_eq!(p.server.requests().len(), 1, "retransmission matched by Call-ID, CSeq, tags, Via, URI");
    p.server_answers(&key, &invite, 486);
    // An ACK whose To tag is not the one of our 486 is not ours.
    p.inject_to_server(request_with("ACK", "oldbranch1", 5, "<sip:bob@192.0.2.2>;tag=someone-else"));
    assert_eq!(p.server.layer.state(&key), Some(TxnState::Completed));
    assert!(matches!(p.server.events.last(), Some(TxnEvent::Ack { .. })));
    p.inject_to_server(request_with("ACK", "oldbranch1", 5, "<sip:bob@192.0.2.2>;tag=bob1"));
    assert_eq!(p.server.layer.state(&key), Some(TxnState::Confirmed), "ACK matched through the 486's To tag");
    // Another CSeq is another transaction; CANCEL finds the INVITE without a branch too.
    p.inject_to_server(request("INVITE", "oldbranch1", 6));
    p.inject_to_server(request("CANCEL", "oldbranch1", 6));
    let mut reqs = p.server.requests();
    let (_, cancel) = reqs.pop().unwrap();
    let (key6, _) = reqs.pop().unwrap();
    assert_ne!(key6, key);
    assert_eq!(p.server.layer.cancel_target(&cancel), Some(key6));
    // A request with no branch at all also gets an RFC 2543 key.
    let raw = request("OPTIONS", "x", 1);
    let no_branch = String::from_utf8(raw.to_vec()).unwrap().replace(";branch=x", "");
    p.inject_to_server(Bytes::from(no_branch));
    assert!(p.server.requests().last().unwrap().0.is_rfc2543());
}

#[test]
fn rfc2543_ack_for_a_reinvite_matches_with_the_dialog_tag() {
    let mut p = Pair::new(PeerTransport::Udp);
    let in_dialog = "<sip:bob@192.0.2.2>;tag=bob1";
    p.inject_to_server(request_with("INVITE", "old2", 9, in_dialog));
    let (key, invite) = p.server.requests().pop().unwrap();
    p.server_answers(&key, &invite, 491);
    p.inject_to_server(request_with("ACK", "old2", 9, in_dialog));
    assert_eq!(p.server.layer.state(&key), Some(TxnState::Confirmed));
}

#[test]
fn same_branch_from_another_sent_by_is_another_transaction() {
    let mut p = Pair::new(PeerTransport::Udp);
    p.inject_to_server(request("INVITE", "z9hG4bKsb", 1));
    let other = String::from_utf8(request("INVITE", "z9hG4bKsb", 1).to_vec())
        .unwrap()
        .replace("192.0.2.1:5060;branch", "192.0.2.9:5060;branch");
    p.inject_to_server(Bytes::from(other));
    assert_eq!(p.server.requests().len(), 2);
    assert_eq!(p.server.layer.len(), 2);
}

#[test]
fn responses_match_on_branch_and_cseq_method() {
    let mut p = Pair::new(PeerTransport::Udp);
    p.server.unplugged = true;
    let key = p.client_sends(request("INVITE", "z9hG4bKr1", 1));
    assert_eq!(key.role(), Role::Client);
    let invite = parse(&request("INVITE", "z9hG4bKr1", 1));
    let cancel = parse(&request("CANCEL", "z9hG4bKr1", 1));
    let other = parse(&request("INVITE", "z9hG4bKr2", 1));
    // A 200 to a CANCEL we never sent, and a response with another branch: dropped.
    p.inject_to_client(ResponseBuilder::new(&cancel, 200).build());
    p.inject_to_client(ResponseBuilder::new(&other, 180).build());
    assert_eq!(p.client.responses(), Vec::<u16>::new());
    p.inject_to_client(ResponseBuilder::new(&invite, 180).build());
    assert_eq!(p.client.responses(), vec![180]);
}

#[test]
fn the_table_is_bounded_and_frees_terminated_transactions() {
    let config = TxnConfig { max_transactions: 2, ..TxnConfig::default() };
    let mut p = Pair::with_config(PeerTransport::Udp, config);
    p.inject_to_server(request("OPTIONS", "z9hG4bKm1", 1));
    p.inject_to_server(request("OPTIONS", "z9hG4bKm2", 2));
    p.inject_to_server(request("OPTIONS", "z9hG4bKm3", 3));
    assert_eq!(p.server.layer.len(), 2);
    assert_eq!(rejected(&p.server), vec![TxnError::Full { max: 2 }]);
    assert_eq!(TxnError::Full { max: 2 }.to_string(), "transaction table full (2 transactions)");
    // The TU answers 503 statelessly.
    let Some(TxnEvent::Rejected { msg, source, .. }) = p.server.events.last().cloned() else { panic!() };
    p.server.layer.send_stateless(source, ResponseBuilder::new(&msg, 503).header("Retry-After", 5).build());
    p.drive();
    assert_eq!(p.server.sent_since(p.start), vec!["SIP/2.0 503 Service Unavailable"]);
    // ACKs need no transaction and still pass.
    p.inject_to_server(request("ACK", "z9hG4bKm4", 1));
    assert!(matches!(p.server.events.last(), Some(TxnEvent::Ack { .. })));
    // Clients hit the same bound.
    let config = TxnConfig { max_transactions: 1, ..TxnConfig::default() };
    let mut client: TxnLayer = TxnLayer::new(config);
    client.send_request(request("OPTIONS", "z9hG4bKm5", 1), p.server.addr, p.now).unwrap();
    assert_eq!(
        client.send_request(request("OPTIONS", "z9hG4bKm6", 2), p.server.addr, p.now),
        Err(TxnError::Full { max: 1 })
    );
    // Once a transaction ends (timer J), there is room again.
    let (key, req) = p.server.requests().remove(0);
    p.server_answers(&key, &req, 200);
    p.run_until(ms(32_000));
    assert_eq!(p.server.layer.len(), 1);
    p.inject_to_server(request("OPTIONS", "z9hG4bKm7", 7));
    assert_eq!(p.server.layer.len(), 2);
}

#[test]
fn send_request_refuses_what_it_cannot_track() {
    let mut layer: TxnLayer = TxnLayer::new(TxnConfig::default());
    let dest = Peer::new(PeerTransport::Udp, "192.0.2.2:5060".parse().unwrap());
    let now = Instant::now();
    assert_eq!(layer.send_request(request("OPTIONS", "nocookie", 1), dest, now), Err(TxnError::NoBranch));
    assert_eq!(layer.send_request(request("ACK", "z9hG4bKx", 1), dest, now), Err(TxnError::Ack));
    layer.send_request(request("OPTIONS", "z9hG4bKx", 1), dest, now).unwrap();
    assert_eq!(layer.send_request(request("OPTIONS", "z9hG4bKx", 1), dest, now), Err(TxnError::Duplicate));
    let resp = ResponseBuilder::new(&parse(&request("OPTIONS", "z9hG4bKx", 1)), 200).build();
    assert_eq!(layer.send_request(resp.clone(), dest, now), Err(TxnError::NotRequest));
    let client_key = layer.poll_transmit().and_then(|t| t.key).unwrap();
    assert!(matches!(layer.send_response(&client_key, resp, now), Err(TxnError::State { status: 200, .. })));
    assert!(matches!(layer.send_request(Bytes::from_static(b"garbage"), dest, now), Err(TxnError::Malformed(_))));
}

#[test]
fn malformed_requests_are_rejected_and_stray_input_dropped() {
    let mut p = Pair::new(PeerTransport::Udp);
    let no_cseq =
        String::from_utf8(request("OPTIONS", "z9hG4bKq1", 1).to_vec()).unwrap().replace("CSeq: 1 OPTIONS\r\n", "");
    let no_branch_no_cseq = no_cseq.replace(";branch=z9hG4bKq1", "");
    p.inject_to_server(Bytes::from(no_branch_no_cseq));
    assert!(matches!(rejected(&p.server).as_slice(), [TxnError::Malformed(_)]));
    let stray = ResponseBuilder::new(&parse(&request("OPTIONS", "z9hG4bKq2", 1)), 200).build();
    p.inject_to_server(stray);
    assert_eq!(p.server.events.len(), 1, "a response without transaction is dropped");
    assert!(p.server.layer.is_empty());
}

#[test]
fn transport_error_ends_the_transaction() {
    let mut p = Pair::new(PeerTransport::Tcp);
    p.client.unplugged = true;
    let key = p.client_sends(request("INVITE", "z9hG4bKt1", 1));
    p.client.layer.handle_transport_error(&key);
    p.drive();
    assert!(matches!(
        p.client.events.as_slice(),
        [TxnEvent::TransportError(a), TxnEvent::Terminated(b)] if *a == key && *b == key
    ));
    assert_eq!(p.client.layer.poll_timeout(), None);
    p.client.layer.handle_transport_error(&key); // unknown key: nothing happens
    assert!(p.client.layer.poll_event().is_none());
}

#[test]
fn every_transaction_terminates_exactly_once() {
    let mut p = Pair::new(PeerTransport::Udp);
    for (i, method) in ["INVITE", "OPTIONS", "INVITE", "BYE"].into_iter().enumerate() {
        p.client_sends(request(method, &format!("z9hG4bKe{i}"), 1));
    }
    let reqs = p.server.requests();
    for ((key, req), status) in reqs.iter().zip([486, 200, 200, 404]) {
        p.server_answers(key, req, status);
    }
    p.run_to_idle();
    assert!(p.client.layer.is_empty() && p.server.layer.is_empty());
    assert_eq!((p.client.terminated(), p.server.terminated()), (4, 4));
    assert_eq!(p.client.take_events().len(), 4 + 6, "terminations plus 100, 486, 200, 100, 200, 404");
}

#[test]
fn a_full_table_drops_the_oldest_lingering_transaction_before_refusing() {
    let config = TxnConfig { max_transactions: 2, ..TxnConfig::default() };
    let mut p = Pair::with_config(PeerTransport::Udp, config);
    p.inject_to_server(request("OPTIONS", "z9hG4bKl1", 1));
    p.inject_to_server(request("OPTIONS", "z9hG4bKl2", 2));
    // Both answered: they only linger (timer J) to absorb retransmissions.
    for (key, req) in p.server.requests() {
        p.server_answers(&key, &req, 200);
    }
    p.inject_to_server(request("OPTIONS", "z9hG4bKl3", 3));
    assert!(rejected(&p.server).is_empty(), "a new request is taken");
    assert_eq!((p.server.layer.len(), p.server.layer.evicted()), (2, 1));
    // The live one (l3, unanswered) and l2 remain; a fourth request evicts l2, not l3.
    p.inject_to_server(request("OPTIONS", "z9hG4bKl4", 4));
    assert_eq!(p.server.layer.evicted(), 2);
    p.inject_to_server(request("OPTIONS", "z9hG4bKl5", 5));
    assert_eq!(rejected(&p.server), vec![TxnError::Full { max: 2 }], "live transactions are never dropped");
}
