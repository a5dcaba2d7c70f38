//! Relay load benchmark: N sessions, each with two endpoints sending 20 ms G.711 packets
//! (172-byte RTP) both ways through the relay on 127.0.0.1.
//!
//! `cargo bench --bench relay -- [--sessions 500,1000,2000] [--secs 10]
//! [--workers 1] [--gen-sockets 16] [--coalesce-us 500] [--kernel]`
//!
//! `--kernel` turns on kernel forwarding (root and nft): latched sessions are forwarded by
//! nftables, whose work lands in softirq and in the sender's own CPU, not the relay's. The
//! relay's CPU then counts the `nft` processes it runs; its packet counts come from the
//! rules' counters, read every second (use `--secs 20` or more).
//!
//! The load generator runs as a child process (this binary with `generator`), so the relay
//! process's /proc/self/stat holds only the relay's CPU. The generator sends from a few
//! sockets with `sendmmsg` (every relay leg latches to one of them) and receives with
//! `recvmmsg`, stamping each packet with its send time to measure loss, transit and jitter.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pbx::media::relay::io::{RecvBatch, SendBatch};
use pbx::media::relay::{Leg, LegConfig, PortPool, PortPoolConfig, Relay, RelayConfig, SessionHandle};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PKT: usize = 172;
const TICK_HZ: f64 = 100.0; // USER_HZ of /proc/*/stat

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str, default: &str| -> String {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or(default.to_string())
    };
    let num = |name: &str, default: &str| -> usize { opt(name, default).parse().expect("a number") };
    if args.first().map(String::as_str) == Some("floor") {
        floor();
        return;
    }
    if args.first().map(String::as_str) == Some("generator") {
        generator(num("--sessions", "0"), num("--secs", "10"), num("--gen-sockets", "16"));
        return;
    }
    let sessions: Vec<usize> = opt("--sessions", "500,1000,2000").split(',').map(|s| s.parse().expect("N")).collect();
    let (secs, workers, sockets) = (num("--secs", "10"), num("--workers", "1"), num("--gen-sockets", "16"));
    let coalesce = Duration::from_micros(num("--coalesce-us", "500") as u64);
    let kernel = args.iter().any(|a| a == "--kernel");
    println!(
        "workers {workers}, coalesce {coalesce:?}, generator sockets {sockets} per side, {secs} s per run, \
         kernel forwarding {}",
        if kernel { "on" } else { "off" }
    );
    println!(
        "| sessions | pps relayed | relay CPU µs/pkt | generator CPU µs/pkt | softirq µs/pkt (machine) | loss % | \
         jitter added µs (mean/max) | transit µs (p50/p99/max) | RSS/session | kernel slab/session |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for n in sessions {
        run(n, secs, workers, sockets, coalesce, kernel);
    }
}

fn run(n: usize, secs: usize, workers: usize, sockets: usize, coalesce: Duration, kernel: bool) {
    let rss0 = meminfo_kb("/proc/self/status", "VmRSS:");
    let slab0 = meminfo_kb("/proc/meminfo", "Slab:");
    let pool = PortPool::new(PortPoolConfig::new(LOCAL, 20000..=29999)).expect("pool");
    let config =
        RelayConfig { workers, max_sessions: n, coalesce, kernel_forwarding: kernel, ..RelayConfig::default() };
    let relay = Relay::new(config, pool).expect("relay");

    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .args(["generator", "--sessions", &n.to_string(), "--secs", &secs.to_string()])
        .args(["--gen-sockets", &sockets.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn generator");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("PORTS line");
    let ports: Vec<Vec<SocketAddr>> = line.trim().trim_start_matches("PORTS ").split(';').map(parse_addrs).collect();
    let (gen_a, gen_b) = (&ports[0], &ports[1]);

    let mut handles: Vec<SessionHandle> = Vec::with_capacity(n);
    let mut stdin = child.stdin.take().expect("stdin");
    let mut plan = String::new();
    for i in 0..n {
        let leg = |addr: SocketAddr| LegConfig { payload_types: vec![0], ..LegConfig::new(Some(addr)) };
        let h = relay.create_session(leg(gen_a[i % gen_a.len()]), leg(gen_b[i % gen_b.len()])).expect("session");
        plan.push_str(&format!("{} {}\n", h.local_rtp(Leg::A), h.local_rtp(Leg::B)));
        handles.push(h);
    }
    plan.push_str("GO\n");
    stdin.write_all(plan.as_bytes()).expect("plan to generator");
    stdin.flush().expect("flush");
    let child_pid = child.id();

    // Steady-state window: skip the first 2 s, stop 1 s before the generator does.
    std::thread::sleep(Duration::from_secs(2));
    let s0 = Sample::take(&handles, child_pid);
    std::thread::sleep(Duration::from_secs(secs.saturating_sub(3).max(1) as u64));
    let s1 = Sample::take(&handles, child_pid);
    let rss1 = meminfo_kb("/proc/self/status", "VmRSS:");
    let slab1 = meminfo_kb("/proc/meminfo", "Slab:");

    line.clear();
    out.read_line(&mut line).expect("RESULT line");
    let _ = child.wait();
    let r = GenResult::parse(&line);

    let pkts = (s1.relayed - s0.relayed).max(1) as f64;
    let dt = s1.at.duration_since(s0.at).as_secs_f64();
    let us = |ticks: f64| ticks / TICK_HZ * 1e6 / pkts;
    let loss = if r.sent == 0 { 100.0 } else { 100.0 * (r.sent.saturating_sub(r.received)) as f64 / r.sent as f64 };
    println!(
        "| {n} | {:.0} | {:.2} | {:.2} | {:.2} | {:.3} | {:.1}/{:.1} | {}/{}/{} | {:.1} kB | {:.1} kB |",
        pkts / dt,
        us((s1.relay_cpu - s0.relay_cpu) as f64),
        us((s1.gen_cpu - s0.gen_cpu) as f64),
        us((s1.softirq - s0.softirq) as f64),
        loss,
        r.jitter_mean_us,
        r.jitter_max_us,
        r.p50_us,
        r.p99_us,
        r.max_us,
        (rss1 - rss0) as f64 / n as f64,
        (slab1 - slab0) as f64 / n as f64,
    );
    let (mut foreign, mut send, mut lost, mut relay_in, mut relay_out) = (0, 0, 0, 0, 0);
    for h in &handles {
        let s = h.stats();
        foreign += s.a.dropped_foreign + s.b.dropped_foreign + s.a.dropped_bad_pt + s.b.dropped_bad_pt;
        send += s.a.dropped_send + s.b.dropped_send;
        lost += s.a.rtp_lost + s.b.rtp_lost;
        relay_in += s.a.rtp_packets_in + s.b.rtp_packets_in;
        relay_out += s.a.rtp_packets_out + s.b.rtp_packets_out;
    }
    eprintln!(
        "  N={n}: generator sent {} received {} (send errors {}); relay took in {relay_in}, sent {relay_out}; drops foreign/pt {foreign}, send {send}, \
         seq-loss seen by relay {lost}; UDP RcvbufErrors +{}; machine idle {:.0}%",
        r.sent,
        r.received,
        r.send_errors,
        s1.rcvbuf_errors - s0.rcvbuf_errors,
        100.0 * (s1.idle - s0.idle) as f64 / (dt * TICK_HZ * 2.0),
    );
    drop(handles);
    drop(relay);
}

struct Sample {
    at: Instant,
    relayed: u64,
    relay_cpu: u64,
    gen_cpu: u64,
    softirq: u64,
    idle: u64,
    rcvbuf_errors: u64,
}

impl Sample {
    fn take(handles: &[SessionHandle], child: u32) -> Sample {
        let relayed = handles.iter().map(|h| h.stats()).map(|s| s.a.rtp_packets_out + s.b.rtp_packets_out).sum();
        let cpu = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let f: Vec<u64> =
            cpu.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
        Sample {
            at: Instant::now(),
            relayed,
            relay_cpu: proc_cpu("/proc/self/stat") + children_cpu("/proc/self/stat"),
            gen_cpu: proc_cpu(&format!("/proc/{child}/stat")),
            softirq: f.get(6).copied().unwrap_or(0),
            idle: f.get(3).copied().unwrap_or(0),
            rcvbuf_errors: udp_rcvbuf_errors(),
        }
    }
}

/// utime + stime in clock ticks.
fn proc_cpu(path: &str) -> u64 {
    stat_ticks(path, [11, 12])
}

/// cutime + cstime: children waited for (the `nft` runs of kernel forwarding; the generator
/// is waited for only after the last sample).
fn children_cpu(path: &str) -> u64 {
    stat_ticks(path, [13, 14])
}

/// The sum of two fields of a /proc stat file, counted from the one after the ")" closing
/// the command name (field 3, state, is 0 here; utime, field 14, is 11).
fn stat_ticks(path: &str, fields: [usize; 2]) -> u64 {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let after = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    fields.iter().map(|&i| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)).sum()
}

fn meminfo_kb(path: &str, key: &str) -> i64 {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn udp_rcvbuf_errors() -> u64 {
    let s = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut udp = s.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else { return 0 };
    let i = names.split_whitespace().position(|n| n == "RcvbufErrors").unwrap_or(usize::MAX);
    values.split_whitespace().nth(i).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn parse_addrs(s: &str) -> Vec<SocketAddr> {
    s.split_whitespace().map(|a| a.parse().expect("address")).collect()
}

#[derive(Default)]
struct GenResult {
    sent: u64,
    received: u64,
    send_errors: u64,
    jitter_mean_us: f64,
    jitter_max_us: f64,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
}

impl GenResult {
    fn parse(line: &str) -> GenResult {
        let mut r = GenResult::default();
        for kv in line.split_whitespace() {
            let Some((k, v)) = kv.split_once('=') else { continue };
            match k {
                "sent" => r.sent = v.parse().unwrap_or(0),
                "received" => r.received = v.parse().unwrap_or(0),
                "send_errors" => r.send_errors = v.parse().unwrap_or(0),
                "jitter_mean_us" => r.jitter_mean_us = v.parse().unwrap_or(0.0),
                "jitter_max_us" => r.jitter_max_us = v.parse().unwrap_or(0.0),
                "p50_us" => r.p50_us = v.parse().unwrap_or(0),
                "p99_us" => r.p99_us = v.parse().unwrap_or(0),
                "max_us" => r.max_us = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        r
    }
}

// ---------------------------------------------------------------- generator (child process)

fn bind_side(k: usize) -> Vec<UdpSocket> {
    (0..k)
        .map(|_| {
            let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).expect("socket");
            let _ = s.set_recv_buffer_size(8 << 20);
            let _ = s.set_send_buffer_size(8 << 20);
            s.set_nonblocking(true).expect("nonblocking");
            s.bind(&SocketAddr::new(LOCAL, 0).into()).expect("bind");
            s.into()
        })
        .collect()
}

fn generator(n: usize, secs: usize, k: usize) {
    let k = k.max(1);
    let sides = [bind_side(k), bind_side(k)];
    let list =
        |v: &[UdpSocket]| v.iter().map(|s| s.local_addr().expect("addr").to_string()).collect::<Vec<_>>().join(" ");
    println!("PORTS {};{}", list(&sides[0]), list(&sides[1]));
    let _ = std::io::stdout().flush();

    // Per session "relayA relayB"; stream 2i goes A->B, 2i+1 goes B->A.
    let mut dst: Vec<SocketAddr> = Vec::with_capacity(2 * n);
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("plan");
        if line == "GO" {
            break;
        }
        dst.extend(parse_addrs(&line));
    }
    let streams = dst.len();
    let origin = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let sides = Arc::new(sides);

    let rx = {
        let (sides, stop) = (Arc::clone(&sides), Arc::clone(&stop));
        std::thread::spawn(move || receive(&sides, streams, origin, &stop))
    };
    let (sent, send_errors) = send(&sides, &dst, origin, Duration::from_secs(secs as u64));
    std::thread::sleep(Duration::from_millis(500)); // drain
    stop.store(true, Ordering::Relaxed);
    let rx = rx.join().expect("receiver");
    let mean = rx.jitter_ns.iter().sum::<f64>() / rx.jitter_ns.len().max(1) as f64 / 1e3;
    let max = rx.jitter_ns.iter().cloned().fold(0.0, f64::max) / 1e3;
    println!(
        "RESULT sent={sent} received={} send_errors={send_errors} jitter_mean_us={mean:.1} jitter_max_us={max:.1} \
         p50_us={} p99_us={} max_us={}",
        rx.received,
        rx.percentile(0.50),
        rx.percentile(0.99),
        rx.max_us
    );
}

/// Send one packet per stream every 20 ms, streams spread evenly over 1 ms ticks.
fn send(sides: &[Vec<UdpSocket>; 2], dst: &[SocketAddr], origin: Instant, dur: Duration) -> (u64, u64) {
    let k = sides[0].len();
    // schedule[tick % 20][socket] = streams to send then.
    let mut schedule = vec![vec![Vec::new(); 2 * k]; 20];
    for s in 0..dst.len() {
        let session = s / 2;
        let sock = (s % 2) * k + session % k;
        schedule[session % 20][sock].push(s);
    }
    let mut seqs = vec![0u16; dst.len()];
    let mut batch = SendBatch::new(64);
    let (mut sent, mut errors) = (0u64, 0u64);
    let mut pkt = [0u8; PKT];
    pkt[0] = 0x80; // V=2, PT 0
    let mut tick = 0u64;
    let start = Instant::now();
    while start.elapsed() < dur {
        let due = start + Duration::from_millis(tick);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let stamp = (origin.elapsed().as_nanos() as u64).to_be_bytes();
        for (sock_i, list) in schedule[(tick % 20) as usize].iter().enumerate() {
            let sock = &sides[sock_i / k][sock_i % k];
            for &s in list {
                let seq = seqs[s];
                seqs[s] = seq.wrapping_add(1);
                pkt[2..4].copy_from_slice(&seq.to_be_bytes());
                pkt[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
                pkt[8..12].copy_from_slice(&(s as u32).to_be_bytes());
                pkt[12..20].copy_from_slice(&stamp);
                batch.push(&pkt, dst[s]);
                if batch.is_full() {
                    flush(&mut batch, sock, &mut sent, &mut errors);
                }
            }
            flush(&mut batch, sock, &mut sent, &mut errors);
        }
        tick += 1;
    }
    (sent, errors)
}

fn flush(batch: &mut SendBatch, sock: &UdpSocket, sent: &mut u64, errors: &mut u64) {
    let queued = batch.len() as u64;
    if queued == 0 {
        return;
    }
    let ok = batch.flush(sock.as_fd()).unwrap_or(0) as u64;
    *sent += ok;
    *errors += queued - ok;
}

struct RxResult {
    received: u64,
    jitter_ns: Vec<f64>,
    hist: Vec<u64>, // 10 µs buckets
    max_us: u64,
}

impl RxResult {
    fn percentile(&self, p: f64) -> u64 {
        let total: u64 = self.hist.iter().sum();
        let want = (total as f64 * p).ceil() as u64;
        let mut acc = 0;
        for (i, c) in self.hist.iter().enumerate() {
            acc += c;
            if acc >= want {
                return i as u64 * 10;
            }
        }
        self.max_us
    }
}

/// Drain every socket once per millisecond. Polling instead of sleeping in epoll means the
/// relay's sends never pay for waking the generator (on a real network a NIC takes the packet).
fn receive(sides: &[Vec<UdpSocket>; 2], streams: usize, origin: Instant, stop: &AtomicBool) -> RxResult {
    let all: Vec<&UdpSocket> = sides.iter().flatten().collect();
    let mut batch = RecvBatch::new(64);
    let mut r = RxResult { received: 0, jitter_ns: vec![0.0; streams], hist: vec![0; 20_000], max_us: 0 };
    let mut last_transit = vec![i64::MIN; streams];
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(1));
        for sock in &all {
            loop {
                let n = batch.recv(sock.as_fd()).unwrap_or(0);
                let now = origin.elapsed().as_nanos() as i64;
                for i in 0..n {
                    let Some((p, _)) = batch.packet_mut(i) else { continue };
                    if p.len() != PKT {
                        continue;
                    }
                    let s = u32::from_be_bytes([p[8], p[9], p[10], p[11]]) as usize;
                    let mut stamp = [0u8; 8];
                    stamp.copy_from_slice(&p[12..20]);
                    if s >= streams {
                        continue;
                    }
                    r.received += 1;
                    let transit = now - u64::from_be_bytes(stamp) as i64;
                    let us = (transit.max(0) / 1000) as u64;
                    r.max_us = r.max_us.max(us);
                    r.hist[((us / 10) as usize).min(19_999)] += 1;
                    if last_transit[s] != i64::MIN {
                        let d = (transit - last_transit[s]).abs() as f64;
                        r.jitter_ns[s] += (d - r.jitter_ns[s]) / 16.0;
                    }
                    last_transit[s] = transit;
                }
                if n < batch.capacity() {
                    break;
                }
            }
        }
    }
    r
}

// ---------------------------------------------------------------- kernel floor

/// The least a socket-per-leg relay can cost here: one `recvmmsg` and one `sendmmsg` of one
/// 172-byte datagram on loopback, single thread, no epoll, nobody to wake.
fn floor() {
    let (x, y, z) = (bind_side(1).remove(0), bind_side(1).remove(0), bind_side(1).remove(0));
    let (ya, za) = (y.local_addr().expect("addr"), z.local_addr().expect("addr"));
    let mut out = SendBatch::new(1);
    let mut inb = RecvBatch::new(32);
    let n = 300_000u64;
    let cpu0 = proc_cpu("/proc/self/stat");
    let soft0 = Sample::take(&[], 0).softirq;
    let t0 = Instant::now();
    let mut spent = [Duration::ZERO; 4]; // gen send, relay recv, relay send, endpoint recv
    for _ in 0..n {
        let t = Instant::now();
        out.push(&[0x80u8; PKT], ya);
        out.flush(x.as_fd()).expect("send"); // generator side: x -> relay socket y
        let t1 = Instant::now();
        let got = inb.recv(y.as_fd()).expect("recv"); // relay: recv on y ...
        let t2 = Instant::now();
        out.push(&[0x80u8; PKT], za);
        out.flush(y.as_fd()).expect("send"); // ... and send on to z
        let t3 = Instant::now();
        assert_eq!(got, 1);
        inb.recv(z.as_fd()).expect("recv"); // endpoint drains z
        let t4 = Instant::now();
        for (slot, d) in spent.iter_mut().zip([t1 - t, t2 - t1, t3 - t2, t4 - t3]) {
            *slot += d;
        }
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "floor per call (wall): send+loopback delivery {:.2} µs, recv {:.2} µs; relay half (recv+send) {:.2} µs",
        us(spent[0] + spent[2]) / 2.0,
        us(spent[1] + spent[3]) / 2.0,
        us(spent[1] + spent[2])
    );
    let cpu = (proc_cpu("/proc/self/stat") - cpu0) as f64 / TICK_HZ * 1e6 / n as f64;
    let soft = (Sample::take(&[], 0).softirq - soft0) as f64 / TICK_HZ * 1e6 / n as f64;
    println!(
        "floor: per relayed packet 2 sends + 2 receives = {cpu:.2} µs process CPU + {soft:.2} µs softirq; wall {:.2} µs",
        t0.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    batched_floor();
}

/// The least one relayed packet costs even with perfect batching: one `sendmmsg` of 256
/// datagrams to 256 sockets (one per leg), then one receive on each. No socket-per-leg relay,
/// with any batching scheme (io_uring included), gets below the kernel's own per-datagram
/// work measured here.
fn batched_floor() {
    const LEGS: usize = 256;
    let tx = bind_side(1).remove(0);
    let legs = bind_side(LEGS);
    let dst: Vec<SocketAddr> = legs.iter().map(|s| s.local_addr().expect("addr")).collect();
    let mut out = SendBatch::new(LEGS);
    let mut inb = RecvBatch::new(1);
    let rounds = 2_000u64;
    let (mut send, mut recv) = (Duration::ZERO, Duration::ZERO);
    let cpu0 = proc_cpu("/proc/self/stat");
    for _ in 0..rounds {
        for &d in &dst {
            out.push(&[0x80u8; PKT], d);
        }
        let t = Instant::now();
        assert_eq!(out.flush(tx.as_fd()).expect("send"), LEGS);
        let t1 = Instant::now();
        for leg in &legs {
            assert_eq!(inb.recv(leg.as_fd()).expect("recv"), 1);
        }
        send += t1 - t;
        recv += t1.elapsed();
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / (rounds * LEGS as u64) as f64;
    let cpu = (proc_cpu("/proc/self/stat") - cpu0) as f64 / TICK_HZ * 1e6 / (rounds * LEGS as u64) as f64;
    println!(
        "batched floor per datagram (sendmmsg x{LEGS}): send+loopback delivery {:.2} µs, recv {:.2} µs; \
         process CPU {cpu:.2} µs per datagram sent and received",
        per(send),
        per(recv)
    );
}
