//! The running state that call handling reads: resolved tenants of one revision.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::config::LoadedTenant;
use crate::config::model::TenantFile;
use crate::dialplan::schedule::ScheduleRules;
use crate::store::{DesiredState, Revision};

/// One tenant, ready for routing.
#[derive(Debug)]
pub struct TenantRuntime {
    pub id: String,
    pub model: TenantFile,
    /// Schedules parsed once, by name.
    pub schedules: HashMap<String, ScheduleRules>,
}

/// Everything routing needs from one revision. Immutable; replaced whole on apply.
#[derive(Debug)]
pub struct RoutingSnapshot {
    pub revision: Option<Revision>,
    pub state: DesiredState,
    pub tenants: BTreeMap<String, Arc<TenantRuntime>>,
    /// SIP domain (lowercase) to tenant id.
    pub domains: HashMap<String, String>,
}

impl RoutingSnapshot {
    pub fn empty() -> Self {
        Self { revision: None, state: DesiredState::default(), tenants: BTreeMap::new(), domains: HashMap::new() }
    }

    /// Builds a snapshot from tenants that passed `load_tenants`.
    pub fn build(revision: Option<Revision>, state: DesiredState, loaded: Vec<LoadedTenant>) -> Self {
        let mut tenants = BTreeMap::new();
        let mut domains = HashMap::new();
        for t in loaded {
            let id = t.source.id;
            let tz = t.model.tenant.timezone.clone();
            let schedules = t
                .model
                .schedules
                .iter()
                .filter_map(|s| ScheduleRules::parse(s, &tz).ok().map(|rules| (s.name.clone(), rules)))
                .collect();
            for domain in &t.model.tenant.domains {
                domains.insert(domain.to_ascii_lowercase(), id.clone());
            }
            tenants.insert(id.clone(), Arc::new(TenantRuntime { id, model: t.model, schedules }));
        }
        Self { revision, state, tenants, domains }
    }

    pub fn revision_number(&self) -> Option<i64> {
        self.revision.as_ref().map(|r| r.number)
    }
}
