//! NAT keep-alive scheduling, sans-IO (RFC 5626-lite): UDP bindings behind NAT get a ping
//! (OPTIONS or a CRLF, the caller's choice) every interval so the NAT mapping stays open,
//! and a binding that misses too many pings in a row is given up.
//!
//! Exists apart from the location store because only a fraction of bindings need it and it
//! has its own clock: a schedule index makes [`KeepAlive::due`] cost what is due, not what
//! is tracked, so 100,000 tracked bindings are as cheap as ten. First pings are spread over
//! one interval (by a hash of the binding) so a restart or a registration storm does not
//! become a ping storm. It must never send anything itself or read the clock.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

use super::binding::{LocationChange, Transport};

/// Keep-alive settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAliveConfig {
    /// Seconds between pings of one binding. Example: `30` (below the common 60 s UDP
    /// mapping timeout with room for one loss).
    pub interval: u64,
    /// Consecutive failed pings after which the binding is given up. Example: `3`.
    pub max_failures: u8,
}

impl Default for KeepAliveConfig {
    fn default() -> Self {
        KeepAliveConfig { interval: 30, max_failures: 3 }
    }
}

/// A ping to send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    pub tenant: String,
    pub user: String,
    /// The binding's contact as stored (to report the result with).
    pub contact: String,
    /// The NAT's public address of the binding.
    pub dest: SocketAddr,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    tenant: Box<str>,
    user: Box<str>,
    contact: Box<str>,
}

impl Key {
    fn new(tenant: &str, user: &str, contact: &str) -> Key {
        Key { tenant: tenant.into(), user: user.into(), contact: contact.into() }
    }
}

#[derive(Debug, Clone, Copy)]
struct Target {
    dest: SocketAddr,
    next_at: u64,
    failures: u8,
}

/// The keep-alive schedule.
#[derive(Debug, Default)]
pub struct KeepAlive {
    config: KeepAliveConfig,
    targets: HashMap<Arc<Key>, Target>,
    schedule: BTreeSet<(u64, Arc<Key>)>,
}

impl KeepAlive {
    pub fn new(config: KeepAliveConfig) -> KeepAlive {
        KeepAlive { config: KeepAliveConfig { interval: config.interval.max(1), ..config }, ..KeepAlive::default() }
    }

    /// Number of tracked bindings.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Follows the location store: tracks UDP bindings behind NAT, forgets the rest.
    pub fn apply(&mut self, change: &LocationChange, now: u64) {
        match change {
            LocationChange::Upsert { tenant, user, binding, .. } => {
                if binding.transport == Transport::Udp && binding.behind_nat {
                    self.track(tenant, user, &binding.contact, binding.source, now);
                } else {
                    self.untrack(tenant, user, &binding.contact);
                }
            }
            LocationChange::Remove { tenant, user, contact, .. } => {
                self.untrack(tenant, user, contact);
            }
        }
    }

    /// Starts pinging a binding at `dest`, or updates `dest` if already tracked (keeping
    /// its schedule and failure count).
    pub fn track(&mut self, tenant: &str, user: &str, contact: &str, dest: SocketAddr, now: u64) {
        let key = Key::new(tenant, user, contact);
        if let Some(t) = self.targets.get_mut(&key) {
            t.dest = dest;
            return;
        }
        let next_at = now.saturating_add(1 + spread(&key, self.config.interval));
        let key = Arc::new(key);
        self.schedule.insert((next_at, Arc::clone(&key)));
        self.targets.insert(key, Target { dest, next_at, failures: 0 });
    }

    /// Stops pinging a binding; false if it was not tracked.
    pub fn untrack(&mut self, tenant: &str, user: &str, contact: &str) -> bool {
        let Some((key, t)) = self.targets.remove_entry(&Key::new(tenant, user, contact)) else { return false };
        self.schedule.remove(&(t.next_at, key));
        true
    }

    /// When [`KeepAlive::due`] next has something to return.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.schedule.first().map(|(at, _)| *at)
    }

    /// The pings to send now; each is rescheduled one interval later.
    pub fn due(&mut self, now: u64) -> Vec<Ping> {
        let mut pings = Vec::new();
        while self.schedule.first().is_some_and(|(at, _)| *at <= now) {
            let Some((_, key)) = self.schedule.pop_first() else { break };
            let Some(t) = self.targets.get_mut(&key) else { continue };
            t.next_at = now.saturating_add(self.config.interval);
            pings.push(Ping {
                tenant: key.tenant.to_string(),
                user: key.user.to_string(),
                contact: key.contact.to_string(),
                dest: t.dest,
            });
            self.schedule.insert((t.next_at, key));
        }
        pings
    }

    /// The binding answered: its failure count starts over.
    pub fn ping_ok(&mut self, tenant: &str, user: &str, contact: &str) {
        if let Some(t) = self.targets.get_mut(&Key::new(tenant, user, contact)) {
            t.failures = 0;
        }
    }

    /// The binding did not answer. Returns true when it has now failed
    /// `max_failures` times in a row: it is no longer tracked and the caller should
    /// remove it (`Location::remove` with `RemoveReason::KeepAliveFailed`).
    pub fn ping_failed(&mut self, tenant: &str, user: &str, contact: &str) -> bool {
        let Some(t) = self.targets.get_mut(&Key::new(tenant, user, contact)) else { return false };
        t.failures = t.failures.saturating_add(1);
        if t.failures < self.config.max_failures.max(1) {
            return false;
        }
        self.untrack(tenant, user, contact)
    }
}

/// A stable offset in `0..interval` for a binding's first ping.
fn spread(key: &Key, interval: u64) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish() % interval
}

#[cfg(test)]
mod tests {
    use super::super::binding::RemoveReason;
    use super::super::testutil::binding;
    use super::*;

    fn nat_binding(contact: &str) -> LocationChange {
        let mut b = binding(contact, 1000, 10_000);
        b.behind_nat = true;
        b.source = "203.0.113.9:40001".parse().unwrap();
        LocationChange::Upsert { tenant: "t".into(), user: "u".into(), binding: b, fresh: true }
    }

    #[test]
    fn pings_every_interval_in_virtual_time() {
        let mut ka = KeepAlive::new(KeepAliveConfig { interval: 30, max_failures: 3 });
        ka.apply(&nat_binding("sip:u@192.168.1.2"), 0);
        let first = ka.poll_timeout().unwrap();
        assert!((1..=30).contains(&first), "first ping within one interval: {first}");
        assert!(ka.due(first - 1).is_empty());
        let p = ka.due(first);
        assert_eq!(
            p,
            [Ping {
                tenant: "t".into(),
                user: "u".into(),
                contact: "sip:u@192.168.1.2".into(),
                dest: "203.0.113.9:40001".parse().unwrap()
            }]
        );
        assert_eq!(ka.poll_timeout(), Some(first + 30));
        let mut times = Vec::new();
        for now in first + 1..first + 100 {
            if !ka.due(now).is_empty() {
                times.push(now);
            }
        }
        assert_eq!(times, [first + 30, first + 60, first + 90]);
    }

    #[test]
    fn only_udp_nat_bindings_are_tracked() {
        let mut ka = KeepAlive::default();
        ka.apply(
            &LocationChange::Upsert {
                tenant: "t".into(),
                user: "u".into(),
                binding: binding("sip:u@192.0.2.1", 1000, 99),
                fresh: true,
            },
            0,
        );
        let LocationChange::Upsert { mut binding, .. } = nat_binding("sip:u@192.168.1.2") else { unreachable!() };
        binding.transport = Transport::Tcp;
        ka.apply(&LocationChange::Upsert { tenant: "t".into(), user: "u".into(), binding, fresh: true }, 0);
        assert!(ka.is_empty());
        ka.apply(&nat_binding("sip:u@192.168.1.2"), 0);
        assert_eq!(ka.len(), 1);
        ka.apply(
            &LocationChange::Remove {
                tenant: "t".into(),
                user: "u".into(),
                contact: "sip:u@192.168.1.2".into(),
                reason: RemoveReason::Expired,
            },
            5,
        );
        assert!(ka.is_empty() && ka.schedule.is_empty() && ka.poll_timeout().is_none());
    }

    #[test]
    fn refresh_keeps_schedule_and_updates_dest() {
        let mut ka = KeepAlive::default();
        ka.track("t", "u", "sip:c", "203.0.113.9:1".parse().unwrap(), 0);
        let at = ka.poll_timeout();
        ka.track("t", "u", "sip:c", "203.0.113.9:2".parse().unwrap(), 20);
        assert_eq!(ka.poll_timeout(), at);
        assert_eq!(ka.due(1000)[0].dest, "203.0.113.9:2".parse().unwrap());
    }

    #[test]
    fn consecutive_failures_give_up_and_success_resets() {
        let mut ka = KeepAlive::new(KeepAliveConfig { interval: 30, max_failures: 3 });
        ka.track("t", "u", "sip:c", "203.0.113.9:1".parse().unwrap(), 0);
        assert!(!ka.ping_failed("t", "u", "sip:c"));
        assert!(!ka.ping_failed("t", "u", "sip:c"));
        ka.ping_ok("t", "u", "sip:c");
        assert!(!ka.ping_failed("t", "u", "sip:c"));
        assert!(!ka.ping_failed("t", "u", "sip:c"));
        assert!(ka.ping_failed("t", "u", "sip:c"));
        assert!(ka.is_empty() && ka.schedule.is_empty());
        assert!(!ka.ping_failed("t", "u", "sip:c"));
    }

    #[test]
    fn first_pings_are_spread_and_due_returns_only_what_is_due() {
        let mut ka = KeepAlive::default();
        for i in 0..10_000 {
            ka.track("t", &format!("u{i}"), "sip:c", "203.0.113.9:1".parse().unwrap(), 0);
        }
        let first_second = ka.due(1).len();
        assert!(first_second < 1_000, "{first_second} of 10000 due in the first second");
        let rest: usize = (2..=30).map(|now| ka.due(now).len()).sum();
        assert_eq!(first_second + rest, 10_000);
        assert_eq!(ka.schedule.len(), 10_000);
    }
}
