//! `pbxctl top` for real: in a tmux session against a running pbxd with a live call, the
//! call shows up, Tab reaches the registrations, and q quits.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::sipp::{self, Phone};
use common::*;

const ACME: &str = "acme.pbx.example.net";

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for_screen(session: &str, what: &str, want: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let screen = tmux(&["capture-pane", "-p", "-t", session]);
        if want(&screen) {
            return screen;
        }
        assert!(Instant::now() < deadline, "{what} never showed:\n{screen}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn top_shows_a_live_call_switches_panels_and_quits() {
    if !have_tool("tmux", "-V") || !sipp::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pbxd = Pbxd::start_with(dir.path(), "", "");
    let tenants = copy_examples(dir.path());
    assert!(pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]).status.success());
    let server = pbxd.sip_addr("udp");
    let phone = Phone::register(dir.path(), "102", ACME, server, "calls/uas_answer.xml");
    let caller = {
        let dir = dir.path().to_owned();
        std::thread::spawn(move || {
            let rows = [format!("101;demo-101;{ACME};102")];
            sipp::run(&dir, "calls/uac_long_call.xml", &rows, "127.0.0.1", server, 1)
        })
    };

    let session = format!("pbxtop{}", std::process::id());
    let command = format!("{} --server {} top", env!("CARGO_BIN_EXE_pbxctl"), pbxd.server());
    tmux(&["new-session", "-d", "-s", &session, "-x", "110", "-y", "24", &command]);
    let screen = wait_for_screen(&session, "the answered call", |s| s.contains("answered") && s.contains("PCMU"));
    assert!(screen.contains("pbx top") && screen.contains("Calls (1)") && screen.contains("101"), "{screen}");

    tmux(&["send-keys", "-t", &session, "Tab"]);
    let screen = wait_for_screen(&session, "the registrations panel", |s| s.contains("Registrations ("));
    assert!(screen.contains("102@acme.pbx.example.net"), "{screen}");

    assert!(caller.join().unwrap().status.success());
    assert!(phone.finished_ok());
    tmux(&["send-keys", "-t", &session, "BTab"]);
    tmux(&["send-keys", "-t", &session, "Left"]);
    wait_for_screen(&session, "the ended call in the CDRs", |s| {
        s.contains("Latest CDRs (1)") && s.contains("BYE (caller)")
    });

    tmux(&["send-keys", "-t", &session, "q"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Command::new("tmux").args(["has-session", "-t", &session]).status().unwrap().success() {
        assert!(Instant::now() < deadline, "q did not quit pbxctl top");
        std::thread::sleep(Duration::from_millis(100));
    }
}
