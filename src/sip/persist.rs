//! Writes registrar changes to the store in batches, off the SIP core's task.
//!
//! Changes to the same contact within one batch collapse to the latest, so a phone that
//! refreshes often costs one row write per batch, not one per REGISTER. A crash loses at
//! most the last second of changes; phones register again anyway.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::store::{RegistrationWrite, Store};

/// How often pending changes are written, and how many trigger an early write.
const INTERVAL: Duration = Duration::from_secs(1);
const BATCH: usize = 5_000;
/// Changes queued for the writer; past this the core drops changes (and logs).
pub const QUEUE: usize = 100_000;

type Key = (String, String, String);

pub fn spawn(store: Store) -> (mpsc::Sender<RegistrationWrite>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    (tx, tokio::spawn(run(store, rx)))
}

async fn run(store: Store, mut rx: mpsc::Receiver<RegistrationWrite>) {
    let mut pending: HashMap<Key, RegistrationWrite> = HashMap::new();
    let mut tick = tokio::time::interval(INTERVAL);
    let mut received = Vec::with_capacity(1024);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut received, 1024) => {
                if n == 0 {
                    flush(&store, &mut pending).await;
                    return;
                }
                for change in received.drain(..) {
                    let (t, a, c) = change.key();
                    pending.insert((t.to_owned(), a.to_owned(), c.to_owned()), change);
                }
                if pending.len() >= BATCH {
                    flush(&store, &mut pending).await;
                }
                // Let changes gather: one wake-up per PACE under load, not one per REGISTER.
                tokio::time::sleep(crate::events::PACE).await;
            },
            _ = tick.tick() => flush(&store, &mut pending).await,
        }
    }
}

async fn flush(store: &Store, pending: &mut HashMap<Key, RegistrationWrite>) {
    if pending.is_empty() {
        return;
    }
    let batch: Vec<RegistrationWrite> = pending.values().cloned().collect();
    match store.write_registrations(&batch).await {
        Ok(()) => pending.clear(),
        // Kept for the next tick; bounded by the number of distinct contacts.
        Err(e) => tracing::warn!(error = %e, pending = batch.len(), "cannot persist registrations; will retry"),
    }
}
