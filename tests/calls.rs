//! Calls end to end: SIPp callers and SIPp phones registered to pbxd, one scenario per way a
//! call goes (answered, busy, no answer, cancelled, callee hangs up, hold, forked, unknown
//! number, over the limit), each checked on both sides and in the CDR.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::sipp::{self, Phone};
use common::*;
use serde_json::Value;

const ACME: &str = "acme.pbx.example.net";

/// pbxd with the example tenants, 3 s ring time, and `tenant_edit` applied to acme.toml.
fn pbxd_with(dir: &Path, tenant_edit: impl Fn(String) -> String) -> (Pbxd, SocketAddr) {
    let pbxd = Pbxd::start_with(dir, "", "[sip.calls]\nring_timeout = \"3s\"\n");
    let tenants = copy_examples(dir);
    let acme = tenants.join("acme.toml");
    std::fs::write(&acme, tenant_edit(std::fs::read_to_string(&acme).unwrap())).unwrap();
    let apply = pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    let addr = pbxd.sip_addr("udp");
    (pbxd, addr)
}

fn pbxd(dir: &Path) -> (Pbxd, SocketAddr) {
    pbxd_with(dir, |t| t)
}

/// `caller` dials `number` with the UAC scenario `scenario`.
fn dial(dir: &Path, scenario: &str, caller: &str, number: &str, server: SocketAddr) -> Output {
    let rows = [format!("{caller};demo-{caller};{ACME};{number}")];
    sipp::run(dir, &format!("calls/{scenario}"), &rows, "127.0.0.1", server, 1)
}

fn ok(out: &Output) -> bool {
    if !out.status.success() {
        eprintln!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    out.status.success()
}

/// The newest CDRs, waiting until `count` are written.
fn cdrs(pbxd: &Pbxd, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = pbxd.pbxctl(&["cdr", "-o", "json"]);
        let rows: Vec<Value> = serde_json::from_str(&stdout(&out)).unwrap_or_default();
        if rows.len() >= count || Instant::now() > deadline {
            return rows;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn live_calls(pbxd: &Pbxd) -> Vec<Value> {
    serde_json::from_str(&stdout(&pbxd.pbxctl(&["calls", "-o", "json"]))).unwrap()
}

#[test]
fn an_answered_call_is_relayed_and_recorded_with_both_legs() {
    if !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pbxd, server) = pbxd(dir.path());
    let phone = Phone::register(dir.path(), "102", ACME, server, "calls/uas_answer.xml");
    assert!(ok(&dial(dir.path(), "uac_call.xml", "101", "102", server)), "407, then 180 and 200 through pbxd");
    assert!(phone.finished_ok(), "the callee saw INVITE, ACK and BYE");
    let cdr = &cdrs(&pbxd, 1)[0];
    assert_eq!(cdr["tenant"], "acme");
    assert_eq!((cdr["caller"].as_str(), cdr["callee"].as_str()), (Some("101"), Some("102")));
    assert_eq!(cdr["disposition"], "answered");
    assert_eq!((cdr["hangup_cause"].as_str(), cdr["hangup_side"].as_str()), (Some("BYE"), Some("caller")));
    assert_eq!(cdr["codec"], "PCMU");
    assert!(cdr["answer_ms"].as_i64().unwrap() >= cdr["start_ms"].as_i64().unwrap());
    assert!(cdr["end_ms"].as_i64().unwrap() - cdr["answer_ms"].as_i64().unwrap() >= 900, "SIPp talks for 1 s");
    assert_eq!(cdr["legs"].as_array().unwrap().len(), 2);
    let deadline = Instant::now() + Duration::from_secs(2);
    while !live_calls(&pbxd).is_empty() {
        assert!(Instant::now() < deadline, "no call is left behind (calls are published within 100 ms)");
        std::thread::sleep(Duration::from_millis(20));
    }
    let table = stdout(&pbxd.pbxctl(&["cdr"]));
    assert!(table.starts_with("START") && table.contains("answered"), "{table}");
    let csv = stdout(&pbxd.pbxctl(&["cdr", "-o", "csv", "--since", "1h"]));
    assert!(csv.lines().nth(1).is_some_and(|l| l.contains(",101,102,") && l.contains(",answered,")), "{csv}");
}

#[test]
fn a_late_offer_call_is_anchored_with_the_answer_in_the_ack() {
    if !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pbxd, server) = pbxd(dir.path());
    let phone = Phone::register(dir.path(), "102", ACME, server, "calls/uas_late_offer.xml");
    assert!(
        ok(&dial(dir.path(), "uac_late_offer.xml", "101", "102", server)),
        "INVITE without SDP; the callee's offer in pbxd's 200"
    );
    assert!(phone.finished_ok(), "the callee got an INVITE without SDP and the caller's answer in the ACK");
    let cdr = &cdrs(&pbxd, 1)[0];
    assert_eq!(cdr["disposition"], "answered");
    assert_eq!(cdr["codec"], "PCMA", "the caller answered PCMA to the callee's PCMU/PCMA offer");
}

#[test]
fn a_busy_callee_gives_busy() {
    if !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pbxd, server) = pbxd(dir.path());
    let phone = Phone::register(dir.path(), "102", ACME, server, "calls/uas_busy.xml");
    assert!(ok(&dial(dir.path(), "uac_busy.xml", "101", "102", server)));
    assert!(phone.finished_ok(), "pbxd ACKed the 486 in its transaction");
    assert_eq!(cdrs(&pbxd, 1)[0]["disposition"], "busy");
}

#[test]
fn nobody_answering_gives_480_after_the_ring_time_and_cancels_the_phone() {
    if !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pbxd, server) = pbxd(dir.path());
    let phone = Phone::register(dir.path(), "102", ACME, server, "calls/uas_ring.xml");
    let started = Instant::now();
    assert!(ok(&dial(dir.path(), "uac_no_answer.xml", "101", "102", server)));
    assert!(started.elapsed() >= Duration::from_secs(3), "the ring time is 3 s");
    assert!(phone.finished_ok(), "the phone got CANCEL (same branch) and sent 487");
    let cdr = &cdrs(&pbxd, 1)[0];
    assert_eq!(cdr["disposition"], "no_answer");
    assert_eq!(cdr["answer_ms"], 0);
}

#[test]
fn the_caller_cancels_while_it_rings() {
    if !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pbxd, server) = pbxd(dir.path());
    let phone = Phone::register(dir.path(), "102", ACME, server, "calls/uas_ring.xml");
    assert!(ok(&dial(dir.path(), "uac_cancel.xml", "101", "102", server)), "200 for the CANCEL, then 487");
    assert!(phone.finished_ok(), "the CANCEL reached the phone");
    let cdr = &cdrs(&pbxd, 1)[0];
    assert_eq!(cdr["disposition"], "cancelled");
    assert_eq!(cdr["hangup_side"], "caller");
}

#[test]
fn the_callee_hangs_up() {
    if !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pbxd, server) = pbxd(dir.path());
    let phone = Phone::register(dir.path(), "102", ACME, server, "calls/uas_hangup.xml");
    assert!(ok(&dial(dir.path(), "uac_callee_hangs_up.xml", "101", "102", server)), "the caller got BYE");
    assert!(phone.finished_ok());
    let cdr = &cdrs(&pbxd, 1)[0];
    assert_eq!((cdr["disposition"].as_str(), cdr["hangup_side"].as_str()), (Some("answered"), Some("callee")));
}

#[test]
fn hold_and_unhold_by_re_invite_pass_through() {
    if !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pbxd, server) = pbxd(dir.path());
    let phone = Phone::register(dir.path(), "102", ACME, server, "calls/uas_hold.xml");
    assert!(ok(&dial(dir.path(), "uac_hold.xml", "101", "102", server)));
    assert!(phone.finished_ok(), "both re-INVITEs reached the callee and were ACKed");
    assert_eq!(cdrs(&pbxd, 1)[0]["disposition"], "answered");
}

#[test]
fn a_call_forks_to_every_contact_and_the_second_answers() {
    if !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pbxd, server) = pbxd(dir.path());
    let desk = Phone::register(dir.path(), "102", ACME, server, "calls/uas_ring.xml");
    let soft = Phone::register(dir.path(), "102", ACME, server, "calls/uas_answer.xml");
    assert!(ok(&dial(dir.path(), "uac_call.xml", "101", "102", server)));
    assert!(soft.finished_ok(), "the second contact answered");
    assert!(desk.finished_ok(), "the first contact was cancelled");
    assert_eq!(cdrs(&pbxd, 1)[0]["disposition"], "answered");
}

#[test]
fn an_unknown_number_gets_404_after_authentication() {
    if !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_pbxd, server) = pbxd(dir.path());
    assert!(ok(&dial(dir.path(), "uac_404.xml", "101", "999", server)));
}

#[test]
fn a_call_over_the_tenant_limit_gets_503_and_the_limit_is_released() {
    if !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pbxd, server) = pbxd_with(dir.path(), |t| t.replace("max_calls = 30", "max_calls = 1"));
    let phone = Phone::register(dir.path(), "102", ACME, server, "calls/uas_answer.xml");
    let long = {
        let dir = dir.path().to_owned();
        std::thread::spawn(move || dial(&dir, "uac_long_call.xml", "101", "102", server))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !live_calls(&pbxd).iter().any(|c| c["state"] == "answered") {
        assert!(Instant::now() < deadline, "the first call was not answered");
        std::thread::sleep(Duration::from_millis(50));
    }
    let table = stdout(&pbxd.pbxctl(&["calls"]));
    assert!(table.contains("answered") && table.contains("PCMU"), "{table}");
    assert!(ok(&dial(dir.path(), "uac_503.xml", "103", "104", server)), "the second call is over the limit");
    assert!(ok(&long.join().unwrap()));
    assert!(phone.finished_ok());
    // The first call's guard gave its unit back: another call is admitted.
    let again = Phone::register(dir.path(), "102", ACME, server, "calls/uas_answer.xml");
    assert!(ok(&dial(dir.path(), "uac_call.xml", "101", "102", server)));
    assert!(again.finished_ok());
}

#[test]
fn sigterm_drains_new_calls_get_503_and_the_call_in_progress_finishes() {
    if !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut pbxd = Pbxd::configure(dir.path(), "", "[sip.calls]\ndrain_timeout = \"20s\"\n");
    pbxd.spawn();
    let tenants = copy_examples(dir.path());
    assert!(pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]).status.success());
    let server = pbxd.sip_addr("udp");
    let phone = Phone::register(dir.path(), "102", ACME, server, "calls/uas_answer.xml");
    let long = {
        let dir = dir.path().to_owned();
        std::thread::spawn(move || dial(&dir, "uac_long_call.xml", "101", "102", server))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !live_calls(&pbxd).iter().any(|c| c["state"] == "answered") {
        assert!(Instant::now() < deadline, "the first call was not answered");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = pbxd.pid();
    assert!(std::process::Command::new("kill").arg(pid.to_string()).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(ok(&dial(dir.path(), "uac_refused.xml", "103", "104", server)), "a new call during the drain gets 503");
    assert!(ok(&long.join().unwrap()), "the call in progress ran to its own BYE");
    assert!(phone.finished_ok());
    // With no call left pbxd finishes its drain and exits.
    let exited = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z")
    {
        assert!(Instant::now() < exited, "pbxd did not exit after the drain");
        std::thread::sleep(Duration::from_millis(100));
    }
}
