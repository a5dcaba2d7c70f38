//! The location service: every binding of every tenant, keyed by (tenant, user), with an
//! expiry index and a flow index so that expiring and connection loss cost what they remove.
//!
//! Exists as the single in-memory source of truth for "where is this user": calls look up
//! here, REGISTER processing (`register.rs`) writes here, persistence replays into it with
//! [`Location::restore`]. Every mutation reports the [`LocationChange`]s it made. It must
//! never scan all bindings on a hot path (expire, flow close, lookup), never keep an index
//! entry for a binding that is gone, and never exceed its [`LocationLimits`].

use std::collections::BTreeSet;

use crate::fast_map::FastMap;
use std::sync::Arc;

use super::binding::{Binding, LocationChange, RemoveReason};

/// Bounds that keep a peer (or a bug) from growing the store without limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocationLimits {
    /// Most contacts one address of record may have; more is refused with 403.
    /// Example: `10`.
    pub max_contacts_per_aor: usize,
    /// Most bindings in total over all tenants; more is refused with 503.
    /// Example: `200000`.
    pub max_bindings: usize,
    /// Longest Contact URI or Call-ID accepted, in bytes; longer is refused with 400.
    /// Example: `512`.
    pub max_field_len: usize,
    /// User-Agent text is truncated to this many bytes (at a character boundary).
    /// Example: `96`.
    pub max_user_agent_len: usize,
}

impl Default for LocationLimits {
    fn default() -> Self {
        LocationLimits { max_contacts_per_aor: 10, max_bindings: 200_000, max_field_len: 512, max_user_agent_len: 96 }
    }
}

/// An address of record within a tenant. Shared (`Arc`) between the map and the indexes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct AorKey {
    pub(super) tenant: Box<str>,
    pub(super) user: Box<str>,
}

impl AorKey {
    pub(super) fn new(tenant: &str, user: &str) -> AorKey {
        AorKey { tenant: tenant.into(), user: user.into() }
    }
}

/// A stored binding with the id the indexes refer to it by.
#[derive(Debug, Clone)]
pub(super) struct Slot {
    pub(super) id: u64,
    pub(super) binding: Binding,
}

/// What [`Location::restore`] did with a persisted binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreOutcome {
    /// Stored (replacing a binding with the same contact, if any).
    Stored,
    /// Already expired; skipped (the caller should delete it from storage).
    Expired,
    /// Over a [`LocationLimits`] bound; skipped.
    Full,
}

/// All bindings of all tenants.
#[derive(Debug, Default)]
pub struct Location {
    pub(super) limits: LocationLimits,
    aors: FastMap<Arc<AorKey>, Vec<Slot>>,
    /// (expires_at, aor, slot id): the next expiry is the first entry.
    expiry: BTreeSet<(u64, Arc<AorKey>, u64)>,
    /// flow id -> bindings on that connection.
    flows: FastMap<u64, Vec<(Arc<AorKey>, u64)>>,
    next_id: u64,
    total: usize,
}

impl Location {
    pub fn new(limits: LocationLimits) -> Location {
        Location { limits, ..Location::default() }
    }

    pub fn limits(&self) -> &LocationLimits {
        &self.limits
    }

    /// Number of bindings over all tenants.
    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Live bindings of one user, best first: `q` descending, then most recently registered.
    pub fn lookup(&self, tenant: &str, user: &str, now: u64) -> Vec<&Binding> {
        let mut found: Vec<&Binding> =
            self.slots(tenant, user).iter().map(|s| &s.binding).filter(|b| !b.is_expired(now)).collect();
        found.sort_by(|a, b| b.q_millis.cmp(&a.q_millis).then(b.registered_at.cmp(&a.registered_at)));
        found
    }

    /// Every binding as (tenant, user, binding), in no particular order (for listings).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &Binding)> {
        self.aors.iter().flat_map(|(k, slots)| slots.iter().map(move |s| (&*k.tenant, &*k.user, &s.binding)))
    }

    /// When [`Location::expire`] next has something to do (unix seconds).
    pub fn poll_timeout(&self) -> Option<u64> {
        self.expiry.first().map(|(at, _, _)| *at)
    }

    /// Removes every binding whose expiry time is at or before `now`.
    pub fn expire(&mut self, now: u64) -> Vec<LocationChange> {
        let mut changes = Vec::new();
        while self.expiry.first().is_some_and(|(at, _, _)| *at <= now) {
            let Some((_, key, id)) = self.expiry.pop_first() else { break };
            if let Some(b) = self.take(&key, id) {
                changes.push(removed(&key, b, RemoveReason::Expired));
            }
        }
        changes
    }

    /// Removes the bindings bound to a closed connection (RFC 5626 §5: a flow-bound
    /// binding is unusable once its flow is gone).
    pub fn remove_flow(&mut self, flow: u64) -> Vec<LocationChange> {
        let on_flow = self.flows.remove(&flow).unwrap_or_default();
        on_flow
            .into_iter()
            .filter_map(|(key, id)| self.take(&key, id).map(|b| removed(&key, b, RemoveReason::FlowClosed)))
            .collect()
    }

    /// Removes one binding by its contact as stored (keep-alive failure, operator action).
    pub fn remove(&mut self, tenant: &str, user: &str, contact: &str, reason: RemoveReason) -> Option<LocationChange> {
        let (key, slots) = self.aors.get_key_value(&AorKey::new(tenant, user))?;
        let id = slots.iter().find(|s| s.binding.contact == contact)?.id;
        let key = Arc::clone(key);
        self.take(&key, id).map(|b| removed(&key, b, reason))
    }

    /// Loads a persisted binding at startup. Expired bindings and bindings over the limits
    /// are skipped; a binding with the same contact is replaced. The flow id is cleared:
    /// connection ids do not survive a restart.
    pub fn restore(&mut self, tenant: &str, user: &str, mut binding: Binding, now: u64) -> RestoreOutcome {
        if binding.is_expired(now) {
            return RestoreOutcome::Expired;
        }
        binding.flow = None;
        let key = self.key(tenant, user);
        let existing = self.slots_of(&key).iter().find(|s| s.binding.contact == binding.contact).map(|s| s.id);
        if existing.is_none()
            && (self.slots_of(&key).len() >= self.limits.max_contacts_per_aor || self.total >= self.limits.max_bindings)
        {
            return RestoreOutcome::Full;
        }
        self.put(&key, existing, binding);
        RestoreOutcome::Stored
    }

    /// Removes the bindings of one AOR whose time has passed but which [`Location::expire`]
    /// has not reached yet, so a REGISTER never counts or orders against them.
    pub(super) fn expire_aor(&mut self, key: &Arc<AorKey>, now: u64) -> Vec<LocationChange> {
        let ids: Vec<u64> = self.slots_of(key).iter().filter(|s| s.binding.is_expired(now)).map(|s| s.id).collect();
        ids.into_iter().filter_map(|id| self.take(key, id).map(|b| removed(key, b, RemoveReason::Expired))).collect()
    }

    /// The stored bindings of one user, expired or not, in storage order.
    pub(super) fn slots(&self, tenant: &str, user: &str) -> &[Slot] {
        self.aors.get(&AorKey::new(tenant, user)).map_or(&[], Vec::as_slice)
    }

    pub(super) fn slots_of(&self, key: &AorKey) -> &[Slot] {
        self.aors.get(key).map_or(&[], Vec::as_slice)
    }

    /// The shared key of an AOR: the stored one if the AOR exists, else a new one.
    pub(super) fn key(&self, tenant: &str, user: &str) -> Arc<AorKey> {
        let probe = AorKey::new(tenant, user);
        self.aors.get_key_value(&probe).map_or_else(|| Arc::new(probe), |(k, _)| Arc::clone(k))
    }

    /// Inserts `binding`, or replaces the slot `existing`, keeping the indexes in step.
    pub(super) fn put(&mut self, key: &Arc<AorKey>, existing: Option<u64>, binding: Binding) {
        if let Some(id) = existing
            && let Some(slot) = self.aors.get_mut(key).and_then(|v| v.iter_mut().find(|s| s.id == id))
        {
            let old = std::mem::replace(&mut slot.binding, binding);
            let new = &slot.binding;
            if old.expires_at != new.expires_at {
                self.expiry.remove(&(old.expires_at, Arc::clone(key), id));
                self.expiry.insert((new.expires_at, Arc::clone(key), id));
            }
            if old.flow != new.flow {
                let new_flow = new.flow;
                unindex_flow(&mut self.flows, old.flow, key, id);
                index_flow(&mut self.flows, new_flow, key, id);
            }
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.expiry.insert((binding.expires_at, Arc::clone(key), id));
        index_flow(&mut self.flows, binding.flow, key, id);
        let slots = self.aors.entry(Arc::clone(key)).or_default();
        // Exact growth: most users have one or two phones, and `Vec`'s default minimum
        // capacity of 4 slots would triple the memory of a one-binding AOR.
        slots.reserve_exact(1);
        slots.push(Slot { id, binding });
        self.total += 1;
    }

    /// The binding in slot `id` of `key`.
    pub(super) fn peek(&self, key: &Arc<AorKey>, id: u64) -> Option<&Binding> {
        self.aors.get(key)?.iter().find(|s| s.id == id).map(|s| &s.binding)
    }

    /// Removes slot `id` of `key` and its index entries; drops the AOR when it empties.
    pub(super) fn take(&mut self, key: &Arc<AorKey>, id: u64) -> Option<Binding> {
        let slots = self.aors.get_mut(key)?;
        let pos = slots.iter().position(|s| s.id == id)?;
        let binding = slots.swap_remove(pos).binding;
        if slots.is_empty() {
            self.aors.remove(key);
        } else if slots.capacity() > slots.len() + 2 {
            slots.shrink_to_fit();
        }
        self.total -= 1;
        self.expiry.remove(&(binding.expires_at, Arc::clone(key), id));
        unindex_flow(&mut self.flows, binding.flow, key, id);
        Some(binding)
    }

    /// Approximate resident bytes of the store (struct sizes plus string capacities plus
    /// index entries), for the memory budget; see `examples/memory.rs` for a measurement.
    pub fn approx_bytes(&self) -> usize {
        use std::mem::size_of;
        let key_bytes = |k: &AorKey| 2 * size_of::<usize>() + size_of::<AorKey>() + k.tenant.len() + k.user.len();
        let aors: usize = self
            .aors
            .iter()
            .map(|(k, v)| {
                key_bytes(k)
                    + v.capacity() * size_of::<Slot>()
                    + v.iter().map(|s| s.binding.heap_bytes()).sum::<usize>()
            })
            .sum();
        // Hash tables: one control byte per bucket, ~7/8 load; B-tree nodes ~2/3 full.
        let table = self.aors.capacity() * (size_of::<(Arc<AorKey>, Vec<Slot>)>() + 1) * 8 / 7;
        let expiry = self.expiry.len() * size_of::<(u64, Arc<AorKey>, u64)>() * 3 / 2;
        let flows = self.flows.capacity() * (size_of::<(u64, Vec<(Arc<AorKey>, u64)>)>() + 1) * 8 / 7
            + self.flows.values().map(|v| v.capacity() * size_of::<(Arc<AorKey>, u64)>()).sum::<usize>();
        aors + table + expiry + flows
    }
}

fn index_flow(flows: &mut FastMap<u64, Vec<(Arc<AorKey>, u64)>>, flow: Option<u64>, key: &Arc<AorKey>, id: u64) {
    if let Some(f) = flow {
        flows.entry(f).or_default().push((Arc::clone(key), id));
    }
}

fn unindex_flow(flows: &mut FastMap<u64, Vec<(Arc<AorKey>, u64)>>, flow: Option<u64>, key: &Arc<AorKey>, id: u64) {
    let Some(f) = flow else { return };
    if let Some(list) = flows.get_mut(&f) {
        list.retain(|(k, i)| !(*i == id && k == key));
        if list.is_empty() {
            flows.remove(&f);
        }
    }
}

pub(super) fn removed(key: &AorKey, b: Binding, reason: RemoveReason) -> LocationChange {
    LocationChange::Remove { tenant: key.tenant.to_string(), user: key.user.to_string(), contact: b.contact, reason }
}

#[cfg(test)]
mod tests {
    use super::super::binding::Transport;
    use super::super::testutil::binding;
    use super::*;

    fn store() -> Location {
        Location::new(LocationLimits { max_contacts_per_aor: 3, max_bindings: 5, ..LocationLimits::default() })
    }

    #[test]
    fn expire_removes_only_due_bindings_via_the_index() {
        let mut loc = store();
        loc.restore("t1", "alice", binding("sip:a@192.0.2.1", 1000, 100), 0);
        loc.restore("t1", "alice", binding("sip:a@192.0.2.2", 1000, 200), 0);
        loc.restore("t2", "alice", binding("sip:a@192.0.2.3", 1000, 100), 0);
        assert_eq!(loc.poll_timeout(), Some(100));
        assert!(loc.expire(99).is_empty());
        let mut gone = loc.expire(100);
        gone.sort_by_key(|c| format!("{c:?}"));
        assert_eq!(gone.len(), 2);
        assert!(
            matches!(&gone[0], LocationChange::Remove { tenant, reason: RemoveReason::Expired, .. } if tenant == "t1")
        );
        assert_eq!(loc.len(), 1);
        assert_eq!(loc.poll_timeout(), Some(200));
        assert_eq!(loc.expire(1000).len(), 1);
        assert!(loc.is_empty() && loc.aors.is_empty() && loc.expiry.is_empty());
    }

    #[test]
    fn refresh_moves_the_expiry_entry() {
        let mut loc = store();
        loc.restore("t", "u", binding("sip:a@192.0.2.1", 1000, 100), 0);
        loc.restore("t", "u", binding("sip:a@192.0.2.1", 1000, 300), 50);
        assert_eq!(loc.len(), 1);
        assert_eq!(loc.expiry.len(), 1);
        assert!(loc.expire(100).is_empty());
        assert_eq!(loc.expire(300).len(), 1);
    }

    #[test]
    fn restore_skips_expired_and_clears_flows() {
        let mut loc = store();
        assert_eq!(loc.restore("t", "u", binding("sip:a@192.0.2.1", 1000, 100), 100), RestoreOutcome::Expired);
        let mut b = binding("sip:a@192.0.2.1;transport=tcp", 1000, 500);
        b.flow = Some(7);
        b.transport = Transport::Tcp;
        assert_eq!(loc.restore("t", "u", b, 100), RestoreOutcome::Stored);
        assert_eq!(loc.lookup("t", "u", 100)[0].flow, None);
        assert!(loc.flows.is_empty());
    }

    #[test]
    fn restore_respects_bounds() {
        let mut loc = store();
        for i in 0..3 {
            assert_eq!(
                loc.restore("t", "u", binding(&format!("sip:a@192.0.2.{i}"), 1000, 500), 0),
                RestoreOutcome::Stored
            );
        }
        assert_eq!(loc.restore("t", "u", binding("sip:a@192.0.2.9", 1000, 500), 0), RestoreOutcome::Full);
        for i in 0..2 {
            loc.restore("t", &format!("v{i}"), binding("sip:v@192.0.2.1", 1000, 500), 0);
        }
        assert_eq!(loc.restore("t", "w", binding("sip:w@192.0.2.1", 1000, 500), 0), RestoreOutcome::Full);
        assert_eq!(loc.len(), 5);
    }

    #[test]
    fn lookup_orders_by_q_then_most_recent_and_hides_expired() {
        let mut loc = store();
        let mut b = binding("sip:a@192.0.2.1", 500, 1000);
        b.registered_at = 10;
        loc.restore("t", "u", b, 0);
        let mut b = binding("sip:a@192.0.2.2", 1000, 1000);
        b.registered_at = 5;
        loc.restore("t", "u", b, 0);
        let mut b = binding("sip:a@192.0.2.3", 500, 1000);
        b.registered_at = 20;
        loc.restore("t", "u", b, 0);
        loc.restore("t", "u", binding("sip:a@192.0.2.4", 1000, 50), 0);
        let order: Vec<_> = loc.lookup("t", "u", 60).iter().map(|b| b.contact.as_str()).collect();
        assert_eq!(order, ["sip:a@192.0.2.2", "sip:a@192.0.2.3", "sip:a@192.0.2.1"]);
        assert!(loc.lookup("t", "nobody", 60).is_empty());
        assert!(loc.lookup("other", "u", 60).is_empty());
    }

    #[test]
    fn remove_flow_drops_its_bindings_and_index() {
        let mut loc = store();
        let make = |c: &str, flow| {
            let mut b = binding(c, 1000, 500);
            b.flow = flow;
            b
        };
        let (b1, b2, b3) =
            (make("sip:a@192.0.2.1", Some(1)), make("sip:b@192.0.2.1", Some(1)), make("sip:a@192.0.2.2", Some(2)));
        let key = loc.key("t", "a");
        loc.put(&key, None, b1);
        let key_b2 = loc.key("t", "b");
        loc.put(&key_b2, None, b2);
        loc.put(&key, None, b3);
        let gone = loc.remove_flow(1);
        assert_eq!(gone.len(), 2);
        assert!(gone.iter().all(|c| matches!(c, LocationChange::Remove { reason: RemoveReason::FlowClosed, .. })));
        assert_eq!(loc.len(), 1);
        assert!(loc.remove_flow(1).is_empty());
        assert_eq!(loc.expiry.len(), 1);
        assert_eq!(loc.remove_flow(2).len(), 1);
        assert!(loc.flows.is_empty() && loc.expiry.is_empty());
    }

    #[test]
    fn remove_by_contact_and_iter() {
        let mut loc = store();
        loc.restore("t", "u", binding("sip:a@192.0.2.1", 1000, 500), 0);
        loc.restore("t", "v", binding("sip:b@192.0.2.1", 1000, 500), 0);
        let mut listed: Vec<_> = loc.iter().map(|(t, u, b)| format!("{t}/{u} {}", b.contact)).collect();
        listed.sort();
        assert_eq!(listed, ["t/u sip:a@192.0.2.1", "t/v sip:b@192.0.2.1"]);
        assert!(loc.remove("t", "u", "sip:zzz@192.0.2.1", RemoveReason::Admin).is_none());
        let c = loc.remove("t", "u", "sip:a@192.0.2.1", RemoveReason::KeepAliveFailed).unwrap();
        assert!(matches!(c, LocationChange::Remove { reason: RemoveReason::KeepAliveFailed, .. }));
        assert_eq!(loc.len(), 1);
        assert_eq!(loc.expiry.len(), 1);
    }

    #[test]
    fn approx_bytes_stays_under_one_kilobyte_per_binding() {
        let mut loc = Location::new(LocationLimits { max_bindings: 20_000, ..LocationLimits::default() });
        for i in 0..20_000u32 {
            let mut b = binding(
                &format!("sip:{}@192.168.{}.{}:5060;transport=udp", 1000 + i % 500, i % 250, i % 200),
                1000,
                3600,
            );
            b.call_id = format!("{i:08x}-4f2a-9c1e-7d3b2a1f0e9d@192.168.1.20");
            b.user_agent = Some("Yealink SIP-T46U 108.86.0.45".to_owned());
            assert_eq!(
                loc.restore(&format!("tenant-{}", i % 50), &format!("{}", 100_000 + i), b, 0),
                RestoreOutcome::Stored
            );
        }
        let per = loc.approx_bytes() / loc.len();
        // Budget 1 kB; today about 460 (see examples/memory.rs). 640 catches regressions.
        assert!(per < 640, "{per} bytes per binding");
    }
}
