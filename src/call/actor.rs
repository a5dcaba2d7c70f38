//! The call task: drives one [`Call`] machine with the time and the inputs the SIP core
//! routes to it, and hands what it sends back to the core.
//!
//! One task per call keeps calls apart: a call that panics ends alone (its guard and relay
//! session are dropped, which frees its limits and ports), and slow work a call will do later
//! (webhooks, storage) never holds up the core.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::CallSetup;
use super::limits::CallGuard;
use super::machine::{Call, Input, Output};
use crate::store::Cdr;

/// What a call sends the core: its id and one output, or that it ended.
#[derive(Debug)]
pub enum CallEvent {
    Output(u64, Output),
    /// The call is over; its record, unless the task died without one.
    Ended(u64, Option<Box<Cdr>>),
    /// From the relay: a session saw no RTP for its inactivity timeout.
    MediaInactive(crate::media::relay::SessionId),
}

/// How long a call with no deadline of its own sleeps before looking again.
const IDLE_WAKE: Duration = Duration::from_secs(3600);

/// Starts the task of a call on the current runtime; returns its mailbox.
pub fn spawn(
    setup: CallSetup,
    guard: CallGuard,
    to_core: mpsc::UnboundedSender<CallEvent>,
    cdrs: mpsc::Sender<Cdr>,
) -> mpsc::UnboundedSender<Input> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(setup, guard, rx, to_core, cdrs));
    tx
}

async fn run(
    setup: CallSetup,
    guard: CallGuard,
    mut inputs: mpsc::UnboundedReceiver<Input>,
    to_core: mpsc::UnboundedSender<CallEvent>,
    cdrs: mpsc::Sender<Cdr>,
) {
    let id = setup.id;
    // Tells the core the call is gone on every way out of this function, panics included.
    let mut ended = Ended { id, to_core: to_core.clone(), cdr: None };
    let mut call = Call::start(setup, Instant::now());
    // One timer for the whole call, moved when the machine's next deadline moves: a new
    // `Sleep` per input would enter and leave the runtime's timer wheel every time.
    let timer = tokio::time::sleep(IDLE_WAKE);
    tokio::pin!(timer);
    loop {
        while let Some(output) = call.poll_output() {
            let _ = to_core.send(CallEvent::Output(id, output));
        }
        if call.is_done() {
            break;
        }
        let wake = call.poll_timeout().unwrap_or_else(|| Instant::now() + IDLE_WAKE);
        if timer.deadline().into_std() != wake {
            timer.as_mut().reset(wake.into());
        }
        tokio::select! {
            input = inputs.recv() => match input {
                Some(input) => call.handle(input, Instant::now()),
                None => call.handle(Input::Hangup { cause: "SIP core stopped" }, Instant::now()),
            },
            () = &mut timer => call.handle_timeout(Instant::now()),
        }
    }
    let cdr = call.cdr();
    drop(call);
    drop(guard);
    ended.cdr = Some(Box::new(cdr.clone()));
    if cdrs.send(cdr).await.is_err() {
        tracing::error!(call = id, "CDR writer gone; a CDR was lost");
    }
}

struct Ended {
    id: u64,
    to_core: mpsc::UnboundedSender<CallEvent>,
    cdr: Option<Box<Cdr>>,
}

impl Drop for Ended {
    fn drop(&mut self) {
        let _ = self.to_core.send(CallEvent::Ended(self.id, self.cdr.take()));
    }
}
