//! The CDR writer: finished calls' records go to the store through a bounded queue.
//!
//! Each record is written as soon as it arrives (together with whatever else is queued, in
//! one statement), so a crash loses at most the records still in the queue, normally none
//! for more than a few milliseconds. On shutdown the queue is drained before the writer
//! stops. A store that fails is retried, keeping the batch, rather than losing it.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::store::{Cdr, Store};

/// Records queued before call actors wait for the store.
const QUEUE: usize = 10_000;
/// Most records per insert.
const BATCH: usize = 500;

pub fn spawn(store: Store) -> (mpsc::Sender<Cdr>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    (tx, tokio::spawn(run(store, rx)))
}

async fn run(store: Store, mut rx: mpsc::Receiver<Cdr>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let mut delay = Duration::from_millis(100);
        loop {
            match store.insert_cdrs(&batch).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(error = %e, records = batch.len(), "CDRs not written yet; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                    if rx.is_closed() && delay >= Duration::from_secs(10) {
                        tracing::error!(records = batch.len(), "CDRs lost: the store stayed down during shutdown");
                        break;
                    }
                }
            }
        }
        batch.clear();
    }
}
