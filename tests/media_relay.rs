//! End-to-end relay tests over real UDP sockets on 127.0.0.1, through the public API only.
//! Each test uses its own port range so the tests can run in parallel.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use pbx::media::relay::{
    LatchPolicy, Leg, LegConfig, PortPool, PortPoolConfig, Relay, RelayConfig, RelayError, RelayEvent, SessionHandle,
    SessionStats,
};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn relay(ports: std::ops::RangeInclusive<u16>, config: RelayConfig) -> Relay {
    let pool = PortPool::new(PortPoolConfig::new(LOCAL, ports)).unwrap();
    Relay::new(config, pool).unwrap()
}

fn endpoint() -> UdpSocket {
    let s = UdpSocket::bind((LOCAL, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..160).map(|i| (i as u8) ^ (seq as u8)));
    p
}

fn recv(sock: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = sock.recv_from(&mut buf).expect("packet through the relay");
    (buf[..n].to_vec(), from)
}

fn nothing_arrives(sock: &UdpSocket) -> bool {
    sock.set_read_timeout(Some(Duration::from_millis(150))).unwrap();
    let mut buf = [0u8; 2048];
    let none = sock.recv_from(&mut buf).is_err();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    none
}

/// Poll `stats` until `done` holds (the worker bumps "out" counters just after sending).
fn settle(h: &SessionHandle, done: impl Fn(&SessionStats) -> bool) -> SessionStats {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        let s = h.stats();
        if done(&s) || Instant::now() > until {
            return s;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn thousand_packets_each_way_nothing_lost() {
    let relay = relay(42000..=42019, RelayConfig::default());
    let (a, b) = (endpoint(), endpoint());
    let cfg = |s: &UdpSocket| LegConfig { payload_types: vec![0], ..LegConfig::new(Some(s.local_addr().unwrap())) };
    let h = relay.create_session(cfg(&a), cfg(&b)).unwrap();
    let (to_a, to_b) = (h.local_rtp(Leg::A), h.local_rtp(Leg::B));
    const N: u16 = 1000;
    const WINDOW: u16 = 16;
    let (mut got_a, mut got_b) = (0u16, 0u16);
    for seq in 0..N {
        a.send_to(&rtp(0, seq, u32::from(seq) * 160, 0xa), to_a).unwrap();
        b.send_to(&rtp(0, seq, u32::from(seq) * 160, 0xb), to_b).unwrap();
        while seq + 1 - got_b >= WINDOW || (seq + 1 == N && got_b < N) {
            let (p, from) = recv(&b);
            assert_eq!((p, from), (rtp(0, got_b, u32::from(got_b) * 160, 0xa), to_b), "A->B packet {got_b}");
            got_b += 1;
        }
        while seq + 1 - got_a >= WINDOW || (seq + 1 == N && got_a < N) {
            let (p, from) = recv(&a);
            assert_eq!((p, from), (rtp(0, got_a, u32::from(got_a) * 160, 0xb), to_a), "B->A packet {got_a}");
            got_a += 1;
        }
    }
    let s = settle(&h, |s| s.a.rtp_packets_out == 1000 && s.b.rtp_packets_out == 1000);
    for leg in [&s.a, &s.b] {
        assert_eq!((leg.rtp_packets_in, leg.rtp_bytes_in), (1000, 172_000));
        assert_eq!((leg.rtp_packets_out, leg.rtp_bytes_out), (1000, 172_000));
        assert_eq!((leg.rtp_expected, leg.rtp_lost), (1000, 0));
        assert_eq!(leg.dropped_foreign + leg.dropped_malformed + leg.dropped_bad_pt + leg.dropped_send, 0);
        assert!(leg.last_rtp.is_some());
    }
    assert_eq!(s.a.latched_rtp, Some(a.local_addr().unwrap()));
    assert_eq!(s.b.latched_rtp, Some(b.local_addr().unwrap()));
}

#[test]
fn rtcp_is_relayed_and_reports_are_read() {
    let relay = relay(42020..=42039, RelayConfig::default());
    let (a_rtp, a_rtcp, b_rtp, b_rtcp) = (endpoint(), endpoint(), endpoint(), endpoint());
    let leg = |rtp: &UdpSocket, rtcp: &UdpSocket| LegConfig {
        remote_rtcp: Some(rtcp.local_addr().unwrap()),
        ..LegConfig::new(Some(rtp.local_addr().unwrap()))
    };
    let h = relay.create_session(leg(&a_rtp, &a_rtcp), leg(&b_rtp, &b_rtcp)).unwrap();
    // RR from A: about SSRC 0xb, 10/256 lost, 3 cumulative, jitter 40 units (5 ms at 8 kHz).
    let mut rr = vec![0x81, 201, 0, 7, 0, 0, 0, 0xa, 0, 0, 0, 0xb, 10, 0, 0, 3];
    rr.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0, 0]);
    a_rtcp.send_to(&rr, h.local_rtcp(Leg::A)).unwrap();
    let (p, from) = recv(&b_rtcp);
    assert_eq!((p, from), (rr, h.local_rtcp(Leg::B)));
    let s = settle(&h, |s| s.b.rtcp_packets_out == 1);
    let rep = s.a.peer_report.expect("A's report");
    assert_eq!((rep.fraction_lost, rep.cumulative_lost, rep.jitter), (10, 3, Duration::from_millis(5)));
    assert_eq!((s.a.rtcp_packets_in, s.b.rtcp_packets_out), (1, 1));
}

#[test]
fn latches_behind_nat_drops_injection_and_reopens() {
    let latch = LatchPolicy { window: Duration::from_millis(300), window_packets: 5, learn_ssrc: true };
    let relay = relay(42040..=42059, RelayConfig { latch, ..RelayConfig::default() });
    let (phone, b, injector, moved) = (endpoint(), endpoint(), endpoint(), endpoint());
    let wrong_sdp = SocketAddr::new(LOCAL, 9); // what the NAT'd phone put in its SDP
    let a_cfg = LegConfig { payload_types: vec![0, 101], ..LegConfig::new(Some(wrong_sdp)) };
    let h = relay.create_session(a_cfg, LegConfig::new(Some(b.local_addr().unwrap()))).unwrap();
    let (to_a, to_b) = (h.local_rtp(Leg::A), h.local_rtp(Leg::B));

    phone.send_to(&rtp(8, 0, 0, 7), to_a).unwrap(); // PCMA was not negotiated: cannot latch
    assert!(nothing_arrives(&b));
    for seq in 1..=6u16 {
        phone.send_to(&rtp(0, seq, 0, 7), to_a).unwrap();
        recv(&b);
    }
    b.send_to(&rtp(0, 1, 0, 0xb), to_b).unwrap();
    assert_eq!(recv(&phone).1, to_a, "B's media goes to where the phone really is");

    injector.send_to(&rtp(0, 99, 0, 7), to_a).unwrap(); // window closed after 5 packets
    assert!(nothing_arrives(&b));
    let s = settle(&h, |s| s.a.dropped_foreign == 1);
    assert_eq!((s.a.dropped_bad_pt, s.a.dropped_foreign), (1, 1));
    assert_eq!(s.a.latched_rtp, Some(phone.local_addr().unwrap()));

    h.reopen_latch().unwrap(); // e.g. the phone moved and sent a re-INVITE
    std::thread::sleep(Duration::from_millis(50));
    moved.send_to(&rtp(0, 1, 0, 8), to_a).unwrap();
    recv(&b);
    b.send_to(&rtp(0, 2, 160, 0xb), to_b).unwrap();
    assert_eq!(recv(&moved).1, to_a);
    assert_eq!(h.stats().a.latched_rtp, Some(moved.local_addr().unwrap()));
}

#[test]
fn update_remote_redirects_media() {
    let relay = relay(42060..=42079, RelayConfig::default());
    let (a, b, b2) = (endpoint(), endpoint(), endpoint());
    let h = relay
        .create_session(LegConfig::new(Some(a.local_addr().unwrap())), LegConfig::new(Some(b.local_addr().unwrap())))
        .unwrap();
    a.send_to(&rtp(0, 1, 0, 1), h.local_rtp(Leg::A)).unwrap();
    recv(&b);
    h.update_remote(Leg::B, b2.local_addr().unwrap(), None).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    a.send_to(&rtp(0, 2, 160, 1), h.local_rtp(Leg::A)).unwrap();
    assert_eq!(recv(&b2).0, rtp(0, 2, 160, 1));
}

#[test]
fn inactivity_event_unless_on_hold() {
    let config = RelayConfig { inactivity_timeout: Duration::from_millis(200), ..RelayConfig::default() };
    let relay = relay(42080..=42099, config);
    let events = relay.events().unwrap();
    assert!(relay.events().is_none(), "the stream is taken once");
    let (a, b) = (endpoint(), endpoint());
    let cfg = |s: &UdpSocket| LegConfig::new(Some(s.local_addr().unwrap()));
    let dead = relay.create_session(cfg(&a), cfg(&b)).unwrap();
    let held = relay.create_session(cfg(&a), cfg(&b)).unwrap();
    held.set_hold(true).unwrap();
    let started = Instant::now();
    match events.recv_timeout(Duration::from_secs(3)).unwrap() {
        RelayEvent::Inactive { session, idle } => {
            assert_eq!(session, dead.id());
            assert!(idle >= Duration::from_millis(200));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(
        events.recv_timeout(Duration::from_millis(500)).is_err(),
        "held session stays quiet, dead one reported once"
    );
    assert!(held.stats().on_hold);
}

#[test]
fn session_removal_frees_ports_and_limits_hold() {
    let config = RelayConfig { max_sessions: 1, ..RelayConfig::default() };
    let relay = relay(42100..=42107, config); // 4 pairs: two sessions' worth
    assert_eq!(relay.pool().available(), 4);
    let h = relay.create_session(LegConfig::new(None), LegConfig::new(None)).unwrap();
    assert_eq!(relay.pool().available(), 2);
    let err = relay.create_session(LegConfig::new(None), LegConfig::new(None)).unwrap_err();
    assert!(matches!(err, RelayError::TooManySessions { max: 1 }), "{err}");
    assert_eq!(relay.pool().available(), 2, "a refused session leases nothing");
    let port = h.local_rtp(Leg::A);
    drop(h);
    let until = Instant::now() + Duration::from_secs(2);
    while relay.pool().available() < 4 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(relay.pool().available(), 4);
    assert_eq!(relay.sessions(), 0);
    // The pair may be kept open ("warm") for the next call once it has rested quietly.
    std::thread::sleep(pbx::media::relay::WARM_REST);
    let next = relay.create_session(LegConfig::new(None), LegConfig::new(None)).unwrap();
    assert!([next.local_rtp(Leg::A), next.local_rtp(Leg::B)].contains(&port), "the released pair is used again");
}

/// A released pair stays open, and in its worker's epoll set, for a later call; a pair that
/// something reached while resting (the last call's peer still sending) is closed instead.
#[test]
fn warm_pairs_carry_the_next_call_unless_a_stray_stream_reached_them() {
    let relay = relay(42140..=42171, RelayConfig::default()); // 16 pairs, 4 of them may stay warm
    let cfg = |s: &UdpSocket| LegConfig { payload_types: vec![0], ..LegConfig::new(Some(s.local_addr().unwrap())) };
    let (a, b) = (endpoint(), endpoint());
    let first = relay.create_session(cfg(&a), cfg(&b)).unwrap();
    let (old_a, old_b) = (first.local_rtp(Leg::A), first.local_rtp(Leg::B));
    a.send_to(&rtp(0, 1, 160, 0xa), old_a).unwrap();
    assert_eq!(recv(&b).1, old_b);
    drop(first);
    let until = Instant::now() + Duration::from_secs(2);
    while relay.pool().available() < 16 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    a.send_to(&rtp(0, 2, 320, 0xa), old_a).unwrap(); // its BYE got lost, say
    std::thread::sleep(pbx::media::relay::WARM_REST + Duration::from_millis(50));

    let (c, d) = (endpoint(), endpoint());
    let second = relay.create_session(cfg(&c), cfg(&d)).unwrap();
    let ports = [second.local_rtp(Leg::A), second.local_rtp(Leg::B)];
    assert!(!ports.contains(&old_a), "the pair the stray packet reached is not reused");
    assert!(ports.contains(&old_b), "the quiet pair is");
    for seq in 0..20u16 {
        c.send_to(&rtp(0, seq, u32::from(seq) * 160, 0xc), ports[0]).unwrap();
        assert_eq!(recv(&d), (rtp(0, seq, u32::from(seq) * 160, 0xc), ports[1]), "C->D packet {seq}");
        d.send_to(&rtp(0, seq, u32::from(seq) * 160, 0xd), ports[1]).unwrap();
        assert_eq!(recv(&c), (rtp(0, seq, u32::from(seq) * 160, 0xd), ports[0]), "D->C packet {seq}");
    }
    assert!(nothing_arrives(&a) && nothing_arrives(&b), "nothing of the new call reaches the old peers");
}

/// With kernel forwarding on, a session whose legs have latched is forwarded by nftables:
/// packets arrive exactly as the relay would send them, are counted from the rules, and the
/// rules are gone before the ports can serve another call. Needs root and nft (installed by
/// tests/setup-services.sh).
#[test]
fn latched_sessions_are_forwarded_in_the_kernel() {
    let nft = std::process::Command::new("nft").args(["list", "tables"]).output();
    assert!(nft.is_ok_and(|o| o.status.success()), "this test needs nft and root: run tests/setup-services.sh");
    let latch = LatchPolicy { window: Duration::from_millis(200), window_packets: 10, learn_ssrc: true };
    // The inactivity timeout sets the worker's tick (an eighth of it), when it hands sessions over.
    let config = RelayConfig {
        kernel_forwarding: true,
        latch,
        inactivity_timeout: Duration::from_secs(2),
        ..RelayConfig::default()
    };
    let relay = relay(42200..=42231, config);
    let cfg = |s: &UdpSocket| LegConfig { payload_types: vec![0], ..LegConfig::new(Some(s.local_addr().unwrap())) };
    let (a, b) = (endpoint(), endpoint());
    let h = relay.create_session(cfg(&a), cfg(&b)).unwrap();
    let (to_a, to_b) = (h.local_rtp(Leg::A), h.local_rtp(Leg::B));
    let mut seq = 0u16;
    let mut exchange = || {
        a.send_to(&rtp(0, seq, u32::from(seq) * 160, 0xa), to_a).unwrap();
        assert_eq!(recv(&b), (rtp(0, seq, u32::from(seq) * 160, 0xa), to_b), "A->B packet {seq}");
        b.send_to(&rtp(0, seq, u32::from(seq) * 160, 0xb), to_b).unwrap();
        assert_eq!(recv(&a), (rtp(0, seq, u32::from(seq) * 160, 0xb), to_a), "B->A packet {seq}");
        seq += 1;
        std::thread::sleep(Duration::from_millis(10));
    };
    let until = Instant::now() + Duration::from_secs(10);
    while h.stats().a.rtp_packets_kernel < 20 || h.stats().b.rtp_packets_kernel < 20 {
        assert!(Instant::now() < until, "never forwarded in the kernel: {:?}", h.stats());
        exchange();
    }
    for _ in 0..50 {
        exchange();
    }
    let sent = u64::from(seq);
    let s = settle(&h, |s| s.a.rtp_packets_in == sent && s.b.rtp_packets_in == sent);
    for leg in [&s.a, &s.b] {
        assert_eq!((leg.rtp_packets_in, leg.rtp_bytes_in), (sent, sent * 172), "{s:?}");
        assert_eq!((leg.rtp_packets_out, leg.rtp_bytes_out), (sent, sent * 172), "{s:?}");
        assert!(leg.rtp_packets_kernel >= 70, "{s:?}");
    }

    drop(h);
    let until = Instant::now() + Duration::from_secs(5);
    while relay.pool().available() < 16 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(relay.pool().available(), 16, "the pairs come back once their rules are gone");
    a.send_to(&rtp(0, seq, 0, 0xa), to_a).unwrap();
    assert!(nothing_arrives(&b), "no rule forwards to the old peer any more");
}

#[test]
fn exhausted_pool_is_a_clear_error() {
    let relay = relay(42110..=42113, RelayConfig::default()); // 2 pairs: one session
    let _h = relay.create_session(LegConfig::new(None), LegConfig::new(None)).unwrap();
    let err = relay.create_session(LegConfig::new(None), LegConfig::new(None)).unwrap_err();
    assert!(matches!(err, RelayError::PortsExhausted { .. }), "{err}");
    assert_eq!(relay.sessions(), 1);
}

#[test]
fn no_remote_yet_is_counted_not_sent() {
    let relay = relay(42120..=42139, RelayConfig::default());
    let a = endpoint();
    let h = relay.create_session(LegConfig::new(Some(a.local_addr().unwrap())), LegConfig::new(None)).unwrap();
    a.send_to(&rtp(0, 1, 0, 1), h.local_rtp(Leg::A)).unwrap();
    let s = settle(&h, |s| s.b.dropped_no_remote == 1);
    assert_eq!((s.a.rtp_packets_in, s.b.dropped_no_remote, s.b.rtp_packets_out), (1, 1, 0));
}
