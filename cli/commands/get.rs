//! `pbxctl get`, `history` and `status`: read-only views of the running node.

use serde_json::Value;

use pbx::api::admin::Status;
use pbx::sip::core::RegistrationView;
use pbx::store::Revision;

use crate::Output;
use crate::client::Server;
use crate::output::{Table, format_time};

pub fn objects(server: &Server, kind: &str, tenant: Option<&str>, output: Output) -> u8 {
    let mut path = format!("/v1/objects/{kind}");
    if let Some(t) = tenant {
        path.push_str(&format!("?tenant={t}"));
    }
    match server.get::<Vec<Value>>(&path) {
        Ok(rows) => {
            match output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default()),
                Output::Table => print!("{}", Table::from_objects(&rows)),
            }
            0
        }
        Err(e) => e.report(),
    }
}

pub fn history(server: &Server, limit: i64, output: Output) -> u8 {
    match server.get::<Vec<Revision>>(&format!("/v1/history?limit={limit}")) {
        Ok(revisions) => {
            match output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&revisions).unwrap_or_default()),
                Output::Table => {
                    let mut table = Table::new(&["REVISION", "TIME", "AUTHOR", "CHECKSUM", "COMMENT"]);
                    for r in &revisions {
                        table.row(vec![
                            r.number.to_string(),
                            format_time(r.created_at),
                            r.author.clone(),
                            r.checksum.chars().take(12).collect(),
                            r.comment.clone(),
                        ]);
                    }
                    print!("{table}");
                }
            }
            0
        }
        Err(e) => e.report(),
    }
}

pub fn status(server: &Server) -> u8 {
    match server.get::<Status>("/v1/status") {
        Ok(status) => {
            let revision =
                status.revision.map_or_else(|| "none".to_owned(), |r| format!("{} by {}", r.number, r.author));
            println!("pbxd {}: revision {revision}, {} tenant(s)", status.version, status.tenants);
            if !status.sip.is_empty() {
                println!("SIP: {}", status.sip.join(", "));
            }
            if let Some(m) = &status.media {
                println!(
                    "Media: {} relay session(s), {} of {} port pairs free",
                    m.sessions, m.port_pairs_free, m.port_pairs
                );
            }
            if let Some(h) = &status.heap {
                println!(
                    "Heap: {:.2} MiB in use, {:.2} MiB held by the allocator",
                    h.in_use as f64 / 1048576.0,
                    h.held as f64 / 1048576.0
                );
            }
            0
        }
        Err(e) => e.report(),
    }
}

pub fn registrations(server: &Server, tenant: Option<&str>, output: Output) -> u8 {
    let path = match tenant {
        Some(t) => format!("/v1/registrations?tenant={t}"),
        None => "/v1/registrations".to_owned(),
    };
    match server.get::<Vec<RegistrationView>>(&path) {
        Ok(rows) => {
            match output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default()),
                Output::Table => {
                    let mut table =
                        Table::new(&["TENANT", "AOR", "CONTACT", "SOURCE", "TRANSPORT", "USER AGENT", "EXPIRES"]);
                    for r in rows {
                        let source = if r.behind_nat { format!("{} (NAT)", r.source) } else { r.source };
                        table.row(vec![
                            r.tenant,
                            r.aor,
                            r.contact,
                            source,
                            r.transport,
                            r.user_agent,
                            format!("{}s", r.expires_in),
                        ]);
                    }
                    print!("{table}");
                }
            }
            0
        }
        Err(e) => e.report(),
    }
}
