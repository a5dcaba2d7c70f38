//! The SIP core end to end: SIPp registers through digest auth, bans, tenant isolation, the
//! answers a server owes, RFC 4475 messages over the wire, and a TCP garbage flood.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::torture::{CASES, Verdict, load};
use common::*;

/// Runs a SIPp scenario from tests/sipp against `server`, `calls` times, from `local_ip`;
/// `users` are (extension, password, domain).
fn sipp(
    dir: &Path,
    scenario: &str,
    users: &[(&str, &str, &str)],
    local_ip: &str,
    server: SocketAddr,
    calls: usize,
) -> Output {
    let rows: Vec<String> = users.iter().map(|(u, p, d)| format!("{u};{p};{d}")).collect();
    sipp::run(dir, scenario, &rows, local_ip, server, calls)
}

fn started(dir: &Path, sip_extra: &str) -> Pbxd {
    let pbxd = Pbxd::start_with(dir, "", sip_extra);
    let tenants = copy_examples(dir);
    let apply = pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    pbxd
}

fn registrations(pbxd: &Pbxd) -> serde_json::Value {
    serde_json::from_str(&stdout(&pbxd.pbxctl(&["registrations", "-o", "json"]))).unwrap()
}

const ACME: &str = "acme.pbx.example.net";

#[test]
fn sipp_registers_through_digest_and_registrations_survive_a_restart() {
    if !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut pbxd = started(dir.path(), "");
    let udp = pbxd.sip_addr("udp");
    let users = [("101", "demo-101", ACME), ("102", "demo-102", ACME), ("103", "demo-103", ACME)];
    let run = sipp(dir.path(), "register.xml", &users, "127.0.0.1", udp, 3);
    assert!(run.status.success(), "SIPp: {}\n{}", stdout(&run), stderr(&run));

    let regs = registrations(&pbxd);
    let aors: Vec<&str> = regs.as_array().unwrap().iter().map(|r| r["aor"].as_str().unwrap()).collect();
    assert_eq!(aors, ["101@acme.pbx.example.net", "102@acme.pbx.example.net", "103@acme.pbx.example.net"]);
    assert_eq!(regs[0]["transport"], "UDP");
    assert!(regs[0]["source"].as_str().unwrap().starts_with("127.0.0.1:"));
    let table = stdout(&pbxd.pbxctl(&["registrations", "--tenant", "acme"]));
    assert!(table.starts_with("TENANT  AOR") && table.contains("sipp-register"), "{table}");

    // Persisted in batches: after one batch interval, even SIGKILL loses nothing.
    std::thread::sleep(Duration::from_millis(1500));
    pbxd.kill();
    pbxd.spawn();
    assert_eq!(registrations(&pbxd).as_array().unwrap().len(), 3, "registrations come back after a restart");

    // Contact: * with Expires: 0 removes every contact of 102, and only those.
    let udp = pbxd.sip_addr("udp");
    let gone = sipp(dir.path(), "unregister.xml", &[("102", "demo-102", ACME)], "127.0.0.1", udp, 1);
    assert!(gone.status.success(), "SIPp: {}", stdout(&gone));
    let left = registrations(&pbxd);
    let aors: Vec<&str> = left.as_array().unwrap().iter().map(|r| r["aor"].as_str().unwrap()).collect();
    assert_eq!(aors, ["101@acme.pbx.example.net", "103@acme.pbx.example.net"]);
}

#[test]
fn ten_wrong_passwords_ban_the_source_but_the_user_still_registers_elsewhere() {
    if !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pbxd = started(dir.path(), "[sip.security]\nmax_auth_failures = 10\nban_time = \"4s\"\n");
    let udp = pbxd.sip_addr("udp");
    let wrong = sipp(dir.path(), "register_wrong.xml", &[("101", "guess", ACME)], "127.0.0.1", udp, 10);
    assert!(wrong.status.success(), "ten wrong passwords each get a 401: {}", stdout(&wrong));

    let right = [("101", "demo-101", ACME)];
    let banned = sipp(dir.path(), "register.xml", &right, "127.0.0.1", udp, 1);
    assert!(!banned.status.success(), "the banned source gets no answer, even with the right password");
    assert!(registrations(&pbxd).as_array().unwrap().is_empty());

    let elsewhere = sipp(dir.path(), "register.xml", &right, "127.0.0.2", udp, 1);
    assert!(elsewhere.status.success(), "the right user from another address registers: {}", stdout(&elsewhere));

    std::thread::sleep(Duration::from_secs(4));
    let after_ban = sipp(dir.path(), "register.xml", &right, "127.0.0.1", udp, 1);
    assert!(after_ban.status.success(), "the ban ends after ban_time: {}", stdout(&after_ban));
}

#[test]
fn an_extension_cannot_register_in_another_tenants_domain() {
    if !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pbxd = started(dir.path(), "");
    let udp = pbxd.sip_addr("udp");
    // acme's 101 with its own right password, in globex's domain: globex has no 101.
    let cross =
        sipp(dir.path(), "register_wrong.xml", &[("101", "demo-101", "globex.pbx.example.net")], "127.0.0.1", udp, 1);
    assert!(cross.status.success(), "refused with a 401 like any wrong password: {}", stdout(&cross));
    // globex's 21 with acme's realm gets the same answer as a wrong password.
    let cross = sipp(dir.path(), "register_wrong.xml", &[("21", "demo-21", ACME)], "127.0.0.1", udp, 1);
    assert!(cross.status.success(), "{}", stdout(&cross));
    assert!(registrations(&pbxd).as_array().unwrap().is_empty());
}

/// Sends one datagram and returns the status line of the answer, if any came.
fn exchange(socket: &UdpSocket, server: SocketAddr, message: &[u8]) -> Option<String> {
    socket.send_to(message, server).unwrap();
    let mut buf = [0u8; 65_536];
    let deadline = Instant::now() + Duration::from_millis(400);
    loop {
        socket
            .set_read_timeout(Some(deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))))
            .unwrap();
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let status = text.lines().next().unwrap_or_default().to_owned();
                if !status.starts_with("SIP/2.0 100") {
                    return Some(text);
                }
            }
            Err(_) => return None,
        }
    }
}

fn status_of(answer: &Option<String>) -> Option<u16> {
    answer.as_ref().and_then(|a| a.split(' ').nth(1)).and_then(|s| s.parse().ok())
}

const OPTIONS: &str = "OPTIONS sip:acme.pbx.example.net SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-{b};rport\r\nMax-Forwards: {mf}\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:acme.pbx.example.net>\r\nCall-ID: {b}@probe\r\nCSeq: 1 {m}\r\n{extra}Content-Length: 0\r\n\r\n";

fn request(branch: &str, method: &str, max_forwards: u8, extra: &str) -> Vec<u8> {
    OPTIONS
        .replace("{b}", branch)
        .replace("{m}", method)
        .replace("{mf}", &max_forwards.to_string())
        .replace("{extra}", extra)
        .replacen("OPTIONS", method, 1)
        .into_bytes()
}

#[test]
fn the_answers_a_server_owes() {
    let dir = tempfile::tempdir().unwrap();
    let pbxd = started(dir.path(), "");
    let udp = pbxd.sip_addr("udp");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();

    let options = exchange(&socket, udp, &request("o1", "OPTIONS", 70, "")).expect("OPTIONS answered");
    assert!(options.starts_with("SIP/2.0 200 OK\r\n"), "{options}");
    for header in [
        "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, REGISTER",
        "Accept: application/sdp",
        "Supported:",
        "Server: pbx/",
    ] {
        assert!(options.contains(header), "OPTIONS 200 lacks {header}: {options}");
    }
    assert!(options.contains(";received=127.0.0.1;rport="), "rport is filled in (RFC 3581): {options}");
    let publish = exchange(&socket, udp, &request("o2", "PUBLISH", 70, ""));
    assert_eq!(status_of(&publish), Some(405));
    assert!(publish.unwrap().contains("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, REGISTER"));
    assert_eq!(
        status_of(&exchange(&socket, udp, &request("o3", "FOOBAR", 70, ""))),
        Some(405),
        "an unknown method gets 405"
    );
    assert_eq!(status_of(&exchange(&socket, udp, &request("o4", "MESSAGE", 0, ""))), Some(483), "Max-Forwards 0");
    let ext = exchange(&socket, udp, &request("o5", "OPTIONS", 70, "Require: 100rel, foo\r\n"));
    assert_eq!(status_of(&ext), Some(420));
    assert!(ext.unwrap().contains("Unsupported: 100rel, foo"));
    let missing = b"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-m\r\nCSeq: 1 OPTIONS\r\n\r\n";
    assert_eq!(status_of(&exchange(&socket, udp, missing)), Some(400), "missing mandatory headers");
    let looped = String::from_utf8(request("o6", "MESSAGE", 70, "")).unwrap().replacen(
        "Via: ",
        &format!("Via: SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bKpbx-own\r\nVia: ", udp.port()),
        1,
    );
    assert_eq!(status_of(&exchange(&socket, udp, looped.as_bytes())), Some(482), "a request carrying our own Via");
    let mut huge = request("o7", "OPTIONS", 70, &format!("X-Padding: {}\r\n", "a".repeat(66_000)));
    huge.truncate(65_000);
    assert_eq!(status_of(&exchange(&socket, udp, &huge)), Some(400));
    let keepalive = exchange(&socket, udp, b"\r\n\r\n");
    assert_eq!(keepalive.as_deref(), Some("\r\n"), "a CRLF keep-alive gets a CRLF");
}

#[test]
fn rfc4475_torture_messages_over_udp_and_pbxd_still_serves() {
    let dir = tempfile::tempdir().unwrap();
    let pbxd = started(dir.path(), "");
    let udp = pbxd.sip_addr("udp");
    let mut branches = std::collections::HashSet::new();
    for case in &CASES {
        let text = String::from_utf8_lossy(&load(case.file)).into_owned();
        let branch =
            text.split("branch=").nth(1).map(|b| b.split([';', '\r', ' ', ',']).next().unwrap_or_default().to_owned());
        // Some files reuse another's branch: to the transaction layer they are retransmissions.
        let retransmission = branch.is_some_and(|b| !branches.insert(b));
        // A socket per message: INVITE answers are retransmitted until an ACK that never
        // comes, and must not be mistaken for the next message's answer.
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let answer = exchange(&socket, udp, &load(case.file));
        let status = status_of(&answer);
        match case.verdict {
            Verdict::Reject(expected) => {
                assert_eq!(status, Some(expected), "{} ({}): {}", case.file, case.section, case.why)
            }
            Verdict::Drop => assert_eq!(status, None, "{}: a response to nothing is dropped", case.file),
            Verdict::Accept => {
                // Processed: a request gets a real answer (never 400), a stray response none.
                let is_request = !load(case.file).starts_with(b"SIP/");
                if is_request && !retransmission {
                    let status = status.unwrap_or_else(|| panic!("{}: no answer", case.file));
                    assert!(status != 400 && status != 500, "{} ({}) got {status}", case.file, case.section);
                    if case.file == "bext01" {
                        assert_eq!(status, 420);
                    }
                }
            }
        }
    }
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let alive = exchange(&socket, udp, &request("alive", "OPTIONS", 70, ""));
    assert_eq!(status_of(&alive), Some(200), "pbxd still serves after the torture messages");
}

#[test]
fn a_thousand_tcp_connections_of_garbage_cost_bounded_memory() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let pbxd = started(dir.path(), "[sip.tcp]\nmax_connections_per_source = 16\nidle_timeout = \"2s\"\n");
    let tcp = pbxd.sip_addr("tcp");
    let udp = pbxd.sip_addr("udp");
    let pid = pbxd.pid();
    let before = rss_kib(pid);
    let garbage: Vec<u8> = (0..16_384u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let mut connections = Vec::new();
    for i in 0..1000u32 {
        // Spread over 63 loopback addresses, so the per-source limit is not all that helps.
        let local = std::net::SocketAddr::from(([127, 0, 0, 2 + (i % 63) as u8], 0));
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.bind(&local.into()).unwrap();
        if socket.connect_timeout(&tcp.into(), Duration::from_secs(1)).is_err() {
            continue;
        }
        let mut stream: std::net::TcpStream = socket.into();
        let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
        let _ = stream.write_all(&garbage);
        let _ = stream.write_all(b"INVITE sip:x SIP/2.0\r\nContent-Length: 99999999\r\n\r\n");
        connections.push(stream);
    }
    std::thread::sleep(Duration::from_millis(500));
    let during = rss_kib(pid);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert_eq!(status_of(&exchange(&socket, udp, &request("flood", "OPTIONS", 70, ""))), Some(200), "still serving");
    drop(connections);
    eprintln!("RSS before {before} KiB, during 1000 garbage connections {during} KiB");
    assert!(during < before + 64 * 1024, "memory grew from {before} to {during} KiB");
}

fn md5_hex(text: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A phone behind NAT: registers with a private Contact, answers the first keep-alive
/// OPTIONS, then goes silent and is dropped after unanswered pings.
#[test]
fn phones_behind_nat_get_keepalive_pings_and_silent_ones_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "t1 = \"50ms\"\n[sip.registration]\nkeepalive_interval = \"1s\"\n";
    let pbxd = started(dir.path(), extra);
    let udp = pbxd.sip_addr("udp");
    let phone = UdpSocket::bind("127.0.0.1:0").unwrap();
    let register = |cseq: u32, auth: &str| {
        format!(
            "REGISTER sip:{ACME} SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-nat{cseq};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:101@{ACME}>;tag=nat\r\nTo: <sip:101@{ACME}>\r\nCall-ID: nat-phone\r\n\
             CSeq: {cseq} REGISTER\r\nContact: <sip:101@192.168.1.20:5060>\r\nExpires: 600\r\n{auth}Content-Length: 0\r\n\r\n"
        )
    };
    let challenge = exchange(&phone, udp, register(1, "").as_bytes()).expect("401");
    let nonce = challenge.split("nonce=\"").nth(1).and_then(|n| n.split('"').next()).expect("a nonce");
    let ha1 = md5_hex(&format!("101:{ACME}:demo-101"));
    let ha2 = md5_hex(&format!("REGISTER:sip:{ACME}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}"));
    let auth = format!(
        "Authorization: Digest username=\"101\", realm=\"{ACME}\", nonce=\"{nonce}\", uri=\"sip:{ACME}\", \
         response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\"\r\n"
    );
    let ok = exchange(&phone, udp, register(2, &auth).as_bytes()).expect("200");
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert_eq!(registrations(&pbxd)[0]["behind_nat"], true);

    // The first ping arrives within the interval (plus its spread) at the NAT's public side.
    phone.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
    let mut buf = [0u8; 4096];
    let (n, from) = phone.recv_from(&mut buf).expect("a keep-alive OPTIONS");
    let ping = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(ping.starts_with("OPTIONS sip:101@192.168.1.20:5060 SIP/2.0\r\n"), "{ping}");
    assert_eq!(from, udp);
    let copy = |name: &str| ping.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_owned();
    let answer = format!(
        "SIP/2.0 200 OK\r\n{}\r\n{}\r\n{};tag=phone\r\n{}\r\n{}\r\nContent-Length: 0\r\n\r\n",
        copy("Via:"),
        copy("From:"),
        copy("To:"),
        copy("Call-ID:"),
        copy("CSeq:")
    );
    phone.send_to(answer.as_bytes(), udp).unwrap();

    // Silence from now on: after three unanswered pings the binding goes.
    let deadline = Instant::now() + Duration::from_secs(25);
    while !registrations(&pbxd).as_array().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "a silent phone behind NAT is never dropped");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// OPTIONS and a first REGISTER over TLS, with openssl s_client as the peer.
#[test]
fn sip_over_tls_with_openssl_as_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    if !made.is_ok_and(|o| o.status.success()) {
        assert!(std::env::var("PBX_TEST_REQUIRE_TOOLS").as_deref() != Ok("1"), "openssl is not installed");
        return;
    }
    let extra = format!("[sip.tls]\ncertificate = \"{}\"\nkey = \"{}\"\n", cert.display(), key.display());
    let mut pbxd = Pbxd::configure(dir.path(), "", &extra);
    let config = std::fs::read_to_string(&pbxd.config).unwrap().replace(
        "listen = [\"udp:127.0.0.1:0\", \"tcp:127.0.0.1:0\"]",
        "listen = [\"udp:127.0.0.1:0\", \"tls:127.0.0.1:0\"]",
    );
    std::fs::write(&pbxd.config, config).unwrap();
    pbxd.spawn();
    let tenants = copy_examples(dir.path());
    assert!(pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]).status.success());
    let tls = pbxd.sip_addr("tls");

    let exchange_tls = |message: String| -> String {
        use std::io::{Read, Write};
        let mut client = Command::new("openssl")
            .args(["s_client", "-quiet", "-connect", &tls.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        client.stdin.as_mut().unwrap().write_all(message.as_bytes()).unwrap();
        let mut stdout = client.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                if got.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            String::from_utf8_lossy(&got).into_owned()
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while !reader.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = client.kill();
        let _ = client.wait();
        reader.join().unwrap()
    };
    let options = String::from_utf8(request("tls1", "OPTIONS", 70, "")).unwrap().replace("SIP/2.0/UDP", "SIP/2.0/TLS");
    let answer = exchange_tls(options);
    assert!(answer.starts_with("SIP/2.0 200 OK\r\n"), "OPTIONS over TLS: {answer:?}");
    let register = format!(
        "REGISTER sip:{ACME} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK-tls2\r\nMax-Forwards: 70\r\n\
         From: <sip:101@{ACME}>;tag=t\r\nTo: <sip:101@{ACME}>\r\nCall-ID: tls2\r\nCSeq: 1 REGISTER\r\n\
         Contact: <sip:101@127.0.0.1:5061;transport=tls>\r\nContent-Length: 0\r\n\r\n"
    );
    let answer = exchange_tls(register);
    assert!(
        answer.starts_with("SIP/2.0 401 Unauthorized\r\n") && answer.contains("WWW-Authenticate: Digest"),
        "{answer:?}"
    );
}

fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 8760: with SHA-256 offered first, a client that speaks it registers with it.
#[test]
fn sha256_digest_registers_when_offered() {
    let dir = tempfile::tempdir().unwrap();
    let pbxd = started(dir.path(), "[sip.registration]\ndigest_algorithms = [\"SHA-256\", \"MD5\"]\n");
    let udp = pbxd.sip_addr("udp");
    let phone = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = phone.local_addr().unwrap().port();
    let register = |cseq: u32, auth: &str| {
        format!(
            "REGISTER sip:{ACME} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-sha{cseq};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:103@{ACME}>;tag=s\r\nTo: <sip:103@{ACME}>\r\nCall-ID: sha-phone\r\n\
             CSeq: {cseq} REGISTER\r\nContact: <sip:103@127.0.0.1:{port}>\r\n{auth}Content-Length: 0\r\n\r\n"
        )
    };
    let challenge = exchange(&phone, udp, register(1, "").as_bytes()).expect("401");
    let first = challenge.lines().find(|l| l.starts_with("WWW-Authenticate:")).unwrap();
    assert!(first.contains("algorithm=SHA-256"), "SHA-256 offered first: {challenge}");
    let nonce = first.split("nonce=\"").nth(1).and_then(|n| n.split('"').next()).unwrap();
    let ha1 = sha256_hex(&format!("103:{ACME}:demo-103"));
    let ha2 = sha256_hex(&format!("REGISTER:sip:{ACME}"));
    let response = sha256_hex(&format!("{ha1}:{nonce}:00000001:5eed:auth:{ha2}"));
    let auth = format!(
        "Authorization: Digest username=\"103\", realm=\"{ACME}\", nonce=\"{nonce}\", uri=\"sip:{ACME}\", \
         response=\"{response}\", algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"5eed\"\r\n"
    );
    let ok = exchange(&phone, udp, register(2, &auth).as_bytes()).expect("200");
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    // A retransmission (the 200 was lost) gets the same answer, not a 401 for a replay.
    let again = exchange(&phone, udp, register(2, &auth).as_bytes()).expect("200 again");
    assert_eq!(again, ok, "a retransmission gets the same bytes");
    // The same response again in a new request is a replay (nonce count not above the last).
    let replay = exchange(&phone, udp, register(3, &auth).as_bytes()).expect("401");
    assert!(replay.starts_with("SIP/2.0 401"), "a replayed nonce count is refused: {replay}");
}

/// baresip, a real softphone, registers to an example tenant and shows in `pbxctl registrations`.
#[test]
fn baresip_registers() {
    if Command::new("baresip").arg("-h").output().is_err() {
        assert!(std::env::var("PBX_TEST_REQUIRE_TOOLS").as_deref() != Ok("1"), "baresip is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pbxd = started(dir.path(), "");
    let udp = pbxd.sip_addr("udp");
    let phone = dir.path().join("baresip");
    std::fs::create_dir_all(&phone).unwrap();
    std::fs::write(
        phone.join("config"),
        format!(
            "sip_listen 127.0.0.1:{}\nmodule_path /usr/lib/baresip/modules\nmodule g711.so\nmodule_app account.so\n",
            sipp::free_port()
        ),
    )
    .unwrap();
    std::fs::write(
        phone.join("accounts"),
        format!("<sip:104@{ACME}>;auth_pass=demo-104;outbound=\"sip:{udp};transport=udp\";regint=600\n"),
    )
    .unwrap();
    let mut baresip = Command::new("baresip")
        .args(["-4", "-t", "20", "-f"])
        .arg(&phone)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let registered = loop {
        let regs = registrations(&pbxd);
        if let Some(r) = regs.as_array().unwrap().iter().find(|r| r["aor"] == format!("104@{ACME}")) {
            break r.clone();
        }
        if Instant::now() > deadline {
            let _ = baresip.kill();
            panic!("baresip did not register");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = baresip.kill();
    let _ = baresip.wait();
    assert!(registered["user_agent"].as_str().unwrap().starts_with("baresip"), "{registered}");
    assert_eq!(registered["transport"], "UDP");
}
