//! The event bus: typed events of calls, registrations and configuration, for the live
//! stream (`/api/v1/events`), webhooks and dashboards.
//!
//! Exists so producers (the SIP core, the reconciler) publish once and never wait for
//! consumers: the bus is a broadcast channel; a subscriber that falls behind by more than
//! its capacity is told how many events it missed (and resynchronises from the APIs) rather
//! than slowing calls down. Every event has a node-unique, increasing id for de-duplication.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::call::CallView;
use crate::store::{Cdr, Recording};
use crate::trunk::TrunkView;

/// One event, as subscribers and webhooks receive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    /// Increasing, unique on this node (milliseconds at start × 1000 + a counter).
    pub id: u64,
    /// Milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// The tenant it belongs to; none for node events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A call was admitted and its callee is being rung.
    CallStarted { call: CallView },
    /// A callee's phone rings (its first 180 or 183).
    CallRinging { call: CallView },
    /// The callee answered.
    CallAnswered { call: CallView },
    /// The call ended; its record.
    CallEnded { cdr: Cdr },
    /// A call to an extension ended without being answered (busy, no answer, caller gave up).
    CallMissed { cdr: Cdr },
    /// A phone registered, refreshed with a new contact, or went away.
    RegistrationChanged { aor: String, contact: String, registered: bool },
    /// A trunk went up or down, or its registration changed.
    TrunkStatus { trunk: TrunkView },
    /// A call recording is complete and can be downloaded.
    RecordingReady { recording: Recording },
    /// A revision of the tenant files was applied.
    ConfigApplied { revision: i64 },
}

impl EventKind {
    /// The name webhooks subscribe with, e.g. "call_ended".
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::CallStarted { .. } => "call_started",
            EventKind::CallRinging { .. } => "call_ringing",
            EventKind::CallAnswered { .. } => "call_answered",
            EventKind::CallEnded { .. } => "call_ended",
            EventKind::CallMissed { .. } => "call_missed",
            EventKind::RegistrationChanged { .. } => "registration_changed",
            EventKind::TrunkStatus { .. } => "trunk_status",
            EventKind::RecordingReady { .. } => "recording_ready",
            EventKind::ConfigApplied { .. } => "config_applied",
        }
    }

    /// The extensions an event concerns, for employee scoping.
    pub fn extensions(&self) -> Vec<&str> {
        match self {
            EventKind::CallStarted { call } | EventKind::CallRinging { call } | EventKind::CallAnswered { call } => {
                vec![&call.caller, &call.callee]
            }
            EventKind::RecordingReady { recording } => vec![&recording.caller, &recording.callee],
            EventKind::CallEnded { cdr } | EventKind::CallMissed { cdr } => vec![&cdr.caller, &cdr.callee],
            EventKind::RegistrationChanged { aor, .. } => vec![aor.split('@').next().unwrap_or_default()],
            EventKind::ConfigApplied { .. } | EventKind::TrunkStatus { .. } => Vec::new(),
        }
    }
}

/// How long a subscriber that has caught up waits before it listens again. Events that come
/// meanwhile are taken together, so a busy bus wakes each subscriber at most about 50 times a
/// second instead of once per event (each wake-up is a thread switch); it adds at most this
/// much delay.
pub const PACE: std::time::Duration = std::time::Duration::from_millis(20);

/// Call after handling an event: pauses for [`PACE`] when nothing else is waiting.
pub async fn pace(rx: &broadcast::Receiver<Arc<Event>>) {
    if rx.is_empty() {
        tokio::time::sleep(PACE).await;
    }
}

/// Events buffered per subscriber before it is told it lagged.
const CAPACITY: usize = 4_096;

/// The publishing side; clone it freely.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Event>>,
    next_id: Arc<AtomicU64>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> EventBus {
        let (tx, _) = broadcast::channel(CAPACITY);
        let start = u64::try_from(crate::store::now_ms()).unwrap_or(0) * 1000;
        EventBus { tx, next_id: Arc::new(AtomicU64::new(start)) }
    }

    /// Publishes; never blocks, and costs little when nobody listens.
    pub fn publish(&self, tenant: Option<&str>, kind: EventKind) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let event = Event {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            time_ms: crate::store::now_ms(),
            tenant: tenant.map(str::to_owned),
            kind,
        };
        let _ = self.tx.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }
}
