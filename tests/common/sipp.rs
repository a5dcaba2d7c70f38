//! SIPp from tests: scenario runs, and SIPp callees ("phones") registered to pbxd.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub fn have_sipp() -> bool {
    super::have_tool("sipp", "-v")
}

/// A UDP port nobody uses right now.
pub fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A free port for SIPp's media (`-mp`): SIPp binds audio RTP/RTCP there and video RTP/RTCP
/// on the next two ports, so all four must be free (checking two let SIPp fail now and then
/// with "Unable to bind video RTP socket").
fn media_port() -> u16 {
    loop {
        let p = free_port() & !3;
        if (p..p + 4).all(|port| std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()) {
            return p;
        }
    }
}

static FILES: AtomicU32 = AtomicU32::new(0);

/// An injection file (-inf) with `rows`, each a `;`-separated line.
pub fn inf(dir: &Path, rows: &[String]) -> PathBuf {
    let path = dir.join(format!("inf-{}-{}.csv", std::process::id(), FILES.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&path, format!("SEQUENTIAL\n{}\n", rows.join("\n"))).unwrap();
    path
}

/// The path of a scenario under tests/sipp.
pub fn scenario(name: &str) -> String {
    format!("{}/tests/sipp/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A SIPp command for `scenario` against `server` from `local_ip:port`.
pub fn command(
    dir: &Path,
    scenario_name: &str,
    rows: &[String],
    local_ip: &str,
    port: u16,
    server: SocketAddr,
) -> Command {
    let mut cmd = Command::new("sipp");
    cmd.current_dir(dir)
        .args(["-sf", &scenario(scenario_name)])
        .args(["-i", local_ip, "-p", &port.to_string(), "-mp", &media_port().to_string()])
        .args(["-nostdin", "-trace_err"])
        .arg(server.to_string());
    if !rows.is_empty() {
        cmd.args(["-inf", inf(dir, rows).to_str().unwrap()]);
    }
    cmd
}

/// Runs `scenario` `calls` times and waits for it.
pub fn run(
    dir: &Path,
    scenario_name: &str,
    rows: &[String],
    local_ip: &str,
    server: SocketAddr,
    calls: usize,
) -> Output {
    command(dir, scenario_name, rows, local_ip, free_port(), server)
        .args(["-m", &calls.to_string(), "-r", "50", "-l", "10"])
        .args(["-timeout", "15s", "-timeout_error", "-recv_timeout", "2s"])
        .output()
        .unwrap()
}

/// Runs `calls` calls of `scenario` at `rate` per second, at most `limit` at once.
pub fn load(
    dir: &Path,
    scenario_name: &str,
    rows: &[String],
    server: SocketAddr,
    calls: usize,
    rate: u32,
    limit: u32,
) -> Output {
    let timeout = calls as u64 / u64::from(rate.max(1)) + 30;
    command(dir, scenario_name, rows, "127.0.0.1", free_port(), server)
        .args(["-m", &calls.to_string(), "-r", &rate.to_string(), "-l", &limit.to_string()])
        .args(["-timeout", &format!("{timeout}s"), "-timeout_error", "-recv_timeout", "10s"])
        .output()
        .unwrap()
}

/// A SIPp callee: registered as `ext` from its own port, then running `scenario_name` once.
pub struct Phone {
    child: Option<Child>,
    pub port: u16,
}

impl Phone {
    pub fn register(dir: &Path, ext: &str, domain: &str, server: SocketAddr, scenario_name: &str) -> Phone {
        Self::answering(dir, ext, domain, server, scenario_name, 1)
    }

    /// A phone that takes `calls` calls, several at once.
    pub fn answering(
        dir: &Path,
        ext: &str,
        domain: &str,
        server: SocketAddr,
        scenario_name: &str,
        calls: usize,
    ) -> Phone {
        let port = free_port();
        let rows = [format!("{ext};demo-{ext};{domain}")];
        let reg = command(dir, "register.xml", &rows, "127.0.0.1", port, server)
            .args(["-m", "1", "-timeout", "10s", "-timeout_error"])
            .output()
            .unwrap();
        assert!(reg.status.success(), "phone {ext} did not register: {}", String::from_utf8_lossy(&reg.stdout));
        let child = command(dir, scenario_name, &[], "127.0.0.1", port, server)
            .args(["-m", &calls.to_string(), "-timeout", &format!("{}s", 60 + calls / 100), "-timeout_error"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Let SIPp bind its port before a call is placed.
        std::thread::sleep(std::time::Duration::from_millis(300));
        Phone { child: Some(child), port }
    }

    /// Waits for the scenario to end; true when it ran as written.
    pub fn finished_ok(mut self) -> bool {
        let out = self.child.take().unwrap().wait_with_output().unwrap();
        if !out.status.success() {
            eprintln!("phone on {}: {}", self.port, String::from_utf8_lossy(&out.stdout));
        }
        out.status.success()
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
