//! Non-INVITE client transaction: timers E, F, K, absorption of final retransmissions.

use super::super::{PeerTransport, TxnState};
use super::*;

const OPTIONS: &str = "OPTIONS sip:bob@192.0.2.2";

#[test]
fn timer_e_doubles_up_to_t2_then_timer_f() {
    let mut p = Pair::new(PeerTransport::Udp);
    p.client.unplugged = true;
    p.client_sends(request("OPTIONS", "z9hG4bKn1", 1));
    p.run_until(ms(31_999));
    let expected: Vec<Duration> =
        [0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500].map(ms).to_vec();
    assert_eq!(p.client.send_times(p.start, OPTIONS), expected);
    assert_eq!(p.client.timeouts(), 0);
    p.run_until(ms(32_000));
    assert_eq!((p.client.timeouts(), p.client.terminated()), (1, 1), "timer F");
    assert!(p.client.layer.is_empty());
}

#[test]
fn timer_e_uses_t2_in_proceeding_and_timer_f_still_fires() {
    let mut p = Pair::new(PeerTransport::Udp);
    let key = p.client_sends(request("OPTIONS", "z9hG4bKn2", 1));
    let (skey, req) = p.server.requests().remove(0);
    p.server_answers(&skey, &req, 100);
    assert_eq!(p.client.layer.state(&key), Some(TxnState::Proceeding));
    p.run_until(ms(31_999));
    let expected: Vec<Duration> = [0, 500, 4500, 8500, 12_500, 16_500, 20_500, 24_500, 28_500].map(ms).to_vec();
    assert_eq!(p.client.send_times(p.start, OPTIONS), expected);
    // Each retransmission is answered with the 100 by the server transaction; the server
    // TU never sees it. Provisional responses in Proceeding go to the TU (§17.1.2.2).
    assert_eq!(p.server.send_times(p.start, "SIP/2.0 100").len(), expected.len());
    assert_eq!(p.client.responses(), vec![100; expected.len()]);
    assert_eq!(p.server.requests().len(), 1);
    p.run_until(ms(32_000));
    assert_eq!(p.client.timeouts(), 1, "timer F in Proceeding");
}

#[test]
fn lost_final_response_is_recovered_and_timer_k_absorbs_copies() {
    let mut p = Pair::new(PeerTransport::Udp);
    let key = p.client_sends(request("OPTIONS", "z9hG4bKn3", 1));
    let (skey, req) = p.server.requests().remove(0);
    p.server.drop_next = 1;
    p.server_answers(&skey, &req, 200);
    assert_eq!(p.client.responses(), Vec::<u16>::new());
    p.run_until(ms(500));
    // The retransmitted request is answered with the stored 200 by the server transaction.
    assert_eq!(p.server.send_times(p.start, "SIP/2.0 200"), vec![ms(0), ms(500)]);
    assert_eq!(p.client.responses(), vec![200]);
    assert_eq!(p.client.layer.state(&key), Some(TxnState::Completed));
    // A duplicate in Completed is absorbed.
    p.inject_to_client(ResponseBuilder::new(&req, 200).to_tag("bob1").build());
    assert_eq!(p.client.responses(), vec![200]);
    // Timer K: T4 after the 200 arrived at 500 ms; no retransmission meanwhile.
    p.run_until(ms(5_499));
    assert_eq!(p.client.layer.state(&key), Some(TxnState::Completed));
    assert_eq!(p.client.send_times(p.start, OPTIONS).len(), 2);
    p.run_until(ms(5_500));
    assert_eq!(p.client.layer.state(&key), None);
    assert_eq!((p.client.timeouts(), p.client.terminated()), (0, 1));
}

#[test]
fn reliable_transport_has_no_timer_e_and_zero_timer_k() {
    let mut p = Pair::new(PeerTransport::Tls);
    p.client.unplugged = true;
    let key = p.client_sends(request("REGISTER", "z9hG4bKn4", 1));
    assert_eq!(p.client.layer.poll_timeout(), Some(p.start + 64 * T1), "only timer F");
    p.client.unplugged = false;
    p.inject_to_server(request("REGISTER", "z9hG4bKn4", 1));
    let (skey, req) = p.server.requests().remove(0);
    p.server_answers(&skey, &req, 200);
    assert_eq!(p.client.layer.state(&key), Some(TxnState::Completed));
    assert_eq!(p.client.layer.poll_timeout(), Some(p.now), "timer K is zero");
    p.step();
    assert_eq!(p.client.layer.state(&key), None);
}
