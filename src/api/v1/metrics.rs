//! `GET /metrics`: Prometheus text format, for the operator (node-wide figures, no tenant
//! data beyond counts per tenant).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::{ApiState, Principal, ask_core};
use crate::api::error::ApiError;
use crate::events::EventKind;
use crate::sip::core::CoreCommand;

/// Counters fed from the event bus and the API itself.
#[derive(Default)]
pub struct Metrics {
    calls_started: AtomicU64,
    /// answered, busy, no_answer, cancelled, failed.
    dispositions: [AtomicU64; 5],
    rtp_packets: AtomicU64,
    rtp_lost: AtomicU64,
    store_queries: AtomicU64,
    store_query_us: AtomicU64,
}

const DISPOSITIONS: [&str; 5] = ["answered", "busy", "no_answer", "cancelled", "failed"];

impl Metrics {
    pub fn observe(&self, kind: &EventKind) {
        match kind {
            EventKind::CallStarted { .. } => {
                self.calls_started.fetch_add(1, Relaxed);
            }
            EventKind::CallEnded { cdr } => {
                let i = DISPOSITIONS.iter().position(|d| *d == cdr.disposition).unwrap_or(4);
                self.dispositions[i].fetch_add(1, Relaxed);
                for leg in &cdr.legs {
                    self.rtp_packets.fetch_add(leg.packets_in, Relaxed);
                    self.rtp_lost.fetch_add(leg.lost, Relaxed);
                }
            }
            _ => {}
        }
    }

    pub fn store_query(&self, took: Duration) {
        self.store_queries.fetch_add(1, Relaxed);
        self.store_query_us.fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }
}

pub async fn render(State(state): State<ApiState>, principal: Principal) -> Result<impl IntoResponse, ApiError> {
    if principal != Principal::Operator {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "metrics need the operator token"));
    }
    let m = &state.metrics;
    let calls = state.sip.as_ref().map(|sip| sip.calls(None)).unwrap_or_default();
    let registrations = ask_core(state.sip.clone(), |reply| CoreCommand::Registrations { tenant: None, reply })
        .await
        .unwrap_or_default();
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, values: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in values {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let mut per_tenant = std::collections::BTreeMap::<&str, u64>::new();
    for c in &calls {
        *per_tenant.entry(&c.tenant).or_default() += 1;
    }
    let active: Vec<(String, u64)> = per_tenant.iter().map(|(t, n)| (format!("{{tenant=\"{t}\"}}"), *n)).collect();
    metric("pbx_active_calls", "gauge", "Calls in progress.", &active);
    metric("pbx_calls_started_total", "counter", "Calls admitted.", &[(String::new(), m.calls_started.load(Relaxed))]);
    let ended: Vec<(String, u64)> = DISPOSITIONS
        .iter()
        .zip(&m.dispositions)
        .map(|(d, n)| (format!("{{disposition=\"{d}\"}}"), n.load(Relaxed)))
        .collect();
    metric("pbx_calls_ended_total", "counter", "Finished calls by disposition.", &ended);
    metric("pbx_registrations", "gauge", "Registered contacts.", &[(String::new(), registrations.len() as u64)]);
    metric(
        "pbx_rtp_packets_total",
        "counter",
        "RTP packets received from phones by the relay.",
        &[(String::new(), m.rtp_packets.load(Relaxed))],
    );
    metric(
        "pbx_rtp_lost_total",
        "counter",
        "RTP packets lost on the way to the relay.",
        &[(String::new(), m.rtp_lost.load(Relaxed))],
    );
    if let Some(sip) = &state.sip {
        metric("pbx_relay_sessions", "gauge", "RTP relay sessions.", &[(String::new(), sip.relay.sessions() as u64)]);
        metric(
            "pbx_relay_port_pairs_free",
            "gauge",
            "Free RTP port pairs.",
            &[(String::new(), sip.relay.pool().available() as u64)],
        );
        let trunks: Vec<(String, u64)> = sip
            .trunks
            .borrow()
            .iter()
            .map(|t| (format!("{{tenant=\"{}\",trunk=\"{}\"}}", t.tenant, t.name), u64::from(t.state == "up")))
            .collect();
        metric("pbx_trunk_up", "gauge", "1 when the trunk's carrier answers (and accepted our registration).", &trunks);
    }
    metric(
        "pbx_store_queries_total",
        "counter",
        "Reporting queries run against the store.",
        &[(String::new(), m.store_queries.load(Relaxed))],
    );
    metric(
        "pbx_store_query_microseconds_total",
        "counter",
        "Time spent in those queries.",
        &[(String::new(), m.store_query_us.load(Relaxed))],
    );
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}

/// Feeds the counters from the bus for as long as pbxd runs.
pub fn spawn_observer(metrics: std::sync::Arc<Metrics>, bus: &crate::events::EventBus) {
    let mut rx = bus.subscribe();
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(event) => {
                    metrics.observe(&event.kind);
                    crate::events::pace(&rx).await;
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}
