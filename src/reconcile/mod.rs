//! The reconciler: the one path by which desired state becomes running state.
//!
//! An apply is validated against the whole node (all tenants together), diffed against the
//! running revision, stored as a new revision in one write, and only then swapped in as a
//! new `RoutingSnapshot`. A failure at any step leaves the running snapshot and the store as
//! they were. Calls hold an `Arc` of the snapshot they started with, so a swap never
//! disturbs them.

mod snapshot;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, broadcast, watch};

use crate::config::{Diagnostic, TenantSource, load_tenants};
use crate::plan::{Change, Plan, diff};
use crate::store::{DesiredState, Revision, Store, StoreError, TenantDoc};

pub use snapshot::{RoutingSnapshot, TenantRuntime, read_secret};

/// What a client asks to plan or apply.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApplyRequest {
    /// Tenant files by tenant id.
    pub tenants: BTreeMap<String, TenantDoc>,
    /// Remove running tenants that are not in `tenants`.
    #[serde(default)]
    pub prune: bool,
    /// Who applies, for the history.
    #[serde(default)]
    pub author: String,
    /// Refuse to apply unless this is still the running revision (the one the plan showed).
    #[serde(default)]
    pub based_on: Option<i64>,
}

/// The result of a plan or an apply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplyOutcome {
    pub plan: Plan,
    /// The running revision before.
    pub base: Option<i64>,
    /// The revision made by an apply; None for a plan or when nothing changed.
    pub revision: Option<Revision>,
}

/// Why a plan or apply was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("the tenant files have {} problem(s)", .0.len())]
    Invalid(Vec<Diagnostic>),
    #[error("the running revision is {actual}, not {expected}; plan again")]
    Stale { expected: i64, actual: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Events of the control plane, for later consumers (trunk registration, queues, webhooks).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ConfigEvent {
    TenantApplied { tenant: String, revision: i64 },
    TenantRemoved { tenant: String, revision: i64 },
    ObjectAdded { tenant: String, kind: String, key: String },
    ObjectChanged { tenant: String, kind: String, key: String },
    ObjectRemoved { tenant: String, kind: String, key: String },
}

pub struct Reconciler {
    store: Store,
    snapshot: watch::Sender<Arc<RoutingSnapshot>>,
    events: broadcast::Sender<ConfigEvent>,
    /// Serializes applies and rollbacks of this node.
    apply_lock: Mutex<()>,
}

fn sources_of(state: &DesiredState) -> Vec<TenantSource> {
    state
        .tenants
        .iter()
        .map(|(id, doc)| TenantSource { id: id.clone(), file: doc.file.clone(), text: doc.text.clone(), dir: None })
        .collect()
}

impl Reconciler {
    /// Starts from the store's running revision; an empty store starts with no tenants.
    pub async fn start(store: Store) -> Result<Arc<Self>, ApplyError> {
        let snapshot = match store.head().await? {
            Some((revision, state)) => {
                let tenants = load_tenants(sources_of(&state), false).map_err(ApplyError::Invalid)?;
                RoutingSnapshot::build(Some(revision), state, tenants)
            }
            None => RoutingSnapshot::empty(),
        };
        let (snapshot, _) = watch::channel(Arc::new(snapshot));
        let (events, _) = broadcast::channel(1024);
        Ok(Arc::new(Self { store, snapshot, events, apply_lock: Mutex::new(()) }))
    }

    /// The running snapshot; calls keep the one they start with.
    pub fn snapshot(&self) -> Arc<RoutingSnapshot> {
        self.snapshot.borrow().clone()
    }

    pub fn subscribe_snapshots(&self) -> watch::Receiver<Arc<RoutingSnapshot>> {
        self.snapshot.subscribe()
    }

    pub fn subscribe_events(&self) -> broadcast::Receiver<ConfigEvent> {
        self.events.subscribe()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The state an apply of `request` would run, checked, with its plan.
    fn prepare(
        &self,
        current: &RoutingSnapshot,
        request: &ApplyRequest,
    ) -> Result<(DesiredState, Vec<crate::config::LoadedTenant>, Plan), ApplyError> {
        let mut state = if request.prune { DesiredState::default() } else { current.state.clone() };
        state.tenants.extend(request.tenants.iter().map(|(id, doc)| (id.clone(), doc.clone())));
        let tenants = load_tenants(sources_of(&state), false).map_err(ApplyError::Invalid)?;
        let old: BTreeMap<String, _> = current.tenants.iter().map(|(id, t)| (id.clone(), &t.model)).collect();
        let new: BTreeMap<String, _> = tenants.iter().map(|t| (t.source.id.clone(), &t.model)).collect();
        let plan = diff(&old, &new);
        Ok((state, tenants, plan))
    }

    pub fn plan(&self, request: &ApplyRequest) -> Result<ApplyOutcome, ApplyError> {
        let current = self.snapshot();
        let (_, _, plan) = self.prepare(&current, request)?;
        Ok(ApplyOutcome { plan, base: current.revision_number(), revision: None })
    }

    /// Validates, stores and swaps in a new revision; with no changes, stores nothing.
    pub async fn apply(&self, request: &ApplyRequest) -> Result<ApplyOutcome, ApplyError> {
        let _guard = self.apply_lock.lock().await;
        let current = self.snapshot();
        let base = current.revision_number();
        if let Some(expected) = request.based_on
            && Some(expected) != base
        {
            return Err(ApplyError::Stale { expected, actual: base.unwrap_or(0) });
        }
        let (state, tenants, plan) = self.prepare(&current, request)?;
        if plan.is_empty() {
            return Ok(ApplyOutcome { plan, base, revision: None });
        }
        let author = if request.author.is_empty() { "unknown" } else { &request.author };
        let (add, change, remove) = plan.counts();
        let comment = format!("apply: {add} to add, {change} to change, {remove} to remove");
        let revision = self.store.append(base, author, &comment, &state).await?;
        self.swap(RoutingSnapshot::build(Some(revision.clone()), state, tenants), &plan);
        Ok(ApplyOutcome { plan, base, revision: Some(revision) })
    }

    /// Makes an earlier revision (default: the one before the running one) run again, as a
    /// new revision.
    pub async fn rollback(&self, to: Option<i64>, author: &str) -> Result<ApplyOutcome, ApplyError> {
        let _guard = self.apply_lock.lock().await;
        let current = self.snapshot();
        let base = current.revision_number();
        let target = to.unwrap_or(base.unwrap_or(0) - 1);
        let (_, state) = self.store.revision(target).await?;
        let request = ApplyRequest { tenants: state.tenants, prune: true, author: author.to_owned(), based_on: base };
        let (state, tenants, plan) = self.prepare(&current, &request)?;
        if plan.is_empty() {
            return Ok(ApplyOutcome { plan, base, revision: None });
        }
        let revision = self.store.append(base, author, &format!("rollback to revision {target}"), &state).await?;
        self.swap(RoutingSnapshot::build(Some(revision.clone()), state, tenants), &plan);
        Ok(ApplyOutcome { plan, base, revision: Some(revision) })
    }

    fn swap(&self, snapshot: RoutingSnapshot, plan: &Plan) {
        let revision = snapshot.revision_number().unwrap_or(0);
        self.snapshot.send_replace(Arc::new(snapshot));
        for tenant in &plan.tenants {
            for object in &tenant.objects {
                let (tenant, kind, key) = (tenant.tenant.clone(), object.kind.clone(), object.key.clone());
                let _ = self.events.send(match object.change {
                    Change::Add => ConfigEvent::ObjectAdded { tenant, kind, key },
                    Change::Change => ConfigEvent::ObjectChanged { tenant, kind, key },
                    Change::Remove => ConfigEvent::ObjectRemoved { tenant, kind, key },
                });
            }
            let tenant_id = tenant.tenant.clone();
            let _ = self.events.send(match tenant.change {
                Change::Remove => ConfigEvent::TenantRemoved { tenant: tenant_id, revision },
                _ => ConfigEvent::TenantApplied { tenant: tenant_id, revision },
            });
            tracing::info!(tenant = %tenant.tenant, revision, objects = tenant.objects.len(), "tenant applied");
        }
    }
}
