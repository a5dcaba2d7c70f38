//! Helpers for end-to-end tests: a real pbxd process on a temporary directory, pbxctl runs,
//! and generated tenants.
#![allow(dead_code)]

pub mod sipp;
pub mod torture;

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A pbxd process with its own data directory and admin socket.
pub struct Pbxd {
    child: Option<Child>,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub socket: PathBuf,
}

impl Pbxd {
    /// Writes pbxd.toml into `dir` (with `admin_extra` added to its [admin] table) and starts
    /// pbxd on it, SIP on loopback ports of its own.
    pub fn start(dir: &Path, admin_extra: &str) -> Self {
        Self::start_with(dir, admin_extra, "")
    }

    /// Like `start`, with `sip_extra` added after the [sip] table (it may open subtables
    /// such as [sip.security]).
    pub fn start_with(dir: &Path, admin_extra: &str, sip_extra: &str) -> Self {
        let mut pbxd = Self::configure(dir, admin_extra, sip_extra);
        pbxd.spawn();
        pbxd
    }

    /// Writes pbxd.toml without starting pbxd, for tests that edit it first.
    pub fn configure(dir: &Path, admin_extra: &str, sip_extra: &str) -> Self {
        let pbxd = Self::attach(dir);
        std::fs::write(
            &pbxd.config,
            format!(
                "data_dir = \"{}\"\nlog_level = \"warn\"\n\n[admin]\nsocket = \"{}\"\n{admin_extra}\n\n\
                 [sip]\nlisten = [\"udp:127.0.0.1:0\", \"tcp:127.0.0.1:0\"]\n{sip_extra}\n",
                dir.join("data").display(),
                pbxd.socket.display()
            ),
        )
        .unwrap();
        pbxd
    }

    /// A handle for a pbxd whose pbxd.toml already is in `dir`; call `spawn` to start it.
    pub fn attach(dir: &Path) -> Self {
        Self { child: None, dir: dir.to_owned(), config: dir.join("pbxd.toml"), socket: dir.join("admin.sock") }
    }

    pub fn spawn(&mut self) {
        self.spawn_in(None);
    }

    /// Starts pbxd, inside network namespace `netns` when given (`ip netns exec` runs it in
    /// place, so the pid is pbxd's).
    pub fn spawn_in(&mut self, netns: Option<&str>) {
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_pbxd")]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_pbxd")),
        };
        let child = command.arg("--config").arg(&self.config).stdin(Stdio::null()).spawn().unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&self.socket).is_err() {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("pbxd exited during start: {status}");
            }
            assert!(Instant::now() < deadline, "pbxd did not open its admin socket");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("pbxd runs")
    }

    pub fn server(&self) -> String {
        format!("unix:{}", self.socket.display())
    }

    /// SIGTERM, then wait for pbxd to drain and exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().unwrap().is_none() {
                assert!(Instant::now() < deadline, "pbxd did not stop on SIGTERM");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn pbxctl(&self, args: &[&str]) -> Output {
        pbxctl(&self.server(), args)
    }

    /// The address of the SIP listener for "udp" or "tcp", from `pbxctl status`.
    pub fn sip_addr(&self, transport: &str) -> std::net::SocketAddr {
        let status = stdout(&self.pbxctl(&["status"]));
        let line = status.lines().find_map(|l| l.strip_prefix("SIP: ")).expect("pbxd reports its SIP listeners");
        line.split(", ")
            .find_map(|l| l.strip_prefix(&format!("{transport}:")))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no {transport} listener in {line}"))
    }
}

impl Drop for Pbxd {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn pbxctl(server: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pbxctl"))
        .args(args)
        .env("PBXCTL_SERVER", server)
        .env_remove("PBXCTL_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Copies the example tenants (with their sounds) into `dir/tenants`.
pub fn copy_examples(dir: &Path) -> PathBuf {
    let target = dir.join("tenants");
    std::fs::create_dir_all(target.join("sounds")).unwrap();
    for entry in
        std::fs::read_dir("examples/tenants").unwrap().chain(std::fs::read_dir("examples/tenants/sounds").unwrap())
    {
        let path = entry.unwrap().path();
        if path.is_file() {
            let relative = path.strip_prefix("examples/tenants").unwrap();
            std::fs::copy(&path, target.join(relative)).unwrap();
        }
    }
    target
}

/// A generated tenant: `extensions` 4-digit extensions from 0000 (so up to 10,000), `dids` DIDs, `queues`
/// queues of ten members each, secrets as env references.
pub fn generated_tenant(name: &str, domain: &str, extensions: usize, dids: usize, queues: usize) -> String {
    let mut t = String::with_capacity(extensions * 120);
    writeln!(t, "[tenant]\nname = \"{name}\"\ndomains = [\"{domain}\"]\ntimezone = \"UTC\"\nextension_digits = 4\n")
        .unwrap();
    for i in 0..extensions {
        writeln!(
            t,
            "[[extension]]\nnumber = \"{i:04}\"\nname = \"User {i}\"\nsecret = \"env:SIP_{i}\"\ngroups = [\"g{}\"]\n",
            i % 50
        )
        .unwrap();
    }
    for i in 0..dids {
        writeln!(t, "[[did]]\nnumber = \"+4930{:07}\"\nto = \"extension:{:04}\"\n", 1_000_000 + i, i % extensions)
            .unwrap();
    }
    for q in 0..queues {
        let members: Vec<String> = (0..10).map(|m| format!("\"{:04}\"", (q * 10 + m) % extensions)).collect();
        writeln!(t, "[[queue]]\nname = \"q{q}\"\nstrategy = \"longest_idle\"\nmembers = [{}]\n", members.join(", "))
            .unwrap();
    }
    t
}

/// Whether `program` runs (`program arg` succeeds to start). A missing tool skips the test,
/// unless PBX_TEST_REQUIRE_TOOLS=1 (the README's test command), where it fails.
pub fn have_tool(program: &str, arg: &str) -> bool {
    let found = Command::new(program).arg(arg).output().is_ok();
    if !found {
        assert!(std::env::var("PBX_TEST_REQUIRE_TOOLS").as_deref() != Ok("1"), "{program} is not installed");
        eprintln!("skipped: {program} is not installed");
    }
    found
}

/// Polls `done` every 100 ms until it holds; fails the test after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// Anonymous resident memory of process `pid` (its heap, stacks and other private data, not
/// the pages of its executable that happen to be mapped in), in KiB.
pub fn anon_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "RssAnon:")
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap()
}
