//! The git-ops path end to end with the real binaries: pbxctl against a running pbxd.

mod common;

use common::*;

#[test]
fn plan_apply_replan_change_and_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let tenants = copy_examples(dir.path());
    let pbxd = Pbxd::start(dir.path(), "");
    let files = tenants.to_str().unwrap();

    let plan = pbxd.pbxctl(&["plan", files]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    let text = stdout(&plan);
    assert!(text.contains("+ tenant acme") && text.contains("+ tenant globex"), "{text}");
    assert!(text.contains("19 extension"), "{text}");

    let apply = pbxd.pbxctl(&["apply", "--yes", "--author", "ci", files]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    assert!(stdout(&apply).contains("Applied: revision 1 is running."));

    // Re-applying the same files changes nothing and makes no revision.
    assert_eq!(stdout(&pbxd.pbxctl(&["plan", files])), "No changes: the running revision already matches.\n");
    let again = pbxd.pbxctl(&["apply", "--yes", files]);
    assert!(again.status.success());
    assert!(stdout(&again).contains("No changes"));

    // One queue member changes: the plan shows exactly that.
    let acme = tenants.join("acme.toml");
    let original = std::fs::read_to_string(&acme).unwrap();
    std::fs::write(
        &acme,
        original.replace("members = [\"101\", \"102\", \"103\",", "members = [\"101\", \"102\", \"121\","),
    )
    .unwrap();
    assert_eq!(
        stdout(&pbxd.pbxctl(&["plan", files])),
        "~ tenant acme\n    ~ queue sales\n        members[2].extension: \"103\" -> \"121\"\nPlan: 0 to add, 1 to change, 0 to remove, in 1 tenant(s).\n"
    );
    assert!(pbxd.pbxctl(&["apply", "--yes", files]).status.success());
    let queues = stdout(&pbxd.pbxctl(&["get", "queues", "--tenant", "acme", "-o", "json"]));
    let queues: serde_json::Value = serde_json::from_str(&queues).unwrap();
    assert_eq!(queues[0]["name"], "sales");
    assert_eq!(queues[0]["members"][2]["extension"], "121");

    // Rollback restores revision 1's content as revision 3.
    let rollback = pbxd.pbxctl(&["rollback", "--yes"]);
    assert!(rollback.status.success(), "{}", stderr(&rollback));
    assert!(stdout(&rollback).contains("members[2].extension: \"121\" -> \"103\""));
    assert!(stdout(&rollback).contains("Applied: revision 3 is running."));
    std::fs::write(&acme, &original).unwrap();
    assert!(stdout(&pbxd.pbxctl(&["plan", files])).starts_with("No changes"));

    let history: serde_json::Value = serde_json::from_str(&stdout(&pbxd.pbxctl(&["history", "-o", "json"]))).unwrap();
    let numbers: Vec<i64> = history.as_array().unwrap().iter().map(|r| r["number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [3, 2, 1]);
    assert_eq!(history[2]["author"], "ci");
    assert_eq!(history[0]["comment"], "rollback to revision 1");

    let extensions = stdout(&pbxd.pbxctl(&["get", "extensions", "--tenant", "acme"]));
    assert_eq!(extensions.lines().count(), 1 + 19, "{extensions}");
    assert!(extensions.lines().next().unwrap().starts_with("TENANT  NUMBER  NAME"), "{extensions}");
    assert!(!extensions.contains("ha1"), "secrets never show in tables");
}

#[test]
fn prune_removes_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let tenants = copy_examples(dir.path());
    let pbxd = Pbxd::start(dir.path(), "");
    assert!(pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]).status.success());
    let globex = tenants.join("globex.toml");
    let globex = globex.to_str().unwrap();
    assert!(stdout(&pbxd.pbxctl(&["plan", globex])).starts_with("No changes"), "without --prune acme stays");
    let pruned = stdout(&pbxd.pbxctl(&["plan", "--prune", globex]));
    assert!(pruned.starts_with("- tenant acme\n    - 1 tenant, 19 extension, 2 did"), "{pruned}");
    assert!(pbxd.pbxctl(&["apply", "--prune", "--yes", globex]).status.success());
    let listed = stdout(&pbxd.pbxctl(&["get", "tenants", "-o", "json"]));
    assert!(!listed.contains("\"acme\"") && listed.contains("\"globex\""), "{listed}");
}

#[test]
fn invalid_files_change_nothing_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let tenants = copy_examples(dir.path());
    let pbxd = Pbxd::start(dir.path(), "");
    assert!(pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]).status.success());
    let acme = tenants.join("acme.toml");
    let text = std::fs::read_to_string(&acme).unwrap().replace("members = [\"101\"", "members = [\"199\"");
    let line = text.lines().position(|l| l.starts_with("members = [\"199\"")).unwrap() + 1;
    std::fs::write(&acme, text).unwrap();
    let apply = pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]);
    assert_eq!(apply.status.code(), Some(1));
    let err = stderr(&apply);
    let expected =
        format!("acme.toml:{line}:12: error: queue \"sales\" member \"199\" is not an extension of tenant acme");
    assert!(err.contains(&expected), "{err}");
    assert!(err.contains("nothing was changed"));
    let history = stdout(&pbxd.pbxctl(&["history", "-o", "json"]));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&history).unwrap().as_array().unwrap().len(), 1);
}

#[test]
fn exit_codes_tell_unreachable_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("unix:{}", dir.path().join("nobody.sock").display());
    assert_eq!(pbxctl(&missing, &["status"]).status.code(), Some(3));
    assert_eq!(pbxctl(&missing, &["rollback", "--yes", "--to", "1"]).status.code(), Some(3));

    // Rolling back to a revision that does not exist is refused by the server.
    let pbxd = Pbxd::start(dir.path(), "");
    let refused = pbxd.pbxctl(&["rollback", "--yes", "--to", "7"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("revision 7 does not exist"));
}

/// A test CA and a certificate it issued for 127.0.0.1, made with openssl:
/// (CA certificate, server certificate, server key).
fn test_pki(dir: &std::path::Path) -> Option<(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)> {
    let path = |name: &str| dir.join(name);
    let openssl = |args: &[&str]| {
        std::process::Command::new("openssl").current_dir(dir).args(args).output().is_ok_and(|o| o.status.success())
    };
    let ok = openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=pbx test CA",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
    ]) && openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "req.pem",
    ]) && {
        std::fs::write(path("ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").ok();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "req.pem",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-out",
            "cert.pem",
        ])
    };
    ok.then(|| (path("ca.pem"), path("cert.pem"), path("key.pem")))
}

#[test]
fn remote_admin_over_https_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = test_pki(dir.path()) else {
        assert!(std::env::var("PBX_TEST_REQUIRE_TOOLS").as_deref() != Ok("1"), "openssl is not installed");
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let token = "s3cret-token-for-tests";
    let hash: String =
        <sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let admin = format!(
        "listen = \"127.0.0.1:{port}\"\ntoken_sha256 = \"{hash}\"\ntls = {{ certificate = \"{}\", key = \"{}\" }}",
        cert.display(),
        key.display()
    );
    let _pbxd = Pbxd::start(dir.path(), &admin);
    let server = format!("https://127.0.0.1:{port}");
    let ca = ca.to_str().unwrap();

    let untrusted = pbxctl(&server, &["--token", token, "status"]);
    assert_eq!(untrusted.status.code(), Some(3), "an unknown certificate is not trusted");
    let denied = pbxctl(&server, &["--ca", ca, "status"]);
    assert_eq!(denied.status.code(), Some(2));
    assert!(stderr(&denied).contains("401"), "{}", stderr(&denied));
    let wrong = pbxctl(&server, &["--ca", ca, "--token", "guess", "status"]);
    assert_eq!(wrong.status.code(), Some(2));
    let ok = pbxctl(&server, &["--ca", ca, "--token", token, "status"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("revision none"));
}

#[test]
fn bad_daemon_config_is_rejected_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pbxd.toml");
    std::fs::write(&config, "data_dir = \"/tmp/x\"\nlog_levle = \"info\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pbxd"))
        .arg("--check-config")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("pbxd.toml:2:1: error: unknown field `log_levle`"), "{err}");
    std::fs::write(&config, "data_dir = \"/tmp/x\"\n").unwrap();
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_pbxd"))
        .arg("--check-config")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(ok.status.success());
}

/// pbxd killed with SIGKILL while an apply is in flight comes back with either the old or
/// the new revision, never a mix.
#[test]
fn sigkill_during_apply_leaves_old_or_new() {
    let dir = tempfile::tempdir().unwrap();
    let old_dir = dir.path().join("old");
    let new_dir = dir.path().join("new");
    std::fs::create_dir_all(&old_dir).unwrap();
    std::fs::create_dir_all(&new_dir).unwrap();
    std::fs::write(old_dir.join("big.toml"), generated_tenant("Big", "big.example", 3000, 300, 30)).unwrap();
    std::fs::write(new_dir.join("big.toml"), generated_tenant("Big v2", "big.example", 3200, 300, 30)).unwrap();
    let (old, new) = (old_dir.to_str().unwrap().to_owned(), new_dir.to_str().unwrap().to_owned());

    let mut pbxd = Pbxd::start(dir.path(), "");
    assert!(pbxd.pbxctl(&["apply", "--yes", &old]).status.success());
    let mut outcomes = Vec::new();
    for delay_ms in [0u64, 30, 60, 100, 150, 250, 400, 700] {
        let apply = std::process::Command::new(env!("CARGO_BIN_EXE_pbxctl"))
            .args(["apply", "--yes", &new])
            .env("PBXCTL_SERVER", pbxd.server())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        pbxd.kill();
        let _ = apply.wait_with_output();
        pbxd.spawn();
        let new_plan = stdout(&pbxd.pbxctl(&["plan", &new]));
        let old_plan = stdout(&pbxd.pbxctl(&["plan", &old]));
        let is_new = new_plan.starts_with("No changes");
        let is_old = old_plan.starts_with("No changes");
        assert!(is_new ^ is_old, "after SIGKILL at {delay_ms} ms the running state is neither old nor new");
        outcomes.push(is_new);
        // Back to the old state for the next round.
        if is_new {
            assert!(pbxd.pbxctl(&["apply", "--yes", &old]).status.success());
        }
    }
    eprintln!("applied before the kill: {outcomes:?}");
}
