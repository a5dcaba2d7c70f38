//! Two real softphones talk through pbxd: baresip 101 calls baresip 102 of the example tenant,
//! each plays a tone from a WAV file as its microphone (101: 700 Hz, 102: 1300 Hz) and
//! records what it receives (the `sndfile` module). Each recording must be the other side's
//! tone, loud, not silence; the SDP each phone got must name pbxd's relay; and the CDR must
//! show the call answered with RTP counted on both legs. 102 records its calls: pbxd's
//! recording, fetched through the API, must hold 101's tone on the left and 102's on the right.
//! Two more calls do the same with the RTP forwarded in the kernel: between phones on this
//! host, and between phones on two other hosts (network namespaces) routed by pbxd's.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const ACME: &str = "acme.pbx.example.net";
const RATE: u32 = 8_000;

/// An 8 kHz mono 16-bit WAV of a sine at `hz`.
fn write_tone(path: &Path, hz: f64, secs: f64) {
    let samples: Vec<i16> = (0..(secs * f64::from(RATE)) as usize)
        .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(RATE)).sin()) as i16)
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, out).unwrap();
}

/// The samples of a 16-bit mono WAV (its `data` chunk).
fn read_samples(path: &Path) -> Vec<f64> {
    let bytes = std::fs::read(path).unwrap();
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if id == b"data" {
            let end = (at + 8 + len).min(bytes.len());
            return bytes[at + 8..end].chunks_exact(2).map(|c| f64::from(i16::from_le_bytes([c[0], c[1]]))).collect();
        }
        at += 8 + len + (len & 1);
    }
    Vec::new()
}

/// Power of `hz` in `samples` (Goertzel), in dB.
fn power_db(samples: &[f64], hz: f64) -> f64 {
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * hz / f64::from(RATE)).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in samples {
        let s = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    10.0 * (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(1e-9).log10()
}

fn rms(samples: &[f64]) -> f64 {
    (samples.iter().map(|x| x * x).sum::<f64>() / samples.len().max(1) as f64).sqrt()
}

/// What a phone received: its one `*-dec.wav` recording.
fn recording(dir: &Path) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .collect();
    assert_eq!(found.len(), 1, "one recording in {}: {found:?}", dir.display());
    found.into_iter().next().unwrap()
}

/// Two free UDP ports in a row: baresip also binds TLS on its SIP port + 1.
fn free_pair() -> u16 {
    loop {
        let p = common::sipp::free_port();
        if p < 65_000
            && std::net::UdpSocket::bind(("127.0.0.1", p + 1)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok()
        {
            return p;
        }
    }
}

/// 102 starts (answering), registers from `contact`, then 101 dials it; each phone quits
/// after `secs` (102 five later) at the latest.
fn dial_102(pbxd: &Pbxd, alice: &mut Softphone, bob: &mut Softphone, contact: &str, secs: u32) {
    bob.start(secs + 5, &[]);
    wait_for("102 to register", Duration::from_secs(10), || stdout(&pbxd.pbxctl(&["registrations"])).contains(contact));
    alice.start(secs, &[&format!("/dial sip:102@{ACME}")]);
}

fn wait_until_both_hung_up(alice: &Softphone, bob: &Softphone) {
    wait_for("the call to end on both phones", Duration::from_secs(15), || {
        alice.log().contains("terminated") && bob.log().contains("terminated")
    });
}

/// 101 heard 102's 1300 Hz tone and 102 heard 101's 700 Hz, loud, for at least `secs`.
fn assert_each_heard_the_other(alice: &Softphone, bob: &Softphone, secs: f64) {
    let heard_by_alice = read_samples(&recording(&alice.dir.join("rec")));
    let heard_by_bob = read_samples(&recording(&bob.dir.join("rec")));
    for (who, samples, want, other) in [("101", &heard_by_alice, 1300.0, 700.0), ("102", &heard_by_bob, 700.0, 1300.0)]
    {
        let level = rms(samples);
        let margin = power_db(samples, want) - power_db(samples, other);
        let heard = samples.len() as f64 / f64::from(RATE);
        eprintln!("{who} heard {heard:.1} s, RMS {level:.0}, {want} Hz {margin:.1} dB above {other} Hz");
        assert!(heard >= secs, "{who} recorded {heard:.1} s, under {secs} s");
        assert!(level > 1000.0, "{who} heard (near) silence: RMS {level:.0}");
        assert!(margin > 20.0, "{who} did not hear the other phone's {want} Hz tone: {margin:.1} dB");
    }
}

struct Softphone {
    dir: PathBuf,
    port: u16,
    /// The network namespace it runs in, if not the test's.
    netns: Option<String>,
    child: Option<Child>,
}

impl Softphone {
    fn new(root: &Path, ext: &str, tone_hz: f64, tone_secs: f64, rtp: &str, server: std::net::SocketAddr) -> Softphone {
        Softphone::on(root, ext, tone_hz, tone_secs, rtp, server, "127.0.0.1", None)
    }

    /// A phone on address `ip`, inside network namespace `netns` when given.
    #[allow(clippy::too_many_arguments)]
    fn on(
        root: &Path,
        ext: &str,
        tone_hz: f64,
        tone_secs: f64,
        rtp: &str,
        server: std::net::SocketAddr,
        ip: &str,
        netns: Option<&str>,
    ) -> Softphone {
        let dir = root.join(format!("phone-{ext}"));
        std::fs::create_dir_all(dir.join("rec")).unwrap();
        write_tone(&dir.join("in.wav"), tone_hz, tone_secs);
        let port = if netns.is_some() { 5060 } else { free_pair() };
        std::fs::write(
            dir.join("config"),
            format!(
                "poll_method epoll\nsip_listen {ip}:{port}\nnet_interface {ip}\n\
                 audio_source aufile,{in_wav}\naudio_alert none\nrtp_ports {rtp}\nsnd_path {rec}\n\
                 module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\nmodule sndfile.so\n\
                 module_app account.so\nmodule_app menu.so\n",
                in_wav = dir.join("in.wav").display(),
                rec = dir.join("rec").display(),
            ),
        )
        .unwrap();
        let answer = if ext == "102" { ";answermode=auto" } else { "" };
        std::fs::write(
            dir.join("accounts"),
            format!(
                "<sip:{ext}@{ACME}>;auth_pass=demo-{ext};outbound=\"sip:{server};transport=udp\";regint=60;\
                 audio_codecs=PCMU{answer}\n"
            ),
        )
        .unwrap();
        Softphone { dir, port, netns: netns.map(str::to_owned), child: None }
    }

    /// Starts baresip (quitting after `quit_after` s at the latest), running `commands`.
    fn start(&mut self, quit_after: u32, commands: &[&str]) {
        let log = std::fs::File::create(self.dir.join("log")).unwrap();
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "baresip"]);
                c
            }
            None => Command::new("baresip"),
        };
        cmd.args(["-4", "-s", "-t", &quit_after.to_string(), "-f"]).arg(&self.dir);
        for c in commands {
            cmd.args(["-e", c]);
        }
        let child = cmd.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
        self.child = Some(child);
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.dir.join("log")).unwrap_or_default()).into_owned()
    }

    /// SIGTERM, so baresip unregisters, then wait.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Softphone {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn two_baresip_phones_hear_each_other_through_the_relay() {
    if !have_tool("baresip", "-h") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut pbxd = Pbxd::configure(dir.path(), "", "");
    let api = format!("127.0.0.1:{}", common::sipp::free_port());
    let config = std::fs::read_to_string(&pbxd.config).unwrap() + &format!("\n[api]\nlisten = \"{api}\"\n");
    std::fs::write(&pbxd.config, config).unwrap();
    pbxd.spawn();
    let tenants = copy_examples(dir.path());
    let acme = tenants.join("acme.toml");
    let text = std::fs::read_to_string(&acme).unwrap().replacen(
        "number = \"102\"\nname = \"Bob Schulz\"\n",
        "number = \"102\"\nname = \"Bob Schulz\"\nrecord = \"always\"\n",
        1,
    );
    assert!(text.contains("record = \"always\""));
    std::fs::write(&acme, text).unwrap();
    assert!(pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]).status.success());
    let server = pbxd.sip_addr("udp");

    // 101's tone lasts 3 s: when its file ends baresip hangs up, which makes the call 3 s long.
    let mut alice = Softphone::new(dir.path(), "101", 700.0, 3.0, "42000-42499", server);
    let mut bob = Softphone::new(dir.path(), "102", 1300.0, 6.0, "42500-42999", server);
    let bob_contact = format!("@127.0.0.1:{}", bob.port);
    dial_102(&pbxd, &mut alice, &mut bob, &bob_contact, 15);
    wait_until_both_hung_up(&alice, &bob);
    let (alice_log, bob_log) = (alice.log(), bob.log());
    alice.stop();
    bob.stop();

    assert_each_heard_the_other(&alice, &bob, 2.0);

    // The media went through pbxd: each phone saw the relay's address in SDP and got RTP from it.
    let status = stdout(&pbxd.pbxctl(&["status"]));
    assert!(status.contains("Media: 0 relay session(s)"), "{status}");
    for log in [&alice_log, &bob_log] {
        assert!(log.contains("receiving from 127.0.0.1:2"), "RTP did not come from the relay (ports 20000+): {log}");
    }

    wait_for("the CDR", Duration::from_secs(5), || stdout(&pbxd.pbxctl(&["cdr", "-o", "json"])).contains("answered"));
    let cdrs: Vec<serde_json::Value> = serde_json::from_str(&stdout(&pbxd.pbxctl(&["cdr", "-o", "json"]))).unwrap();
    let cdr = &cdrs[0];
    assert_eq!((cdr["caller"].as_str(), cdr["callee"].as_str()), (Some("101"), Some("102")));
    assert_eq!(cdr["disposition"], "answered");
    assert!(cdr["billsec"].as_i64().unwrap() >= 2, "{cdr}");
    for leg in cdr["legs"].as_array().unwrap() {
        let (inbound, outbound) = (leg["packets_in"].as_u64().unwrap(), leg["packets_out"].as_u64().unwrap());
        assert!(inbound > 100 && outbound > 100, "leg {} relayed {inbound} in / {outbound} out: {cdr}", leg["role"]);
    }

    // pbxd's own recording of the call, as a CRM would fetch it (examples: crm-sync's token).
    let cdr_id = cdr["id"].as_str().unwrap();
    let mut listed = serde_json::Value::Null;
    wait_for("the recording", Duration::from_secs(10), || {
        listed = http_get(&api, &format!("/api/v1/recordings?cdr={cdr_id}"), "password").1;
        listed["recordings"].as_array().is_some_and(|r| r.len() == 1)
    });
    let recording = &listed["recordings"][0];
    assert_eq!((recording["caller"].as_str(), recording["callee"].as_str()), (Some("101"), Some("102")));
    let id = recording["id"].as_str().unwrap();
    let (head, wav) = http_get_bytes(&api, &format!("/api/v1/recordings/{id}/audio"), "password");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(wav.len() as i64, recording["bytes"].as_i64().unwrap());
    let (left, right) = stereo_samples(&wav);
    let seconds = left.len() as f64 / f64::from(RATE);
    eprintln!("pbxd recorded {seconds:.1} s: {recording}");
    assert!((2.0..8.0).contains(&seconds), "recorded {seconds:.1} s");
    for (side, samples, want, other) in [("left (101)", &left, 700.0, 1300.0), ("right (102)", &right, 1300.0, 700.0)] {
        let margin = power_db(samples, want) - power_db(samples, other);
        eprintln!("recording {side}: RMS {:.0}, {want} Hz {margin:.1} dB above {other} Hz", rms(samples));
        assert!(rms(samples) > 1000.0, "recording {side} is (near) silence");
        assert!(margin > 20.0, "recording {side} does not hold the {want} Hz tone: {margin:.1} dB");
    }
}

/// The two channels of a 16-bit stereo WAV.
/// The same call with `[media] kernel_forwarding`: once both legs have latched, nftables
/// forwards the RTP (its rule counters must move while the call is up), the phones still hear
/// each other, and the rules are gone when the call is.
#[test]
fn two_baresip_phones_hear_each_other_through_kernel_forwarding() {
    if !have_tool("baresip", "-h") {
        return;
    }
    let nft = Command::new("nft").args(["list", "tables"]).output();
    assert!(nft.is_ok_and(|o| o.status.success()), "this test needs nft and root: run tests/setup-services.sh");
    let dir = tempfile::tempdir().unwrap();
    let mut pbxd = Pbxd::configure(dir.path(), "", "");
    let config = std::fs::read_to_string(&pbxd.config).unwrap() + "\n[media]\nkernel_forwarding = true\n";
    std::fs::write(&pbxd.config, config).unwrap();
    pbxd.spawn();
    let tenants = copy_examples(dir.path());
    assert!(pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]).status.success());
    let server = pbxd.sip_addr("udp");
    let rules = format!("pbx_relay_{}_0", pbxd.pid());
    let forwarded = || kernel_counts(None, &rules);

    let mut alice = Softphone::new(dir.path(), "101", 700.0, 6.0, "43000-43499", server);
    let mut bob = Softphone::new(dir.path(), "102", 1300.0, 9.0, "43500-43999", server);
    let bob_contact = format!("@127.0.0.1:{}", bob.port);
    dial_102(&pbxd, &mut alice, &mut bob, &bob_contact, 20);
    wait_for("the kernel to forward both directions", Duration::from_secs(8), || {
        let counts = forwarded();
        counts.len() == 2 && counts.iter().all(|&n| n >= 50)
    });
    wait_until_both_hung_up(&alice, &bob);
    alice.stop();
    bob.stop();
    assert_each_heard_the_other(&alice, &bob, 4.0);
    wait_for("the rules to go with the call", Duration::from_secs(5), || forwarded().is_empty());

    wait_for("the CDR", Duration::from_secs(5), || stdout(&pbxd.pbxctl(&["cdr", "-o", "json"])).contains("answered"));
    let cdrs: Vec<serde_json::Value> = serde_json::from_str(&stdout(&pbxd.pbxctl(&["cdr", "-o", "json"]))).unwrap();
    for leg in cdrs[0]["legs"].as_array().unwrap() {
        let (inbound, outbound) = (leg["packets_in"].as_u64().unwrap(), leg["packets_out"].as_u64().unwrap());
        assert!(inbound > 250 && outbound > 250, "the kernel's packets count in the CDR too: {}", cdrs[0]);
    }
    pbxd.stop();
    let tables = Command::new("nft").args(["list", "tables"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&tables.stdout).contains(&rules), "pbxd removes its table when it stops");
}

/// The packets each of pbxd's kernel forwarding rules (table `table`) has forwarded, read
/// with nft, inside network namespace `netns` when given.
fn kernel_counts(netns: Option<&str>, table: &str) -> Vec<u64> {
    let list = ["nft", "-j", "list", "set", "ip", table, "legs"];
    let out = match netns {
        Some(ns) => Command::new("ip").args(["netns", "exec", ns]).args(list).output(),
        None => Command::new(list[0]).args(&list[1..]).output(),
    };
    let json: serde_json::Value = serde_json::from_slice(&out.unwrap().stdout).unwrap_or_default();
    let sets = json["nftables"].as_array().into_iter().flatten().filter_map(|i| i.get("set"));
    let elems = sets.flat_map(|s| s["elem"].as_array().cloned().unwrap_or_default());
    elems.filter_map(|e| e["elem"]["counter"]["packets"].as_u64()).collect()
}

/// Three hosts as network namespaces: pbxd's ("p", IPv4 forwarding on) routes between phone
/// 101's (10.201.1.0/24) and phone 102's (10.201.2.0/24). Deleted on drop.
struct Hosts {
    pbx: String,
    alice: String,
    bob: String,
}

impl Hosts {
    fn new() -> Hosts {
        let tag = std::process::id() % 100_000;
        let [pbx, alice, bob] = ["p", "a", "b"].map(|n| format!("pbxk{n}{tag}"));
        let hosts = Hosts { pbx, alice, bob };
        let (p, a, b) = (&hosts.pbx, &hosts.alice, &hosts.bob);
        let script = format!(
            "set -e
            ip netns add {p}; ip netns add {a}; ip netns add {b}
            ip link add va{tag} netns {a} type veth peer name pa{tag} netns {p}
            ip link add vb{tag} netns {b} type veth peer name pb{tag} netns {p}
            ip -n {p} addr add 10.201.1.1/24 dev pa{tag}; ip -n {p} addr add 10.201.2.1/24 dev pb{tag}
            ip -n {a} addr add 10.201.1.2/24 dev va{tag}; ip -n {b} addr add 10.201.2.2/24 dev vb{tag}
            for n in {p} {a} {b}; do ip -n $n link set lo up; done
            ip -n {p} link set pa{tag} up; ip -n {p} link set pb{tag} up
            ip -n {a} link set va{tag} up; ip -n {b} link set vb{tag} up
            ip -n {a} route add default via 10.201.1.1; ip -n {b} route add default via 10.201.2.1
            ip netns exec {p} sysctl -qw net.ipv4.ip_forward=1"
        );
        let out = Command::new("sh").args(["-c", &script]).output().unwrap();
        assert!(
            out.status.success(),
            "network namespaces (root and iproute2 needed): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        hosts
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in [&self.pbx, &self.alice, &self.bob] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Kernel forwarding between phones on other hosts: the forwarded path (routing, then the
/// source rewritten in postrouting) rather than local delivery. pbxd, and each phone, run in
/// their own network namespace.
#[test]
fn phones_on_other_hosts_hear_each_other_through_kernel_forwarding() {
    if !have_tool("baresip", "-h") {
        return;
    }
    let hosts = Hosts::new();
    let dir = tempfile::tempdir().unwrap();
    let mut pbxd = Pbxd::configure(dir.path(), "", "");
    let config = std::fs::read_to_string(&pbxd.config)
        .unwrap()
        .replace("listen = [\"udp:127.0.0.1:0\", \"tcp:127.0.0.1:0\"]", "listen = [\"udp:10.201.1.1:5060\"]")
        + "\n[media]\naddress = \"10.201.1.1\"\nkernel_forwarding = true\n";
    assert!(config.contains("udp:10.201.1.1:5060"));
    std::fs::write(&pbxd.config, config).unwrap();
    pbxd.spawn_in(Some(&hosts.pbx));
    let tenants = copy_examples(dir.path());
    assert!(pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]).status.success());
    let server: std::net::SocketAddr = "10.201.1.1:5060".parse().unwrap();
    let rules = format!("pbx_relay_{}_0", pbxd.pid());
    let forwarded = || kernel_counts(Some(&hosts.pbx), &rules);

    let (alice_ns, bob_ns) = (Some(hosts.alice.as_str()), Some(hosts.bob.as_str()));
    let mut alice = Softphone::on(dir.path(), "101", 700.0, 6.0, "44000-44499", server, "10.201.1.2", alice_ns);
    let mut bob = Softphone::on(dir.path(), "102", 1300.0, 9.0, "44500-44999", server, "10.201.2.2", bob_ns);
    dial_102(&pbxd, &mut alice, &mut bob, "@10.201.2.2:5060", 20);
    wait_for("the kernel to forward both directions between the hosts", Duration::from_secs(8), || {
        let counts = forwarded();
        counts.len() == 2 && counts.iter().all(|&n| n >= 50)
    });
    wait_until_both_hung_up(&alice, &bob);
    let (alice_log, bob_log) = (alice.log(), bob.log());
    alice.stop();
    bob.stop();
    assert_each_heard_the_other(&alice, &bob, 4.0);
    for log in [&alice_log, &bob_log] {
        assert!(log.contains("receiving from 10.201.1.1:2"), "RTP did not come from pbxd's address: {log}");
    }
    wait_for("the rules to go with the call", Duration::from_secs(5), || forwarded().is_empty());
    pbxd.stop();
}

fn stereo_samples(wav: &[u8]) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 2, "stereo");
    let frames = wav[44..].chunks_exact(4);
    frames.map(|f| (f64::from(i16::from_le_bytes([f[0], f[1]])), f64::from(i16::from_le_bytes([f[2], f[3]])))).unzip()
}

/// GET with a bearer token: the head and the raw body.
fn http_get_bytes(addr: &str, path: &str, token: &str) -> (String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: pbx\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (String::from_utf8_lossy(&raw[..split]).into_owned(), raw[split + 4..].to_vec())
}

/// GET a JSON document: status line and value.
fn http_get(addr: &str, path: &str, token: &str) -> (String, serde_json::Value) {
    let (head, body) = http_get_bytes(addr, path, token);
    (head, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
}
