//! In-kernel forwarding of latched RTP through nftables (`[media] kernel_forwarding`).
//!
//! Exists because relaying in userspace costs at least one receive and one send per packet
//! (4.3 µs on a 2-core VM: `cargo bench --bench relay -- floor`), while a stateless nftables
//! rewrite forwards one for about 0.6 µs (`tests/bench/kernel-forward-floor.sh`). Once both
//! RTP legs of a session have latched, its worker hands the two directions to the kernel: a
//! rule ahead of conntrack rewrites a packet from the latched peer to our port into the packet
//! the relay would have sent, from our other leg's port to the other peer. Everything else
//! still reaches the sockets: RTCP, other sources, whatever arrives while rules change.
//!
//! While a session is in the kernel, packet and byte counts come from the rule's counters;
//! loss and jitter are the peers' own, from their RTCP reports. A port must never be reused
//! while a rule still points at it: pairs are released only once their rules are gone.
//!
//! Rules live in one table per worker, named after the process, made at start and deleted at
//! shutdown, or at the next start when the process died. `nft -f -` changes them in batches,
//! on this module's own thread: a worker never waits for it.

use std::collections::HashMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::media::relay::port_pool::PortPair;

/// How often the rules' counters are read back.
const COUNT_EVERY: Duration = Duration::from_secs(1);
/// Changes wait this long for others to go in the same `nft` run (about 3 ms of CPU each):
/// at most 20 runs a second whatever the call rate. Harmless for calls: installing comes a
/// moment later, and a released pair rests far longer (`WARM_REST`) before its next call.
const GATHER: Duration = Duration::from_millis(50);
/// Marks a forwarded packet between the rewrite of its destination (prerouting) and of its
/// source (input or postrouting: a local source address is refused before routing).
const MARK: u32 = 0x7062_7872;

/// One direction: RTP from `peer` to our `port` leaves from our `out_port` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Forward {
    pub peer: SocketAddrV4,
    pub port: u16,
    pub out_port: u16,
    pub to: SocketAddrV4,
}

/// What a rule has forwarded so far (bytes as IP datagrams).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counted {
    pub port: u16,
    pub packets: u64,
    pub bytes: u64,
}

pub(crate) enum KernelOp {
    Install(Vec<Forward>),
    /// Delete these rules, then release the pairs (which may be empty).
    Remove {
        forwards: Vec<Forward>,
        release: Vec<PortPair>,
    },
}

/// A worker's handle on its rules.
pub(crate) struct KernelLink {
    ops: Option<Sender<KernelOp>>,
    /// Cumulative counts of every installed rule, every [`COUNT_EVERY`], with when they
    /// were read.
    pub counts: Receiver<(Instant, Vec<Counted>)>,
    /// False when the host does not forward IPv4: only peers on this host qualify.
    forwarding: bool,
    thread: Option<JoinHandle<()>>,
}

impl KernelLink {
    /// Makes worker `worker`'s table for media address `ip` and starts its thread.
    pub(crate) fn start(worker: usize, ip: Ipv4Addr) -> Result<KernelLink, String> {
        delete_stale_tables();
        let table = format!("pbx_relay_{}_{worker}", std::process::id());
        nft(&format!("table ip {table}\ndelete table ip {table}\n{}", ruleset(&table, ip)))?;
        let forwarding = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").is_ok_and(|v| v.trim() == "1");
        let (ops, rx) = channel();
        let (counts_tx, counts) = channel();
        let thread = std::thread::Builder::new()
            .name(format!("rtp-kernel-{worker}"))
            .spawn(move || run(&table, &rx, &counts_tx))
            .map_err(|e| e.to_string())?;
        Ok(KernelLink { ops: Some(ops), counts, forwarding, thread: Some(thread) })
    }

    pub(crate) fn send(&self, op: KernelOp) {
        if let Some(ops) = &self.ops {
            // The thread only stops when this link drops; a send cannot fail before that.
            let _ = ops.send(op);
        }
    }

    /// Whether packets may be forwarded to `to` (a remote peer needs IPv4 forwarding on).
    pub(crate) fn reaches(&self, to: Ipv4Addr) -> bool {
        self.forwarding || to.is_loopback()
    }
}

impl Drop for KernelLink {
    fn drop(&mut self) {
        self.ops = None; // the thread applies what is queued, deletes the table, and ends
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(table: &str, ops: &Receiver<KernelOp>, counts: &Sender<(Instant, Vec<Counted>)>) {
    let mut installed: HashMap<u16, Forward> = HashMap::new();
    let mut next_count = Instant::now() + COUNT_EVERY;
    loop {
        let wait = next_count.saturating_duration_since(Instant::now());
        let first = match ops.recv_timeout(wait) {
            Ok(op) => Some(op),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if first.is_some() {
            std::thread::sleep(GATHER);
        }
        let batch: Vec<KernelOp> = first.into_iter().chain(ops.try_iter()).collect();
        if !batch.is_empty() {
            apply(table, &mut installed, batch);
        }
        if Instant::now() >= next_count {
            next_count = Instant::now() + COUNT_EVERY;
            if !installed.is_empty() {
                let read_at = Instant::now();
                match nft_output(&["-j", "list", "set", "ip", table, "legs"]) {
                    Ok(json) => {
                        let _ = counts.send((read_at, parse_counts(&json)));
                    }
                    Err(e) => tracing::warn!(table, error = %e, "cannot read the kernel forwarding counters"),
                }
            }
        }
    }
    if let Err(e) = nft(&format!("delete table ip {table}\n")) {
        tracing::warn!(table, error = %e, "cannot delete the kernel forwarding table");
    }
}

/// Applies a batch in order, as one nft transaction; releases pairs only once their rules are
/// gone. When the transaction fails, the table is rebuilt from what should be installed.
fn apply(table: &str, installed: &mut HashMap<u16, Forward>, batch: Vec<KernelOp>) {
    let mut script = String::new();
    let mut release = Vec::new();
    for op in batch {
        match op {
            KernelOp::Install(forwards) => {
                for f in &forwards {
                    if let Some(old) = installed.insert(f.port, *f) {
                        script.push_str(&elements(table, "delete", &[old]));
                    }
                }
                script.push_str(&elements(table, "add", &forwards));
            }
            KernelOp::Remove { forwards, release: pairs } => {
                let gone: Vec<Forward> = forwards.iter().filter_map(|f| installed.remove(&f.port)).collect();
                script.push_str(&elements(table, "delete", &gone));
                release.extend(pairs);
            }
        }
    }
    if let Err(e) = nft(&script) {
        tracing::warn!(table, error = %e, "kernel forwarding change failed; rebuilding its rules");
        let current: Vec<Forward> = installed.values().copied().collect();
        let rebuild = format!(
            "flush set ip {table} legs\nflush map ip {table} to_addr\nflush map ip {table} to_port\n\
             flush map ip {table} from_port\n{}",
            elements(table, "add", &current)
        );
        if let Err(e) = nft(&rebuild) {
            // A rule may still point at these ports: never let another call have them.
            tracing::error!(table, error = %e, ports = release.len(), "kernel forwarding rules unknown; ports withheld");
            std::mem::forget(release);
            return;
        }
    }
    for pair in release {
        pair.release();
    }
}

/// The table: a set of latched sources (with counters) and three maps, keyed by our port.
fn ruleset(table: &str, ip: Ipv4Addr) -> String {
    format!(
        "table ip {table} {{
  set legs {{ type ipv4_addr . inet_service . inet_service; counter; }}
  map to_addr {{ type inet_service : ipv4_addr; }}
  map to_port {{ type inet_service : inet_service; }}
  map from_port {{ type inet_service : inet_service; }}
  chain prerouting {{
    type filter hook prerouting priority raw; policy accept;
    ip daddr {ip} ip saddr . udp sport . udp dport @legs notrack meta mark set {MARK:#x} udp sport set udp dport map @from_port ip daddr set udp dport map @to_addr udp dport set udp dport map @to_port
  }}
  chain input {{
    type filter hook input priority -300; policy accept;
    meta mark {MARK:#x} ip saddr set {ip}
  }}
  chain postrouting {{
    type filter hook postrouting priority -300; policy accept;
    meta mark {MARK:#x} ip saddr set {ip}
  }}
}}
"
    )
}

/// `verb` ("add" or "delete") the elements of `forwards`; empty when there are none.
fn elements(table: &str, verb: &str, forwards: &[Forward]) -> String {
    if forwards.is_empty() {
        return String::new();
    }
    let join = |f: &dyn Fn(&Forward) -> String| forwards.iter().map(f).collect::<Vec<_>>().join(", ");
    let legs = join(&|f| format!("{} . {} . {}", f.peer.ip(), f.peer.port(), f.port));
    let key_only = verb == "delete";
    let map = |value: &dyn Fn(&Forward) -> String| {
        join(&|f| if key_only { f.port.to_string() } else { format!("{} : {}", f.port, value(f)) })
    };
    format!(
        "{verb} element ip {table} legs {{ {legs} }}\n\
         {verb} element ip {table} to_addr {{ {} }}\n\
         {verb} element ip {table} to_port {{ {} }}\n\
         {verb} element ip {table} from_port {{ {} }}\n",
        map(&|f| f.to.ip().to_string()),
        map(&|f| f.to.port().to_string()),
        map(&|f| f.out_port.to_string()),
    )
}

/// The counters in `nft -j list set` output, by our port.
fn parse_counts(json: &str) -> Vec<Counted> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(json) else { return Vec::new() };
    let sets = doc["nftables"].as_array().into_iter().flatten().filter_map(|item| item.get("set"));
    let elems = sets.flat_map(|set| set["elem"].as_array().into_iter().flatten());
    elems
        .filter_map(|e| {
            let elem = &e["elem"];
            let port = elem["val"]["concat"].get(2)?.as_u64()?;
            Some(Counted {
                port: u16::try_from(port).ok()?,
                packets: elem["counter"]["packets"].as_u64()?,
                bytes: elem["counter"]["bytes"].as_u64()?,
            })
        })
        .collect()
}

/// Deletes the tables of pbxd processes that are gone (a crash leaves its rules behind).
fn delete_stale_tables() {
    let Ok(list) = nft_output(&["list", "tables", "ip"]) else { return };
    for name in list.lines().filter_map(|l| l.strip_prefix("table ip pbx_relay_")) {
        let alive = name.split('_').next().is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = nft(&format!("delete table ip pbx_relay_{name}\n"));
        }
    }
}

fn nft(script: &str) -> Result<(), String> {
    if script.is_empty() {
        return Ok(());
    }
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run nft: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes()).map_err(|e| format!("nft: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("nft: {e}"))?;
    match out.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
    }
}

fn nft_output(args: &[&str]) -> Result<String, String> {
    let out = Command::new("nft").args(args).output().map_err(|e| format!("cannot run nft: {e}"))?;
    match out.status.success() {
        true => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        false => Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forward() -> Forward {
        Forward {
            peer: "192.0.2.10:4000".parse().unwrap(),
            port: 30000,
            out_port: 30002,
            to: "198.51.100.7:5004".parse().unwrap(),
        }
    }

    #[test]
    fn elements_are_added_with_values_and_deleted_by_key() {
        let add = elements("t", "add", &[forward()]);
        assert_eq!(
            add,
            "add element ip t legs { 192.0.2.10 . 4000 . 30000 }\n\
             add element ip t to_addr { 30000 : 198.51.100.7 }\n\
             add element ip t to_port { 30000 : 5004 }\n\
             add element ip t from_port { 30000 : 30002 }\n"
        );
        let delete = elements("t", "delete", &[forward()]);
        assert!(delete.contains("delete element ip t to_addr { 30000 }"), "{delete}");
        assert!(delete.contains("delete element ip t legs { 192.0.2.10 . 4000 . 30000 }"), "{delete}");
        assert_eq!(elements("t", "add", &[]), "");
    }

    #[test]
    fn counters_are_read_from_nft_json() {
        let json = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"set": {"family": "ip",
            "name": "legs", "table": "t", "elem": [{"elem": {"val": {"concat": ["127.0.0.2", 40000, 30000]},
            "counter": {"packets": 20000, "bytes": 4000000}}}]}}]}"#;
        assert_eq!(parse_counts(json), vec![Counted { port: 30000, packets: 20000, bytes: 4_000_000 }]);
        assert_eq!(parse_counts("not json"), vec![]);
    }

    #[test]
    fn the_ruleset_marks_in_prerouting_and_rewrites_the_source_after_routing() {
        let rules = ruleset("t", Ipv4Addr::new(10, 0, 0, 1));
        assert!(
            rules.contains("ip daddr 10.0.0.1 ip saddr . udp sport . udp dport @legs notrack meta mark set 0x70627872")
        );
        assert_eq!(rules.matches("meta mark 0x70627872 ip saddr set 10.0.0.1").count(), 2, "input and postrouting");
    }
}
