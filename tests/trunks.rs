//! Trunk monitoring against a real peer: a SIPp carrier challenges pbxd's REGISTER and checks
//! the digest with its own verifier, then answers OPTIONS pings. `pbxctl trunks` must show the
//! trunk registered and up, then down while the carrier is gone, then up again when it is back.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::sipp::{free_port, have_sipp, scenario};
use common::*;
use serde_json::Value;

struct Carrier(Child);

impl Carrier {
    fn start(dir: &std::path::Path, port: u16) -> Carrier {
        let child = Command::new("sipp")
            .current_dir(dir)
            .args(["-sf", &scenario("trunks/carrier.xml")])
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-nostdin", "-trace_err", "-timeout", "120s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Carrier(child)
    }
}

impl Drop for Carrier {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The example tenants, with acme's carrier at 127.0.0.1:`port` and its password in a file.
fn tenants_with_carrier(dir: &std::path::Path, port: u16, password: &str) -> std::path::PathBuf {
    let tenants = copy_examples(dir);
    let file = dir.join("trunk-password");
    std::fs::write(&file, format!("{password}\n")).unwrap();
    let acme = tenants.join("acme.toml");
    let text = std::fs::read_to_string(&acme)
        .unwrap()
        .replace("host = \"sip.carrier.example\"", &format!("host = \"127.0.0.1\"\nport = {port}"))
        .replace("env:ACME_TRUNK_PASSWORD", &format!("file:{}", file.display()));
    std::fs::write(&acme, text).unwrap();
    tenants
}

fn acme_carrier(pbxd: &Pbxd) -> Value {
    let out = pbxd.pbxctl(&["trunks", "--tenant", "acme", "-o", "json"]);
    let trunks: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    trunks.as_array().and_then(|t| t.iter().find(|t| t["name"] == "carrier").cloned()).unwrap_or(Value::Null)
}

#[test]
fn a_carrier_is_registered_to_watched_and_seen_going_down_and_up() {
    if !have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Short timers: an unanswered OPTIONS times out after 64*T1 = 3.2 s.
    let pbxd = Pbxd::start_with(dir.path(), "", "t1 = \"50ms\"\n[sip.trunks]\nqualify_interval = \"1s\"\n");
    let tenants = tenants_with_carrier(dir.path(), port, "trunk-secret");

    // Before the carrier exists, its pings go unanswered.
    let apply = pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    wait_for("the silent carrier to be down", Duration::from_secs(15), || acme_carrier(&pbxd)["state"] == "down");

    let carrier = Carrier::start(dir.path(), port);
    wait_for("registered and up", Duration::from_secs(40), || {
        let t = acme_carrier(&pbxd);
        t["state"] == "up" && t["registration"] == "registered"
    });
    let up = acme_carrier(&pbxd);
    assert_eq!(up["reason"], "", "{up}");
    wait_for("a measured round trip", Duration::from_secs(5), || acme_carrier(&pbxd)["rtt_ms"].is_number());
    let table = stdout(&pbxd.pbxctl(&["trunks"]));
    assert!(table.contains("carrier") && table.contains("up") && table.contains("registered"), "{table}");

    drop(carrier);
    wait_for("down once pings go unanswered", Duration::from_secs(15), || acme_carrier(&pbxd)["state"] == "down");
    assert_eq!(acme_carrier(&pbxd)["reason"], "the carrier does not answer");

    let _carrier = Carrier::start(dir.path(), port);
    wait_for("up again", Duration::from_secs(15), || acme_carrier(&pbxd)["state"] == "up");

    // The example tenants' other trunks are on reserved names: down, never looked up.
    let all: Value = serde_json::from_slice(&pbxd.pbxctl(&["trunks", "-o", "json"]).stdout).unwrap();
    for t in all.as_array().unwrap().iter().filter(|t| t["host"].as_str().is_some_and(|h| h.ends_with(".example"))) {
        assert_eq!(t["state"], "down", "{t}");
        assert!(t["reason"].as_str().unwrap().contains("reserved"), "{t}");
    }
}

#[test]
fn a_wrong_password_is_refused_by_the_carrier_and_shown() {
    if !have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let pbxd = Pbxd::start_with(dir.path(), "", "t1 = \"50ms\"\n[sip.trunks]\nqualify_interval = \"1s\"\n");
    let _carrier = Carrier::start(dir.path(), port);
    let tenants = tenants_with_carrier(dir.path(), port, "not-the-secret");
    assert!(pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]).status.success());
    wait_for("the refusal", Duration::from_secs(15), || acme_carrier(&pbxd)["registration"] == "failed");
    let t = acme_carrier(&pbxd);
    assert_eq!(t["state"], "down", "{t}");
    assert!(t["reason"].as_str().unwrap().contains("403"), "{t}");
}
