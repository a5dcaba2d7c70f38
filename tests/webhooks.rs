//! Webhooks end to end: a receiver (an HTTP server in this test) gets every call event,
//! signed, in order per call, although it is down for a minute and pbxd restarts meanwhile.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::sipp::{self, Phone};
use common::*;
use serde_json::Value;

const ACME: &str = "acme.pbx.example.net";
const SECRET: &str = "whsec-test-3f9a";

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
struct Delivery {
    headers: HashMap<String, String>,
    body: String,
}

/// An HTTP receiver on a fixed port that can go down (port closed) and come back.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Delivery>>>,
    up: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn new() -> Receiver {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Receiver { port, got: Arc::default(), up: Arc::new(AtomicBool::new(false)), thread: None }
    }

    fn start(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        self.up.store(true, Ordering::SeqCst);
        let (got, up) = (Arc::clone(&self.got), Arc::clone(&self.up));
        self.thread = Some(std::thread::spawn(move || {
            while up.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        if let Some(d) = read_post(stream) {
                            got.lock().unwrap().push(d);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }));
    }

    /// Closes the port: connections are refused.
    fn stop(&mut self) {
        self.up.store(false, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }
}

fn read_post(stream: std::net::TcpStream) -> Option<Delivery> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    assert!(line.starts_with("POST /pbx/events "), "{line}");
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
    }
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let mut out = stream;
    out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").ok()?;
    Some(Delivery { headers, body: String::from_utf8(body).ok()? })
}

/// Checks `t=…,v1=…` against the body.
fn signed(d: &Delivery) -> bool {
    let Some(sig) = d.headers.get("x-pbx-signature") else { return false };
    let t: i64 = sig.split(',').find_map(|p| p.strip_prefix("t=")).and_then(|t| t.parse().ok()).unwrap_or(0);
    *sig == pbx::webhook::signature(SECRET.as_bytes(), t, d.body.as_bytes())
}

#[test]
fn every_event_arrives_signed_and_in_order_across_an_outage_and_a_restart() {
    if !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::new();
    receiver.start();
    let secret_file = dir.path().join("webhook-secret");
    std::fs::write(&secret_file, SECRET).unwrap();

    let mut pbxd = Pbxd::configure(dir.path(), "", "");
    let config = std::fs::read_to_string(&pbxd.config).unwrap() + "\n[webhooks]\nmax_backoff = \"2s\"\n";
    std::fs::write(&pbxd.config, config).unwrap();
    pbxd.spawn();
    let tenants = copy_examples(dir.path());
    let acme = tenants.join("acme.toml");
    let text = std::fs::read_to_string(&acme)
        .unwrap()
        .replace("http://127.0.0.1:8099/pbx/events", &format!("http://127.0.0.1:{}/pbx/events", receiver.port))
        .replace("env:ACME_WEBHOOK_SECRET", &format!("file:{}", secret_file.display()));
    std::fs::write(&acme, text).unwrap();
    assert!(pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]).status.success());
    let server = pbxd.sip_addr("udp");
    let phone = Phone::answering(dir.path(), "102", ACME, server, "calls/uas_answer.xml", 3);
    let call = || {
        let rows = [format!("101;demo-101;{ACME};102")];
        let out = sipp::run(dir.path(), "calls/uac_call.xml", &rows, "127.0.0.1", server, 1);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    };

    // Up: one call's three events arrive.
    call();
    wait_for("the first call's events", Duration::from_secs(10), || receiver.deliveries().len() >= 3);

    // Down for a minute, with two calls and a restart of pbxd in it.
    receiver.stop();
    let down = Instant::now();
    call();
    call();
    std::thread::sleep(Duration::from_secs(2));
    pbxd.stop();
    pbxd.spawn();
    while down.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(500));
    }
    receiver.start();
    wait_for("the queued events", Duration::from_secs(20), || receiver.deliveries().len() >= 9);
    std::thread::sleep(Duration::from_secs(1));
    receiver.stop();
    drop(phone);

    let deliveries = receiver.deliveries();
    assert!(deliveries.iter().all(signed), "every POST is signed with the tenant's secret");
    let events: Vec<Value> = deliveries.iter().map(|d| serde_json::from_str(&d.body).unwrap()).collect();
    for (d, e) in deliveries.iter().zip(&events) {
        assert_eq!(d.headers["x-pbx-event-id"], e["id"].to_string());
        assert_eq!(d.headers["x-pbx-event-type"], e["type"].as_str().unwrap());
        assert_eq!(e["tenant"], "acme");
    }
    // At least once: duplicates may come, with the same id; none is missing, and ids only grow.
    let mut ids: Vec<u64> = events.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] <= w[1]), "delivered in event order: {ids:?}");
    ids.dedup();
    assert_eq!(ids.len(), 9, "three events for each of three calls");
    let mut per_call: HashMap<String, Vec<String>> = HashMap::new();
    for e in &events {
        let call_id = e["call"]["legs"][0].as_str().or(e["cdr"]["call_id"].as_str()).unwrap().to_owned();
        let kind = e["type"].as_str().unwrap().to_owned();
        let seen = per_call.entry(call_id).or_default();
        if seen.last() != Some(&kind) {
            seen.push(kind);
        }
    }
    assert_eq!(per_call.len(), 3);
    for kinds in per_call.values() {
        assert_eq!(kinds, &["call_started", "call_answered", "call_ended"]);
    }
}
