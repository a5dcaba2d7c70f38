//! Control-plane scale: a generated tenant with 10,000 extensions, 1,000 DIDs and 100
//! queues through the real binaries. Targets: validate < 1 s, apply < 2 s, no-op re-apply
//! < 0.5 s (release build).
//!
//! Run: `cargo bench --bench config_scale`

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Pbxd, generated_tenant, pbxctl, stderr};

fn time(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    samples.sort();
    (samples[0], samples[runs / 2])
}

fn report(what: &str, (best, median): (Duration, Duration), target_ms: u128) {
    let verdict = if median.as_millis() < target_ms { "ok" } else { "OVER TARGET" };
    println!(
        "{what:<34} best {:>7.1} ms  median {:>7.1} ms  target < {target_ms} ms  {verdict}",
        best.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1");
    let v2 = dir.path().join("v2");
    std::fs::create_dir_all(&v1).unwrap();
    std::fs::create_dir_all(&v2).unwrap();
    let text = generated_tenant("Scale", "scale.example", 10_000, 1_000, 100);
    std::fs::write(v1.join("scale.toml"), &text).unwrap();
    // v2 differs in one queue member.
    std::fs::write(v2.join("scale.toml"), text.replacen("members = [\"0000\",", "members = [\"9999\",", 1)).unwrap();
    println!("tenant file: {} KiB, 10,000 extensions, 1,000 DIDs, 100 queues", text.len() / 1024);
    let (v1, v2) = (v1.to_str().unwrap().to_owned(), v2.to_str().unwrap().to_owned());

    let pbxd = Pbxd::start(dir.path(), "");
    let run = |args: &[&str]| {
        let out = pbxctl(&pbxd.server(), args);
        assert!(out.status.success(), "pbxctl {args:?}: {}", stderr(&out));
    };

    report("pbxctl validate", time(5, || run(&["validate", &v1])), 1000);
    report("pbxctl apply (first, whole tenant)", time(1, || run(&["apply", "--yes", &v1])), 2000);
    report("pbxctl apply (no-op re-apply)", time(5, || run(&["apply", "--yes", &v1])), 500);
    let mut flip = false;
    report(
        "pbxctl apply (one queue member)",
        time(4, || {
            flip = !flip;
            run(&["apply", "--yes", if flip { &v2 } else { &v1 }]);
        }),
        2000,
    );
    report("pbxctl plan (one queue member)", time(5, || run(&["plan", &v2])), 1000);
}
