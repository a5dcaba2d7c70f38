//! The data behind `pbxctl top`: a snapshot of calls, registrations and CDRs from the admin
//! API, then the live event stream (`/v1/events`, Server-Sent Events) applied on top. A
//! fresh snapshot every few seconds heals anything the stream could not say (registrations
//! refreshed, events missed while lagging). Runs on its own thread; the screen never waits.

use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use pbx::call::CallView;
use pbx::events::Event;
use pbx::sip::core::RegistrationView;
use pbx::store::Cdr;

use super::state::Snapshot;
use crate::client::Server;

const REFRESH: Duration = Duration::from_secs(5);

/// What the feed tells the screen.
pub enum Update {
    Snapshot(Snapshot),
    Event(Box<Event>),
    /// Connected, or why not.
    Connection(String),
}

fn snapshot(server: &Server, tenant: Option<&str>) -> Result<Snapshot, String> {
    let q = tenant.map(|t| format!("tenant={t}")).unwrap_or_default();
    let get = |path: &str| format!("{path}?{q}");
    let err = |_| "pbxd did not answer".to_owned();
    Ok(Snapshot {
        calls: server.get::<Vec<CallView>>(&get("/v1/calls")).map_err(err)?,
        registrations: server.get::<Vec<RegistrationView>>(&get("/v1/registrations")).map_err(err)?,
        trunks: server.get::<Vec<pbx::trunk::TrunkView>>(&get("/v1/trunks")).map_err(err)?,
        cdrs: server.get::<Vec<Cdr>>(&format!("/v1/cdrs?limit=200&{q}")).map_err(err)?,
    })
}

/// Runs until the screen goes away (the channel closes).
pub fn run(server: Server, tenant: Option<String>, tx: Sender<Update>) {
    let stream_server = Server { address: server.address.clone(), token: server.token.clone(), ca: server.ca.clone() };
    let stream_tx = tx.clone();
    let stream_tenant = tenant.clone();
    std::thread::spawn(move || stream(stream_server, stream_tenant, stream_tx));
    let mut last = Instant::now() - REFRESH;
    loop {
        if last.elapsed() >= REFRESH {
            last = Instant::now();
            let update = match snapshot(&server, tenant.as_deref()) {
                Ok(s) => Update::Snapshot(s),
                Err(why) => Update::Connection(why),
            };
            if tx.send(update).is_err() {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reads the event stream, reconnecting after failures.
fn stream(server: Server, tenant: Option<String>, tx: Sender<Update>) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
    loop {
        let result = runtime.block_on(read_events(&server, tenant.as_deref(), &tx));
        let why = match result {
            Ok(()) => "event stream ended; reconnecting".to_owned(),
            Err(e) => format!("event stream: {e}; reconnecting"),
        };
        if tx.send(Update::Connection(why)).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

async fn read_events(server: &Server, tenant: Option<&str>, tx: &Sender<Update>) -> Result<(), String> {
    let (host, mut sender) = pbx::http_client::connect(&server.address, server.ca.as_deref()).await?;
    let path = match tenant {
        Some(t) => format!("/v1/events?tenant={t}"),
        None => "/v1/events".to_owned(),
    };
    let mut request = hyper::Request::get(path).header(hyper::header::HOST, host);
    if let Some(token) = &server.token {
        request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Full::new(Bytes::new())).map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("pbxd answered {}", response.status()));
    }
    tx.send(Update::Connection("live".to_owned())).map_err(|_| "screen closed".to_owned())?;
    let mut body = response.into_body();
    let mut pending = String::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        let Some(data) = frame.data_ref() else { continue };
        pending.push_str(&String::from_utf8_lossy(data));
        while let Some(end) = pending.find("\n\n") {
            let message: String = pending.drain(..end + 2).collect();
            for line in message.lines() {
                if let Some(json) = line.strip_prefix("data: ")
                    && let Ok(event) = serde_json::from_str::<Event>(json)
                {
                    tx.send(Update::Event(Box::new(event))).map_err(|_| "screen closed".to_owned())?;
                }
            }
        }
    }
    Ok(())
}
