//! Trunk monitors inside the core: their REGISTERs and OPTIONS go through the transaction
//! layer like any request of ours, and their answers come back by transaction key. The core
//! publishes the trunks' views (API, metrics, `pbxctl top`) and a `trunk_status` event each
//! time one changes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{SipCore, random_u64};
use crate::events::EventKind;
use crate::sip::msg::Message;
use crate::sip::transport::Source;
use crate::sip::txn::{PeerTransport, TxnKey};
use crate::trunk::{Monitor, RequestKind, TrunkSpec, TrunkView};

type TrunkId = (String, String);

/// The monitored trunks of every tenant.
pub struct Trunks {
    monitors: BTreeMap<TrunkId, Monitor>,
    by_request: HashMap<TxnKey, (TrunkId, RequestKind)>,
    qualify_interval: Duration,
    published: watch::Sender<Arc<Vec<TrunkView>>>,
}

impl Trunks {
    pub fn new(qualify_interval: Duration) -> Trunks {
        Trunks {
            monitors: BTreeMap::new(),
            by_request: HashMap::new(),
            qualify_interval,
            published: watch::Sender::new(Arc::new(Vec::new())),
        }
    }

    /// The trunks' views, republished when one changes.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Vec<TrunkView>>> {
        self.published.subscribe()
    }
}

impl SipCore {
    /// The trunks to monitor now: unchanged ones keep their state, the others start afresh.
    pub(super) fn set_trunks(&mut self, specs: Vec<TrunkSpec>, now: Instant) {
        let Some(local) = self.local.iter().find(|l| l.transport == PeerTransport::Udp).map(|l| l.addr) else {
            if !specs.is_empty() {
                tracing::warn!("trunks are not monitored: pbxd has no UDP listener");
            }
            return;
        };
        let mut next = BTreeMap::new();
        for spec in specs {
            let id = (spec.tenant.clone(), spec.name.clone());
            let monitor = match self.trunks.monitors.remove(&id) {
                Some(m) if *m.spec() == spec => m,
                _ => Monitor::new(spec, local, self.trunks.qualify_interval, random_u64(), now),
            };
            next.insert(id, monitor);
        }
        self.trunks.monitors = next;
        let monitors = &self.trunks.monitors;
        self.trunks.by_request.retain(|_, (id, _)| monitors.contains_key(id));
        self.publish_trunks(true);
        self.drive_trunks(now);
    }

    /// Runs due timers and sends what the monitors want sent.
    pub(super) fn drive_trunks(&mut self, now: Instant) {
        let listener = self.local.iter().position(|l| l.transport == PeerTransport::Udp);
        let listener = u16::try_from(listener.unwrap_or(0)).unwrap_or(0);
        let mut sent = Vec::new();
        for (id, monitor) in &mut self.trunks.monitors {
            if monitor.poll_timeout().is_some_and(|t| t <= now) {
                monitor.handle_timeout(now);
            }
            while let Some((kind, bytes, addr)) = monitor.poll_request() {
                sent.push((id.clone(), kind, bytes, addr));
            }
        }
        for (id, kind, bytes, addr) in sent {
            let dest = Source { transport: PeerTransport::Udp, addr, listener, flow: 0 };
            match self.txn.send_request(bytes, dest, now) {
                Ok(key) => {
                    self.trunks.by_request.insert(key, (id, kind));
                }
                Err(e) => {
                    tracing::debug!(error = %e, tenant = %id.0, trunk = %id.1, "trunk request not sent");
                    if let Some(m) = self.trunks.monitors.get_mut(&id) {
                        m.on_failure(kind, now);
                    }
                }
            }
        }
        self.publish_trunks(false);
    }

    /// An answer (or `None`: timeout, transport error) to a trunk's request; false when the
    /// transaction is not a trunk's.
    pub(super) fn on_trunk_response(&mut self, key: &TxnKey, msg: Option<&Message>, now: Instant) -> bool {
        let Some((id, kind)) = self.trunks.by_request.get(key).cloned() else { return false };
        if let Some(m) = self.trunks.monitors.get_mut(&id) {
            match msg {
                Some(msg) => m.on_response(kind, msg, now),
                None => m.on_failure(kind, now),
            }
        }
        if msg.is_none_or(|m| m.status().is_some_and(|s| s >= 200)) {
            self.trunks.by_request.remove(key);
        }
        self.drive_trunks(now);
        true
    }

    pub(super) fn on_trunk_terminated(&mut self, key: &TxnKey) -> bool {
        self.trunks.by_request.remove(key).is_some()
    }

    /// Publishes the views when one changed (or `force`), with an event per changed trunk.
    fn publish_trunks(&mut self, force: bool) {
        let mut changed = Vec::new();
        for m in self.trunks.monitors.values_mut() {
            if m.take_changed() {
                changed.push(m.view());
            }
        }
        if changed.is_empty() && !force {
            return;
        }
        for view in changed {
            tracing::info!(tenant = %view.tenant, trunk = %view.name, state = %view.state,
                registration = %view.registration, reason = %view.reason, "trunk status");
            let tenant = view.tenant.clone();
            self.calls.bus().publish(Some(&tenant), EventKind::TrunkStatus { trunk: view });
        }
        let views: Vec<TrunkView> = self.trunks.monitors.values().map(Monitor::view).collect();
        self.trunks.published.send_replace(Arc::new(views));
    }

    pub(super) fn trunks_due(&self) -> Option<Instant> {
        self.trunks.monitors.values().filter_map(Monitor::poll_timeout).min()
    }
}
