//! `pbxctl trunks`: each tenant's carriers and whether they answer.

use pbx::trunk::TrunkView;

use crate::Output;
use crate::client::Server;
use crate::output::Table;

pub fn trunks(server: &Server, tenant: Option<&str>, output: Output) -> u8 {
    let path = match tenant {
        Some(t) => format!("/v1/trunks?tenant={t}"),
        None => "/v1/trunks".to_owned(),
    };
    let rows = match server.get::<Vec<TrunkView>>(&path) {
        Ok(rows) => rows,
        Err(e) => return e.report(),
    };
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default()),
        Output::Table => {
            let mut table = Table::new(&["TENANT", "TRUNK", "CARRIER", "STATE", "REGISTERED", "RTT", "WHY"]);
            for t in rows {
                table.row(vec![
                    t.tenant,
                    t.name,
                    format!("{}:{} ({})", t.host, t.port, t.transport),
                    t.state,
                    t.registration,
                    t.rtt_ms.map(|r| format!("{r:.0} ms")).unwrap_or_default(),
                    t.reason,
                ]);
            }
            print!("{table}");
        }
    }
    0
}
