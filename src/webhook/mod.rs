//! Webhooks: events of a tenant POSTed as signed JSON to the URLs in its `[[webhook]]`s,
//! at least once, in event order per webhook, surviving restarts and receivers that are down.
//!
//! Two tasks. The enqueuer takes events off the bus and writes one outbox row per matching
//! webhook to the store (the durable part). The deliverer sends each webhook's rows oldest
//! first, one at a time, and deletes a row only after a 2xx; a failure backs off
//! exponentially (capped) and holds the webhook's later rows back, so a receiver sees a
//! call's events in order. Each POST carries `X-Pbx-Event-Id` (for de-duplication) and
//! `X-Pbx-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the
//! webhook's secret>`. The outbox is bounded per webhook: beyond `max_queued` the oldest rows
//! are dropped, with an error in the log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::{Notify, broadcast, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::daemon::WebhooksConfig;
use crate::config::model::Webhook;
use crate::events::{Event, EventBus};
use crate::reconcile::RoutingSnapshot;
use crate::store::{OutboxRow, Store, now_ms};

/// The running dispatcher.
pub struct Dispatcher {
    stop: oneshot::Sender<()>,
    enqueuer: JoinHandle<()>,
    deliverer: JoinHandle<()>,
}

impl Dispatcher {
    pub fn start(
        store: Store,
        snapshot: watch::Receiver<Arc<RoutingSnapshot>>,
        bus: &EventBus,
        config: WebhooksConfig,
    ) -> Dispatcher {
        let wake = Arc::new(Notify::new());
        let (stop, stopped) = oneshot::channel();
        let enqueuer =
            tokio::spawn(enqueue(store.clone(), snapshot.clone(), bus.subscribe(), Arc::clone(&wake), stopped));
        let deliverer = tokio::spawn(deliver(store, snapshot, wake, config));
        Dispatcher { stop, enqueuer, deliverer }
    }

    /// Writes the events already published to the outbox, then stops; what is queued is
    /// delivered after the next start.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.enqueuer.await;
        self.deliverer.abort();
    }
}

fn subscribed(webhook: &Webhook, event: &Event) -> bool {
    webhook.events.is_empty()
        || webhook
            .events
            .iter()
            .any(|k| serde_json::to_value(k).ok().as_ref().and_then(|v| v.as_str()) == Some(event.kind.name()))
}

/// The outbox rows `event` makes for its tenant's webhooks.
fn rows_for(snapshot: &RoutingSnapshot, event: &Event) -> Vec<OutboxRow> {
    let Some(tenant) = event.tenant.as_deref().and_then(|t| snapshot.tenants.get(t)) else { return Vec::new() };
    let matching: Vec<&Webhook> = tenant.model.webhooks.iter().filter(|w| subscribed(w, event)).collect();
    if matching.is_empty() {
        return Vec::new();
    }
    let payload = serde_json::to_string(event).unwrap_or_default();
    matching
        .into_iter()
        .map(|w| OutboxRow {
            tenant: tenant.id.clone(),
            webhook: w.name.clone(),
            event_id: i64::try_from(event.id).unwrap_or(i64::MAX),
            payload: payload.clone(),
            attempts: 0,
            next_attempt_ms: 0,
        })
        .collect()
}

async fn enqueue(
    store: Store,
    snapshot: watch::Receiver<Arc<RoutingSnapshot>>,
    mut events: broadcast::Receiver<Arc<Event>>,
    wake: Arc<Notify>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut stopping = false;
    loop {
        let mut batch = Vec::new();
        let first = if stopping {
            None
        } else {
            tokio::select! {
                event = events.recv() => Some(event),
                _ = &mut stopped => { stopping = true; None }
            }
        };
        let now = snapshot.borrow().clone();
        let mut take = |event: Result<Arc<Event>, broadcast::error::RecvError>| match event {
            Ok(event) => batch.extend(rows_for(&now, &event)),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::error!(missed = n, "webhook events lost: the outbox writer fell behind the event bus");
            }
            Err(broadcast::error::RecvError::Closed) => {}
        };
        if let Some(event) = first {
            take(event);
        }
        for _ in 0..1000 {
            match events.try_recv() {
                Ok(event) => take(Ok(event)),
                Err(broadcast::error::TryRecvError::Lagged(n)) => take(Err(broadcast::error::RecvError::Lagged(n))),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            let mut delay = Duration::from_millis(100);
            while let Err(e) = store.enqueue_webhooks(&batch).await {
                tracing::error!(error = %e, rows = batch.len(), "webhook outbox write failed; retrying");
                if stopping {
                    break;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            wake.notify_one();
        } else if stopping {
            return;
        }
        if !stopping {
            crate::events::pace(&events).await;
        }
    }
}

async fn deliver(
    store: Store,
    snapshot: watch::Receiver<Arc<RoutingSnapshot>>,
    wake: Arc<Notify>,
    config: WebhooksConfig,
) {
    loop {
        let now = snapshot.borrow().clone();
        let mut configured: HashMap<(String, String), Webhook> = HashMap::new();
        for (id, tenant) in &now.tenants {
            for w in &tenant.model.webhooks {
                configured.insert((id.clone(), w.name.clone()), w.clone());
            }
        }
        let mut next_due: Option<i64> = None;
        match store.webhook_backlogs().await {
            Ok(backlogs) => {
                for (tenant, name, backlog) in backlogs {
                    let key = (tenant, name);
                    let Some(webhook) = configured.get(&key) else {
                        // The webhook was removed from the tenant: its queue goes too.
                        let _ = store.webhook_trim(&key.0, &key.1, backlog, 0).await;
                        continue;
                    };
                    let keep = i64::try_from(config.max_queued).unwrap_or(i64::MAX);
                    if let Ok(dropped) = store.webhook_trim(&key.0, &key.1, backlog, keep).await
                        && dropped > 0
                    {
                        tracing::error!(tenant = %key.0, webhook = %key.1, dropped, "webhook outbox full: oldest events dropped");
                    }
                    if let Some(due) = drain(&store, webhook, &key.0, &config).await {
                        next_due = Some(next_due.map_or(due, |d: i64| d.min(due)));
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "webhook outbox unreadable"),
        }
        let wait = next_due.map_or(Duration::from_secs(5), |due| {
            Duration::from_millis(u64::try_from(due - now_ms()).unwrap_or(0)).min(Duration::from_secs(5))
        });
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Sends a webhook's due rows in order; returns when the next attempt is due, if one waits.
async fn drain(store: &Store, webhook: &Webhook, tenant: &str, config: &WebhooksConfig) -> Option<i64> {
    loop {
        let rows = match store.webhook_queue(tenant, &webhook.name, 50).await {
            Ok(rows) if !rows.is_empty() => rows,
            _ => return None,
        };
        for row in rows {
            if row.next_attempt_ms > now_ms() {
                return Some(row.next_attempt_ms);
            }
            match post(webhook, &row, config.timeout.as_std()).await {
                Ok(()) => {
                    let _ = store.webhook_delivered(tenant, &webhook.name, row.event_id).await;
                }
                Err(why) => {
                    let attempts = row.attempts + 1;
                    let backoff = Duration::from_secs(1 << attempts.clamp(0, 20)).min(config.max_backoff.as_std());
                    let next = now_ms() + i64::try_from(backoff.as_millis()).unwrap_or(i64::MAX);
                    tracing::warn!(tenant, webhook = %webhook.name, attempts, %why, retry_in = ?backoff, "webhook delivery failed");
                    let _ = store.webhook_retry_at(&row, attempts, next).await;
                    return Some(next);
                }
            }
        }
    }
}

/// `t=<seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

async fn post(webhook: &Webhook, row: &OutboxRow, timeout: Duration) -> Result<(), String> {
    let secret = crate::reconcile::read_secret(&webhook.secret)?;
    let body = Bytes::from(row.payload.clone());
    let timestamp = now_ms() / 1000;
    let event_type = serde_json::from_str::<serde_json::Value>(&row.payload)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str().map(str::to_owned)))
        .unwrap_or_default();
    let send = async {
        let (host, mut sender) = crate::http_client::connect(&webhook.url, None).await?;
        let request = hyper::Request::post(crate::http_client::path_of(&webhook.url))
            .header(hyper::header::HOST, host)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, crate::sip::core::SERVER)
            .header("x-pbx-event-id", row.event_id.to_string())
            .header("x-pbx-event-type", event_type)
            .header("x-pbx-signature", signature(secret.as_bytes(), timestamp, &body))
            .body(http_body_util::Full::new(body.clone()))
            .map_err(|e| e.to_string())?;
        let (status, _) = crate::http_client::send(&mut sender, request).await?;
        if status.is_success() { Ok(()) } else { Err(format!("receiver answered {status}")) }
    };
    tokio::time::timeout(timeout, send).await.map_err(|_| "timed out".to_owned())?
}
