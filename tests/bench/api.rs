//! Reporting API benchmark against a real pbxd (release build), SIPp and SQLite:
//!
//! 1. a filtered CDR page (tenant, disposition, extension; then four more pages by cursor)
//!    over `--cdrs` CDRs (default 1,000,000) in SQLite: latency p50 / p99 / max;
//! 2. `GET /api/v1/calls` (tenant admin) with `--calls` live calls (default 1,000, SIPp):
//!    requests/s over `--conns` keep-alive connections for `--secs`, and pbxd CPU per request;
//! 3. `/api/v1/events` fanned out to `--subscribers` SSE clients (default 50) while the held
//!    calls end at the rate they were made (`--events` per second, default 200): every
//!    subscriber must receive every `call_ended`.
//!
//! `cargo bench --bench api -- [--cdrs N] [--calls N] [--conns N] [--secs N] [--subscribers N] [--events N]`
//! Needs sipp. Loopback only.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pbx::store::{Cdr, Store};
use sha2::{Digest, Sha256};

const OPERATOR: &str = "bench-operator-token";
const ACME_ADMIN: &str = "password"; // examples/tenants/acme.toml: crm-sync
const TICK_HZ: f64 = 100.0;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().expect("a number"))
    };
    let (cdrs, calls, conns, secs, subscribers, events) = (
        num("--cdrs", 1_000_000),
        num("--calls", 1_000),
        num("--conns", 16),
        num("--secs", 5),
        num("--subscribers", 50),
        num("--events", 200),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    eprintln!("inserting {cdrs} CDRs into SQLite …");
    let started = Instant::now();
    runtime.block_on(fill(dir.path(), cdrs));
    eprintln!("  {:.1} s", started.elapsed().as_secs_f64());
    let mut pbxd = Pbxd::start(dir.path());
    let api = pbxd.api.clone();

    // 1. CDR pages.
    let latencies = cdr_pages(&api, 100);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
    println!("| benchmark | result |\n|---|---|");
    println!(
        "| filtered CDR page (50 rows, 5 pages by cursor) over {cdrs} CDRs, SQLite | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} requests) |",
        ms(pct(0.5)),
        ms(pct(0.99)),
        ms(*latencies.last().unwrap()),
        latencies.len()
    );

    // 2. /api/v1/calls with live calls.
    let server = pbxd.sip.clone();
    let phone = sipp_phone(dir.path(), &server, calls);
    let caller =
        sipp(dir.path(), "uac_hold.xml", &server, &["-inf", &inf(dir.path(), "101;demo-101;acme.pbx.example.net;102")])
            .args([
                "-m",
                &calls.to_string(),
                "-r",
                &events.to_string(),
                "-l",
                &(calls * 2).to_string(),
                "-timeout",
                "150s",
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
    let live = wait_for_calls(&api, calls as usize);
    let cpu0 = pbxd.cpu_secs();
    let (requests, bytes) = hammer(&api, conns as usize, Duration::from_secs(secs));
    let cpu = pbxd.cpu_secs() - cpu0;
    println!(
        "| GET /api/v1/calls (tenant admin, {live} live calls, {} kB per answer), {conns} connections, {secs} s | {:.0} requests/s, pbxd {:.1} µs CPU per request |",
        bytes / requests.max(1) / 1024,
        requests as f64 / secs as f64,
        cpu * 1e6 / requests.max(1) as f64
    );

    // 3. Event fan-out: the held calls end at the rate they started (`--events` per second).
    let mut caller = caller;
    let (sent, received, lagged) = fan_out(&api, subscribers as usize, &mut caller, live as u64);
    let complete = received.iter().filter(|&&n| n == sent).count();
    println!(
        "| /api/v1/events to {subscribers} subscribers, call_ended at {events}/s | {sent} events; {complete}/{subscribers} subscribers got all of them (min {}, max {}), {lagged} lag notices |",
        received.iter().min().unwrap_or(&0),
        received.iter().max().unwrap_or(&0)
    );
    kill(caller);
    kill(phone);
    pbxd.stop();
}

/// `n` generated CDRs of acme (90 %) and globex, one a second back from now.
async fn fill(dir: &Path, n: u64) {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("data/pbx.db").display());
    let store = Store::open(&url).await.unwrap();
    let now = jiff::Timestamp::now().as_millisecond();
    let pick = |i: u64, options: &[&str]| options[(i % options.len() as u64) as usize].to_owned();
    let mut batch = Vec::with_capacity(5000);
    for i in 0..n {
        let start = now - (n - i) as i64 * 1000;
        batch.push(Cdr {
            id: format!("b{i:09}"),
            tenant: if i % 10 == 0 { "globex".into() } else { "acme".into() },
            call_id: format!("{i}@bench"),
            direction: pick(i, &["internal", "inbound", "outbound"]),
            caller: format!("1{:02}", i % 19 + 1),
            callee: format!("1{:02}", (i / 19) % 19 + 1),
            start_ms: start,
            answer_ms: start + 3000,
            end_ms: start + 60_000,
            billsec: 57,
            disposition: pick(i, &["answered", "answered", "busy", "no_answer", "cancelled"]),
            hangup_cause: "BYE".into(),
            hangup_side: "caller".into(),
            codec: "PCMA".into(),
            legs: Vec::new(),
            did: String::new(),
            queue: String::new(),
        });
        if batch.len() == 5000 {
            store.insert_cdrs(&batch).await.unwrap();
            batch.clear();
        }
    }
    store.insert_cdrs(&batch).await.unwrap();
    store.close().await;
}

struct Pbxd {
    child: Option<Child>,
    api: String,
    sip: String,
}

impl Pbxd {
    fn start(dir: &Path) -> Pbxd {
        let api = format!("127.0.0.1:{}", free_port());
        let sip = format!("127.0.0.1:{}", free_port());
        let token: String = Sha256::digest(OPERATOR.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let config = dir.join("pbxd.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{data}\"\nlog_level = \"warn\"\n[admin]\nsocket = \"{data}/admin.sock\"\n\
                 [sip]\nlisten = [\"udp:{sip}\"]\n[sip.security]\nrequests_per_second = 1000000\nburst = 1000000\n\
                 [media]\nport_min = 30000\nport_max = 39999\n\
                 [api]\nlisten = \"{api}\"\noperator_token_sha256 = \"{token}\"\nrequests_per_second = 1000000\nburst = 1000000\n",
                data = dir.join("data").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("pbxd.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_pbxd"))
            .arg("--config")
            .arg(&config)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let socket = dir.join("data/admin.sock");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(Instant::now() < deadline, "pbxd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        // The example tenants, with room for the load.
        let tenants = dir.join("tenants");
        std::fs::create_dir_all(tenants.join("sounds")).unwrap();
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tenants");
        for entry in std::fs::read_dir(&examples).unwrap().chain(std::fs::read_dir(examples.join("sounds")).unwrap()) {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, tenants.join(path.strip_prefix(&examples).unwrap())).unwrap();
            }
        }
        let acme = tenants.join("acme.toml");
        let text = std::fs::read_to_string(&acme).unwrap().replace(
            "limits = { max_calls = 30, calls_per_second = 5, recording_quota_mb = 4096 }",
            "limits = { max_calls = 10000, calls_per_second = 10000, calls_per_extension = 10000, recording_quota_mb = 4096 }",
        );
        std::fs::write(&acme, text).unwrap();
        let apply = Command::new(env!("CARGO_BIN_EXE_pbxctl"))
            .args(["--server", &format!("unix:{}", socket.display()), "apply", "--yes"])
            .arg(&tenants)
            .output()
            .unwrap();
        assert!(apply.status.success(), "{}", String::from_utf8_lossy(&apply.stderr));
        Pbxd { child: Some(child), api, sip }
    }

    fn cpu_secs(&self) -> f64 {
        let pid = self.child.as_ref().unwrap().id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
        (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / TICK_HZ
    }

    fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            kill(child);
        }
    }
}

impl Drop for Pbxd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn kill(mut child: Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn inf(dir: &Path, row: &str) -> String {
    let path = dir.join(format!("inf-{}.csv", free_port()));
    std::fs::write(&path, format!("SEQUENTIAL\n{row}\n")).unwrap();
    path.to_string_lossy().into_owned()
}

fn scenario(name: &str) -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bench = here.join("tests/bench/api").join(name);
    if bench.exists() { bench } else { here.join("tests/sipp").join(name) }
}

fn sipp(dir: &Path, name: &str, server: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new("sipp");
    cmd.current_dir(dir)
        .arg("-sf")
        .arg(scenario(name))
        .args(["-i", "127.0.0.1", "-p", &free_port().to_string(), "-mp", &(free_port() & !1).to_string(), "-nostdin"])
        .args(extra)
        .arg(server);
    cmd
}

/// A SIPp callee registered as 102 that takes `calls` calls and holds them.
fn sipp_phone(dir: &Path, server: &str, calls: u64) -> Child {
    let port = free_port().to_string();
    let row = inf(dir, "102;demo-102;acme.pbx.example.net");
    let status = Command::new("sipp")
        .current_dir(dir)
        .arg("-sf")
        .arg(scenario("register.xml"))
        .args(["-inf", &row, "-i", "127.0.0.1", "-p", &port, "-m", "1", "-nostdin", server])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the callee did not register");
    let child = Command::new("sipp")
        .current_dir(dir)
        .arg("-sf")
        .arg(scenario("uas_hold.xml"))
        .args(["-i", "127.0.0.1", "-p", &port, "-mp", &(free_port() & !1).to_string(), "-m", &calls.to_string()])
        .args(["-nostdin", "-timeout", "200s", server])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    child
}

/// A keep-alive HTTP/1.1 connection (std, blocking: the simplest client that cannot hide
/// a server problem).
struct Conn {
    reader: std::io::BufReader<std::net::TcpStream>,
    api: String,
}

fn connect(api: &str) -> Conn {
    let stream = std::net::TcpStream::connect(api).unwrap();
    stream.set_nodelay(true).unwrap();
    Conn { reader: std::io::BufReader::new(stream), api: api.to_owned() }
}

fn get(conn: &mut Conn, path: &str, token: &str) -> (u16, Vec<u8>) {
    use std::io::{BufRead, Read, Write};
    let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\r\n", conn.api);
    conn.reader.get_mut().write_all(request.as_bytes()).unwrap();
    let mut line = String::new();
    conn.reader.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut length = 0;
    loop {
        line.clear();
        conn.reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    conn.reader.read_exact(&mut body).unwrap();
    (status, body)
}

/// `rounds` × (a first filtered page + 4 more by cursor), each timed.
fn cdr_pages(api: &str, rounds: usize) -> Vec<Duration> {
    let mut conn = connect(api);
    let mut latencies = Vec::new();
    for r in 0..rounds {
        let ext = format!("1{:02}", r % 19 + 1);
        let disposition = ["answered", "busy", "no_answer"][r % 3];
        let mut cursor = String::new();
        for _ in 0..5 {
            let path = format!("/api/v1/cdrs?disposition={disposition}&extension={ext}&limit=50{cursor}");
            let started = Instant::now();
            let (status, body) = get(&mut conn, &path, ACME_ADMIN);
            latencies.push(started.elapsed());
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
            let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(page["cdrs"].as_array().unwrap().len(), 50);
            cursor = format!("&cursor={}", page["next_cursor"].as_str().unwrap());
        }
    }
    latencies.sort();
    latencies
}

fn wait_for_calls(api: &str, want: usize) -> usize {
    let mut conn = connect(api);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = get(&mut conn, "/api/v1/calls", OPERATOR);
        let calls: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
        let answered = calls.iter().filter(|c| c["state"] == "answered").count();
        if answered >= want || Instant::now() > deadline {
            eprintln!("{answered} calls answered");
            return answered;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Requests and bytes over `conns` connections (threads) for `length`.
fn hammer(api: &str, conns: usize, length: Duration) -> (u64, u64) {
    let end = Instant::now() + length;
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let api = api.to_owned();
            std::thread::spawn(move || {
                let mut conn = connect(&api);
                let (mut requests, mut bytes) = (0u64, 0u64);
                while Instant::now() < end {
                    let (status, body) = get(&mut conn, "/api/v1/calls", ACME_ADMIN);
                    assert_eq!(status, 200);
                    requests += 1;
                    bytes += body.len() as u64;
                }
                (requests, bytes)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).fold((0, 0), |(r, b), (r2, b2)| (r + r2, b + b2))
}

/// Subscribers count `call_ended` events while the held calls end (at the rate they
/// started): every subscriber must see every one.
fn fan_out(api: &str, subscribers: usize, caller: &mut Child, calls: u64) -> (u64, Vec<u64>, u64) {
    use std::io::{BufRead, Write};
    let lagged = Arc::new(AtomicU64::new(0));
    let counts: Vec<Arc<AtomicU64>> = (0..subscribers).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let mut streams = Vec::new();
    for count in &counts {
        let mut stream = std::net::TcpStream::connect(api).unwrap();
        write!(stream, "GET /api/v1/events HTTP/1.1\r\nHost: {api}\r\nAuthorization: Bearer {OPERATOR}\r\n\r\n")
            .unwrap();
        streams.push(stream.try_clone().unwrap());
        let (count, lagged) = (Arc::clone(count), Arc::clone(&lagged));
        std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line.starts_with("event: call_ended") {
                    count.fetch_add(1, Ordering::Relaxed);
                } else if line.starts_with("event: lagged") {
                    lagged.fetch_add(1, Ordering::Relaxed);
                }
                line.clear();
            }
        });
    }
    let _ = caller.wait();
    let deadline = Instant::now() + Duration::from_secs(10);
    while counts.iter().any(|c| c.load(Ordering::Relaxed) < calls) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    for s in streams {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    let received: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    (calls, received, lagged.load(Ordering::Relaxed))
}
