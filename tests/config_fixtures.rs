//! Every kind of tenant-file error, one fixture each under tests/fixtures/invalid, with the
//! exact output people see (path:line:col, message, help) as a snapshot.

use std::path::PathBuf;

use pbx::config::load::read_sources;
use pbx::config::load_tenants;

fn validate(path: &str) -> String {
    let (sources, mut problems) = read_sources(&[PathBuf::from(path)]);
    if let Err(mut more) = load_tenants(sources, true) {
        problems.append(&mut more);
    }
    assert!(!problems.is_empty(), "{path} should be invalid");
    problems.iter().map(|p| format!("{p}\n")).collect()
}

#[test]
fn every_invalid_fixture_reports_its_problems_at_the_right_place() {
    let mut entries: Vec<_> = std::fs::read_dir("tests/fixtures/invalid").unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    assert!(entries.len() >= 20, "one fixture per error kind");
    for entry in entries {
        let path = entry.to_str().unwrap().to_owned();
        let name = entry.file_stem().unwrap().to_str().unwrap().to_owned();
        insta::assert_snapshot!(name, validate(&path));
    }
}

#[test]
fn every_example_is_valid() {
    let (sources, problems) = read_sources(&[PathBuf::from("examples/tenants")]);
    assert!(problems.is_empty(), "{problems:?}");
    assert!(sources.len() >= 2);
    let tenants = load_tenants(sources, true)
        .unwrap_or_else(|p| panic!("{}", p.iter().map(|d| format!("{d}\n")).collect::<String>()));
    let acme = tenants.iter().find(|t| t.source.id == "acme").unwrap();
    assert!(acme.model.extensions.len() >= 18);
    assert_eq!(acme.model.queues.len(), 2);
    for config in ["examples/pbxd.toml", "packaging/pbxd.toml"] {
        pbx::config::daemon::DaemonConfig::load(std::path::Path::new(config))
            .unwrap_or_else(|p| panic!("{config}: {p:?}"));
    }
}

#[test]
fn committed_schemas_match_the_code() {
    for (name, generated) in pbx::config::schemas() {
        let committed = std::fs::read_to_string(format!("schemas/{name}")).unwrap_or_default();
        assert!(
            committed == generated,
            "schemas/{name} is out of date with the Rust model; run `cargo run --bin pbxctl -- schema --out schemas` and commit"
        );
    }
}

#[test]
fn bad_daemon_config_is_located() {
    let text = "data_dir = \"/tmp/x\"\nlog_level = \"info\"\n\n[admin]\nlisten = \"localhost\"\n\n[sip]\nlisten = [\"udp:0.0.0.0:5060\", \"sctp:1.2.3.4:5060\"]\n";
    let problems = pbx::config::daemon::DaemonConfig::parse("pbxd.toml", text).unwrap_err();
    let out: String = problems.iter().map(|p| format!("{p}\n")).collect();
    insta::assert_snapshot!(out);
    let problems = pbx::config::daemon::DaemonConfig::parse("pbxd.toml", "data_dir = 3\n").unwrap_err();
    assert_eq!((problems[0].line, problems[0].column), (1, 12));
}
