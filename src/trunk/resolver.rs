//! Builds the trunk specs the SIP core monitors from the running tenant files: carrier
//! addresses resolved (again every few minutes, for carriers that move), passwords read from
//! their references. Reserved documentation names (RFC 2606/6761: `.example`, `.invalid`,
//! `.test`) are never looked up: they cannot exist, and a lookup would leak queries.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::{RegisterSpec, TrunkSpec};
use crate::reconcile::{RoutingSnapshot, read_secret};
use crate::sip::core::CoreCommand;

/// How often carrier names are resolved again.
const RERESOLVE: Duration = Duration::from_secs(300);
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs until the core is gone: sends the specs at start, on every tenant change, and when a
/// re-resolution changes an address.
pub fn spawn(mut snapshots: watch::Receiver<Arc<RoutingSnapshot>>, core: mpsc::Sender<CoreCommand>) {
    tokio::spawn(async move {
        let mut last: Option<Vec<TrunkSpec>> = None;
        loop {
            let snapshot = snapshots.borrow_and_update().clone();
            let specs = specs(&snapshot).await;
            if last.as_ref() != Some(&specs) {
                if core.send(CoreCommand::Trunks(specs.clone())).await.is_err() {
                    return;
                }
                last = Some(specs);
            }
            tokio::select! {
                changed = snapshots.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(RERESOLVE) => {}
            }
        }
    });
}

async fn specs(snapshot: &RoutingSnapshot) -> Vec<TrunkSpec> {
    let mut out = Vec::new();
    for (tenant, runtime) in &snapshot.tenants {
        for trunk in &runtime.model.trunks {
            let register = trunk.register.as_ref().map(|r| RegisterSpec {
                user: r.user.clone(),
                password: read_secret(&r.secret),
                expiry: r.expiry.as_std(),
            });
            out.push(TrunkSpec {
                tenant: tenant.clone(),
                name: trunk.name.clone(),
                host: trunk.host.clone(),
                port: trunk.port,
                transport: trunk.transport,
                dest: resolve(&trunk.host, trunk.port).await,
                register,
            });
        }
    }
    out
}

/// The carrier's address: an IP literal as is, a name through the system resolver (first
/// IPv4 answer preferred: our SIP listeners are usually IPv4).
pub async fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let lower = host.trim_end_matches('.').to_ascii_lowercase();
    let reserved = ["example", "invalid", "test"];
    if reserved.iter().any(|tld| lower == *tld || lower.ends_with(&format!(".{tld}"))) {
        return Err(format!("{host} is a reserved name (RFC 2606) and is not looked up"));
    }
    match tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            addrs
                .iter()
                .find(|a| a.is_ipv4())
                .or(addrs.first())
                .copied()
                .ok_or_else(|| format!("{host} has no address"))
        }
        Ok(Err(e)) => Err(format!("{host} does not resolve: {e}")),
        Err(_) => Err(format!("{host}: DNS lookup timed out")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn literals_pass_and_reserved_names_are_never_looked_up() {
        assert_eq!(resolve("127.0.0.1", 5070).await, Ok("127.0.0.1:5070".parse().unwrap()));
        assert_eq!(resolve("[::1]", 5060).await, Ok("[::1]:5060".parse().unwrap()));
        for name in ["sip.carrier.example", "x.invalid", "carrier.test.", "EXAMPLE"] {
            let err = resolve(name, 5060).await.unwrap_err();
            assert!(err.contains("reserved"), "{name}: {err}");
        }
    }
}
