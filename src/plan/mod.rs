//! Desired-state diff: what an apply would add, change and remove, per tenant and object,
//! field by field for changed objects.
//!
//! Objects are compared in their serialized form, so the diff follows the model without a
//! list of kinds to keep in step: every list in a tenant file is a kind, its items are keyed
//! by `number` or `name`, and single tables (`tenant`, `notifications`) are one object each.

mod render;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::model::TenantFile;

pub use render::render;

/// What happens to a tenant or an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Add,
    Change,
    Remove,
}

/// One changed field of a changed object: `members[1].extension: "102" -> "105"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// One object added, changed or removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectChange {
    pub kind: String,
    pub key: String,
    pub change: Change,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
}

/// The changes of one tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantPlan {
    pub tenant: String,
    pub change: Change,
    pub objects: Vec<ObjectChange>,
}

/// The whole plan: only tenants with changes appear.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub tenants: Vec<TenantPlan>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.tenants.is_empty()
    }

    /// Objects to add, change and remove, over all tenants.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for object in self.tenants.iter().flat_map(|t| &t.objects) {
            match object.change {
                Change::Add => counts.0 += 1,
                Change::Change => counts.1 += 1,
                Change::Remove => counts.2 += 1,
            }
        }
        counts
    }
}

/// The diff from `old` to `new`, both keyed by tenant id. Tenants only in `old` are
/// removed; callers that do not prune leave them out of `old`.
pub fn diff(old: &BTreeMap<String, &TenantFile>, new: &BTreeMap<String, &TenantFile>) -> Plan {
    let mut tenants = Vec::new();
    for (id, new_model) in new {
        match old.get(id) {
            Some(old_model) if old_model == new_model => {}
            Some(old_model) => {
                let objects = diff_objects(&objects_of(old_model), &objects_of(new_model));
                if !objects.is_empty() {
                    tenants.push(TenantPlan { tenant: id.clone(), change: Change::Change, objects });
                }
            }
            None => tenants.push(TenantPlan {
                tenant: id.clone(),
                change: Change::Add,
                objects: diff_objects(&BTreeMap::new(), &objects_of(new_model)),
            }),
        }
    }
    for (id, old_model) in old {
        if !new.contains_key(id) {
            tenants.push(TenantPlan {
                tenant: id.clone(),
                change: Change::Remove,
                objects: diff_objects(&objects_of(old_model), &BTreeMap::new()),
            });
        }
    }
    tenants.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    Plan { tenants }
}

/// Identifies an object inside a tenant: (position of its kind in the file model, kind, key).
type ObjectId = (usize, String, String);

/// Flattens a tenant into its objects, keyed so that the same object is found in both sides.
pub fn objects_of(model: &TenantFile) -> BTreeMap<ObjectId, Value> {
    let mut objects = BTreeMap::new();
    let Ok(Value::Object(sections)) = serde_json::to_value(model) else { return objects };
    for (kind_order, (kind, value)) in sections.into_iter().enumerate() {
        match value {
            Value::Array(items) => {
                let ordered = kind == "route";
                for (position, mut item) in items.into_iter().enumerate() {
                    let key = object_key(&kind, &item).unwrap_or_else(|| position.to_string());
                    if let (true, Value::Object(fields)) = (ordered, &mut item) {
                        // Routes are tried in file order, so their order is part of them.
                        fields.insert("position".to_owned(), Value::from(position + 1));
                    }
                    objects.insert((kind_order, kind.clone(), key), item);
                }
            }
            single => {
                objects.insert((kind_order, kind.clone(), String::new()), single);
            }
        }
    }
    objects
}

/// Numbered kinds are known by their number, the others by their name.
fn object_key(kind: &str, item: &Value) -> Option<String> {
    let field = match kind {
        "extension" | "did" | "conference" | "voicemail" | "fax" => "number",
        _ => "name",
    };
    item.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn diff_objects(old: &BTreeMap<ObjectId, Value>, new: &BTreeMap<ObjectId, Value>) -> Vec<ObjectChange> {
    let mut changes = Vec::new();
    let object = |(_, kind, key): &ObjectId, change, fields| ObjectChange {
        kind: kind.clone(),
        key: key.clone(),
        change,
        fields,
    };
    for (id, new_value) in new {
        match old.get(id) {
            None => changes.push(object(id, Change::Add, Vec::new())),
            Some(old_value) if old_value != new_value => {
                let mut fields = Vec::new();
                diff_values(String::new(), old_value, new_value, &mut fields);
                changes.push(object(id, Change::Change, fields));
            }
            Some(_) => {}
        }
    }
    for id in old.keys().filter(|id| !new.contains_key(*id)) {
        changes.push(object(id, Change::Remove, Vec::new()));
    }
    changes.sort_by(|a, b| (kind_rank(&a.kind), &a.key).cmp(&(kind_rank(&b.kind), &b.key)));
    changes
}

fn kind_rank(kind: &str) -> usize {
    crate::config::model::OBJECT_KINDS.iter().position(|k| *k == kind).unwrap_or(usize::MAX)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

fn diff_values(path: String, old: &Value, new: &Value, out: &mut Vec<FieldChange>) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => diff_maps(&path, o, n, out),
        (Value::Array(o), Value::Array(n)) if o.len() == n.len() => {
            for (i, (o, n)) in o.iter().zip(n).enumerate() {
                if o != n {
                    diff_values(format!("{path}[{i}]"), o, n, out);
                }
            }
        }
        _ if old != new => out.push(FieldChange { path, old: Some(old.clone()), new: Some(new.clone()) }),
        _ => {}
    }
}

fn diff_maps(path: &str, old: &Map<String, Value>, new: &Map<String, Value>, out: &mut Vec<FieldChange>) {
    for (key, n) in new {
        match old.get(key) {
            Some(o) if o != n => diff_values(join(path, key), o, n, out),
            Some(_) => {}
            None => out.push(FieldChange { path: join(path, key), old: None, new: Some(n.clone()) }),
        }
    }
    for (key, o) in old {
        if !new.contains_key(key) {
            out.push(FieldChange { path: join(path, key), old: Some(o.clone()), new: None });
        }
    }
}
