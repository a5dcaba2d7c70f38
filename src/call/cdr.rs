//! The CDR writer: finished calls' records go to the store through a bounded queue.
//!
//! Each record is written as soon as it arrives (together with whatever else is queued, in
//! one transaction, at most one transaction per 20 ms), so a crash loses at most the
//! records still in the queue, normally none for more than a few tens of milliseconds. On
//! shutdown the queue is drained before the writer stops. A store that is down is retried
//! with backoff, keeping the batch; a batch that keeps failing is written row by row, so one
//! record the store refuses (and logs in full, to be recovered) cannot hold up the others.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::store::{Cdr, Store};

/// Records queued before call actors wait for the store.
const QUEUE: usize = 10_000;
/// Most records per transaction.
const BATCH: usize = 500;
/// Attempts of a whole batch before it is written row by row.
const ATTEMPTS: u32 = 6;

pub fn spawn(store: Store) -> (mpsc::Sender<Cdr>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    (tx, tokio::spawn(run(store, rx)))
}

async fn run(store: Store, mut rx: mpsc::Receiver<Cdr>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        write(&store, &batch).await;
        batch.clear();
        // Let records gather: at high call rates one transaction per PACE, not per call.
        tokio::time::sleep(crate::events::PACE).await;
    }
}

async fn write(store: &Store, batch: &[Cdr]) {
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=ATTEMPTS {
        match store.insert_cdrs(batch).await {
            Ok(()) => return,
            Err(e) => {
                tracing::error!(error = %e, records = batch.len(), attempt, "CDRs not written yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    for cdr in batch {
        if let Err(e) = store.insert_cdrs(std::slice::from_ref(cdr)).await {
            let record = serde_json::to_string(cdr).unwrap_or_default();
            tracing::error!(error = %e, %record, "CDR refused by the store; logged here instead");
        }
    }
}
