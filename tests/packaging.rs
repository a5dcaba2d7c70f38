//! The systemd unit and the .deb / .rpm packages, checked with the real tools.

use std::path::Path;
use std::process::Command;

/// Whether `tool` is on PATH; a missing tool fails when PBX_TEST_REQUIRE_TOOLS=1 (the README's
/// test command installs them) and is reported and skipped otherwise.
fn have(tool: &str) -> bool {
    let found =
        Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var("PBX_TEST_REQUIRE_TOOLS").as_deref() != Ok("1"), "{tool} is not installed");
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

#[test]
fn systemd_unit_is_hardened_and_verifies() {
    let unit = std::fs::read_to_string("systemd/pbxd.service").unwrap();
    for directive in [
        "ExecStartPre=/usr/bin/pbxd --check-config --config /etc/pbx/pbxd.toml",
        "Restart=on-failure",
        "User=pbx",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/pbx",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
    ] {
        assert!(unit.lines().any(|l| l == directive), "pbxd.service lacks {directive}");
    }
    if !have("systemd-analyze") {
        return;
    }
    // verify checks that the binaries exist, so point the copy at the ones just built.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("pbxd.service");
    std::fs::write(&copy, unit.replace("/usr/bin/pbxd", env!("CARGO_BIN_EXE_pbxd"))).unwrap();
    let out = Command::new("systemd-analyze").arg("verify").arg(&copy).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("pbxd.service:"), "systemd-analyze verify: {stderr}");
}

#[test]
fn packages_hold_binaries_unit_config_and_schemas() {
    if !have("dpkg-deb") {
        return;
    }
    let out_dir = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_pbxd")).parent().unwrap();
    let build = Command::new("packaging/build-packages.sh")
        .arg(bin_dir)
        .arg(out_dir.path())
        .env("PBX_PACKAGE_FAST", "1")
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    let version = env!("CARGO_PKG_VERSION");
    let expected = [
        "usr/bin/pbxd",
        "usr/bin/pbxctl",
        "lib/systemd/system/pbxd.service",
        "etc/pbx/pbxd.toml",
        "usr/lib/sysusers.d/pbx.conf",
        "usr/share/pbx/schemas/tenant.schema.json",
    ];
    let deb = out_dir.path().join(format!("pbx_{version}_amd64.deb"));
    let contents = Command::new("dpkg-deb").arg("--contents").arg(&deb).output().unwrap();
    let contents = String::from_utf8_lossy(&contents.stdout);
    for file in expected {
        assert!(contents.contains(&format!("./{file}")), ".deb lacks {file}");
    }
    let control = Command::new("dpkg-deb").arg("--field").arg(&deb).arg("Package").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&control.stdout).trim(), "pbx");
    if !have("rpmbuild") {
        return;
    }
    let rpm = out_dir.path().join(format!("pbx-{version}.x86_64.rpm"));
    let listing = Command::new("rpm").arg("-qlp").arg(&rpm).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for file in expected {
        assert!(listing.lines().any(|l| l == format!("/{file}")), ".rpm lacks {file}");
    }
}
