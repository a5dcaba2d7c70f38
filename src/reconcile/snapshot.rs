//! The running state that call handling reads: resolved tenants of one revision.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::config::LoadedTenant;
use crate::config::model::{Extension, SecretRef, SipSecret, TenantFile};
use crate::dialplan::schedule::ScheduleRules;
use crate::sip::auth::Credential;
use crate::store::{DesiredState, Revision};

/// One tenant, ready for routing.
#[derive(Debug)]
pub struct TenantRuntime {
    pub id: String,
    pub model: TenantFile,
    /// Schedules parsed once, by name.
    pub schedules: HashMap<String, ScheduleRules>,
    /// Digest credentials by extension number; extensions whose secret reference cannot be
    /// read are missing (and cannot register).
    pub credentials: HashMap<String, Credential>,
    /// Index of each extension in `model.extensions`, by number: a call looks up two.
    extension_index: HashMap<String, usize>,
}

impl TenantRuntime {
    pub fn new(id: String, model: TenantFile, schedules: HashMap<String, ScheduleRules>) -> Self {
        let credentials = credentials(&id, &model);
        let extension_index = model.extensions.iter().enumerate().map(|(i, e)| (e.number.clone(), i)).collect();
        TenantRuntime { id, model, schedules, credentials, extension_index }
    }

    /// The extension with this number.
    pub fn extension(&self, number: &str) -> Option<&Extension> {
        self.extension_index.get(number).and_then(|&i| self.model.extensions.get(i))
    }
}

/// Reads a secret reference: an environment variable of pbxd, or a file.
pub fn read_secret(reference: &SecretRef) -> Result<String, String> {
    match reference {
        SecretRef::Env(name) => std::env::var(name).map_err(|_| format!("environment variable {name} is not set")),
        SecretRef::File(path) => std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
            .map_err(|e| format!("cannot read {path}: {e}")),
    }
}

fn credentials(tenant: &str, model: &TenantFile) -> HashMap<String, Credential> {
    let mut out = HashMap::with_capacity(model.extensions.len());
    for e in &model.extensions {
        let credential = match &e.secret {
            SipSecret::Hashes(h) => Credential::Ha1 {
                md5: h.ha1.as_ref().map(|d| d.0.clone()),
                sha256: h.ha1_sha256.as_ref().map(|d| d.0.clone()),
            },
            SipSecret::Reference(reference) => match read_secret(reference) {
                Ok(password) => Credential::Password(password),
                Err(why) => {
                    tracing::warn!(tenant, extension = %e.number, %why, "extension cannot register: secret unavailable");
                    continue;
                }
            },
        };
        out.insert(e.number.clone(), credential);
    }
    out
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
            tenants.insert(id.clone(), Arc::new(TenantRuntime::new(id, t.model, schedules)));
        }
        Self { revision, state, tenants, domains }
    }

    pub fn revision_number(&self) -> Option<i64> {
        self.revision.as_ref().map(|r| r.number)
    }
}
