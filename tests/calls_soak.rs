//! No leaks: 10,000 calls through pbxd leave no live call, no relay session, no leased port,
//! and resident memory within 10% of where it was after a warm-up.

mod common;

use std::time::{Duration, Instant};

use common::sipp::{self, Phone};
use common::*;

const ACME: &str = "acme.pbx.example.net";
/// Enough calls for the bounded caches (the event ring, SQLite's page caches) to fill up, so
/// the baseline is the steady state.
const WARM_UP: usize = 10_000;
const CALLS: usize = 10_000;
const RATE: u32 = 400;

/// Waits until pbxd has no call, no relay session and every port pair back in the pool.
fn wait_idle(pbxd: &Pbxd) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let calls: Vec<serde_json::Value> =
            serde_json::from_str(&stdout(&pbxd.pbxctl(&["calls", "-o", "json"]))).unwrap();
        let status = stdout(&pbxd.pbxctl(&["status"]));
        let media = status.lines().find(|l| l.starts_with("Media:")).unwrap_or_default().to_owned();
        let idle = media.starts_with("Media: 0 relay session(s)") && {
            let nums: Vec<&str> = media.split_whitespace().collect();
            nums.get(4) == nums.get(6) // "N of N port pairs free"
        };
        if calls.is_empty() && idle {
            return serde_json::json!({ "media": media });
        }
        assert!(Instant::now() < deadline, "pbxd did not go idle: {} calls, {media}", calls.len());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// pbxd's memory once idle: resident memory, the lowest of samples over 12 s (the allocator
/// purges freed pages on a 1 s decay), and the allocator's bytes in use (`pbxctl status`).
fn settled_memory(pbxd: &Pbxd) -> (u64, u64) {
    let mut lowest = u64::MAX;
    for _ in 0..24 {
        lowest = lowest.min(rss_kib(pbxd.pid()));
        std::thread::sleep(Duration::from_millis(500));
    }
    let status = stdout(&pbxd.pbxctl(&["status"]));
    let in_use = status
        .lines()
        .find_map(|l| l.strip_prefix("Heap: "))
        .and_then(|l| l.split(" MiB").next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no heap line: {status}"));
    (lowest, (in_use * 1024.0) as u64)
}

#[test]
fn ten_thousand_calls_leave_no_call_no_port_and_no_memory_behind() {
    if !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // One SIPp stands for a whole office here: lift the per-source flood limit. T1 = 50 ms
    // (loopback) makes finished transactions go after 3.2 s, and a 10 s nonce lifetime lets the
    // digest replay records go too, so memory is compared without what is only kept for a while.
    let pbxd = Pbxd::start_with(
        dir.path(),
        "",
        "t1 = \"50ms\"\n[sip.registration]\nnonce_lifetime = \"10s\"\n[sip.security]\nrequests_per_second = 100000\nburst = 100000\n",
    );
    let tenants = copy_examples(dir.path());
    let acme = tenants.join("acme.toml");
    let text = std::fs::read_to_string(&acme).unwrap().replace(
        "limits = { max_calls = 30, calls_per_second = 5, recording_quota_mb = 4096 }",
        "limits = { max_calls = 5000, calls_per_second = 5000, calls_per_extension = 5000, recording_quota_mb = 4096 }",
    );
    // Without its webhook: events for a receiver that is not there would pile up in the
    // outbox by design (durable, bounded), which is not what this test measures.
    let text = match text.split_once("[[webhook]]") {
        Some((before, after)) => format!("{before}{}", &after[after.find("\n[[").unwrap_or(after.len())..]),
        None => text,
    };
    std::fs::write(&acme, text).unwrap();
    assert!(pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]).status.success());
    let server = pbxd.sip_addr("udp");
    let phone = Phone::answering(dir.path(), "102", ACME, server, "calls/uas_answer.xml", WARM_UP + CALLS);
    let caller = [format!("101;demo-101;{ACME};102")];

    let warm = sipp::load(dir.path(), "calls/uac_call.xml", &caller, server, WARM_UP, RATE, 2_000);
    assert!(warm.status.success(), "warm-up calls failed: {}", String::from_utf8_lossy(&warm.stdout));
    wait_idle(&pbxd);
    std::thread::sleep(Duration::from_secs(11)); // 64*T1 and the nonce lifetime pass
    let baseline = settled_memory(&pbxd);
    let anon_before = anon_rss_kib(pbxd.pid());

    let run = sipp::load(dir.path(), "calls/uac_call.xml", &caller, server, CALLS, RATE, 2_000);
    assert!(run.status.success(), "calls failed: {}", String::from_utf8_lossy(&run.stdout));
    let idle = wait_idle(&pbxd);
    assert!(phone.finished_ok(), "the phone saw every call through");
    std::thread::sleep(Duration::from_secs(11));
    let after = settled_memory(&pbxd);
    let anon_after = anon_rss_kib(pbxd.pid());
    let ((rss_before, heap_before), (rss_after, heap_after)) = (baseline, after);
    eprintln!(
        "after warm-up: {rss_before} KiB resident ({anon_before} anonymous), {heap_before} KiB heap in use; \
         after {CALLS} calls: {rss_after} KiB resident ({anon_after} anonymous), {heap_after} KiB heap in use; \
         {idle}"
    );
    // No leak: the live heap is back where it was, and so is resident memory (jemalloc hands
    // freed pages back within about a second; glibc malloc used to keep +10-20% here). The
    // anonymous part is printed too: one CI run found +11% resident with the heap flat, and
    // which part moved is what the next such run should tell.
    assert!(heap_after * 10 <= heap_before * 11, "heap in use grew from {heap_before} KiB to {heap_after} KiB");
    assert!(rss_after * 10 <= rss_before * 11, "resident memory grew from {rss_before} KiB to {rss_after} KiB");

    let cdrs: Vec<serde_json::Value> =
        serde_json::from_str(&stdout(&pbxd.pbxctl(&["cdr", "--limit", "30000", "-o", "json"]))).unwrap();
    assert_eq!(cdrs.len(), WARM_UP + CALLS, "one CDR per call");
    assert!(cdrs.iter().all(|c| c["disposition"] == "answered"));
}
