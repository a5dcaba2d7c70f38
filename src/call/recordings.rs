//! The recordings writer: finished recording files become rows in the store, are announced on
//! the event bus (`recording_ready`), and the tenant's quota is kept by deleting its oldest.
//!
//! Runs on the main runtime, apart from the recorder thread (which only writes files) and the
//! calls. A row that cannot be written is retried with backoff; if the store keeps refusing it,
//! the file stays on disk and the log says where, so nothing recorded is silently lost.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::events::{EventBus, EventKind};
use crate::media::record::{Finished, Recorder};
use crate::reconcile::RoutingSnapshot;
use crate::store::{Recording, Store};

const ATTEMPTS: u32 = 6;

/// Starts the recorder thread (files under `dir`) and the writer task.
pub fn spawn(
    dir: PathBuf,
    store: Store,
    snapshots: watch::Receiver<Arc<RoutingSnapshot>>,
    bus: EventBus,
) -> std::io::Result<(Arc<Recorder>, JoinHandle<()>)> {
    let (done_tx, done) = mpsc::unbounded_channel();
    let recorder = Arc::new(Recorder::start(dir.clone(), done_tx)?);
    Ok((recorder, tokio::spawn(run(dir, store, snapshots, bus, done))))
}

async fn run(
    dir: PathBuf,
    store: Store,
    snapshots: watch::Receiver<Arc<RoutingSnapshot>>,
    bus: EventBus,
    mut done: mpsc::UnboundedReceiver<Finished>,
) {
    while let Some(f) = done.recv().await {
        let recording = Recording {
            id: f.meta.id,
            tenant: f.meta.tenant,
            cdr_id: f.meta.cdr_id,
            caller: f.meta.caller,
            callee: f.meta.callee,
            start_ms: f.meta.start_ms,
            duration_ms: f.duration_ms,
            bytes: i64::try_from(f.bytes).unwrap_or(i64::MAX),
            path: f.path.to_string_lossy().into_owned(),
        };
        if !insert(&store, &recording).await {
            continue;
        }
        let quota_mb =
            snapshots.borrow().tenants.get(&recording.tenant).map(|t| t.model.tenant.limits.recording_quota_mb);
        let tenant = recording.tenant.clone();
        bus.publish(Some(&tenant), EventKind::RecordingReady { recording });
        if let Some(mb) = quota_mb {
            enforce_quota(&dir, &store, &tenant, i64::try_from(mb.saturating_mul(1 << 20)).unwrap_or(i64::MAX)).await;
        }
    }
}

async fn insert(store: &Store, recording: &Recording) -> bool {
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=ATTEMPTS {
        match store.insert_recording(recording).await {
            Ok(()) => return true,
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(error = %e, recording = %recording.id, attempt, "recording not stored yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                tracing::error!(error = %e, recording = %recording.id, path = %recording.path,
                    "recording refused by the store; the file stays on disk");
            }
        }
    }
    false
}

/// Deletes the tenant's oldest recordings (rows, then files) until the rest fit in `quota`.
async fn enforce_quota(dir: &std::path::Path, store: &Store, tenant: &str, quota: i64) {
    let over = match store.recordings_over_quota(tenant, quota).await {
        Ok(over) => over,
        Err(e) => {
            tracing::warn!(error = %e, tenant, "recording quota not checked");
            return;
        }
    };
    for r in over {
        if let Err(e) = store.delete_recording(&r.id).await {
            tracing::warn!(error = %e, recording = %r.id, "old recording not deleted");
            return;
        }
        if let Err(e) = tokio::fs::remove_file(dir.join(&r.path)).await {
            tracing::warn!(error = %e, path = %r.path, "old recording file not removed");
        }
        tracing::info!(tenant, recording = %r.id, "recording quota full: oldest recording deleted");
    }
}
