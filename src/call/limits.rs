//! Call limits: concurrent calls per tenant and per extension, new calls per second per
//! tenant. A call holds a [`CallGuard`]; dropping it gives the counts back, so every path
//! that ends a call (a panic included) releases them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::time::Instant;

use crate::config::model::Limits;

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TenantCalls,
    TenantRate,
    CallerCalls,
    CalleeCalls,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::TenantCalls => "Service Unavailable (tenant call limit)",
            Refusal::TenantRate => "Service Unavailable (tenant call rate limit)",
            Refusal::CallerCalls => "Service Unavailable (extension call limit)",
            Refusal::CalleeCalls => "Busy Here (extension call limit)",
        }
    }
}

#[derive(Default)]
struct Bucket {
    tokens: f64,
    at: Option<Instant>,
}

/// The counters, owned by the SIP core.
#[derive(Default)]
pub struct CallLimits {
    tenants: HashMap<String, Arc<AtomicU32>>,
    extensions: HashMap<(String, String), Arc<AtomicU32>>,
    rates: HashMap<String, Bucket>,
}

/// Holds one unit of each counter a call counts against.
pub struct CallGuard {
    counters: Vec<Arc<AtomicU32>>,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        for c in &self.counters {
            c.fetch_sub(1, Relaxed);
        }
    }
}

/// Takes one unit of `counter` if it is below `max`.
fn take(counter: &Arc<AtomicU32>, max: u32) -> Option<Arc<AtomicU32>> {
    counter.fetch_update(Relaxed, Relaxed, |n| (n < max).then_some(n + 1)).ok().map(|_| Arc::clone(counter))
}

impl CallLimits {
    /// Admits a call of `caller` to `callee` in `tenant`, or says which limit refuses it.
    #[allow(clippy::too_many_arguments)]
    pub fn admit(
        &mut self,
        tenant: &str,
        limits: &Limits,
        caller: &str,
        caller_max: u32,
        callee: &str,
        callee_max: u32,
        now: Instant,
    ) -> Result<CallGuard, Refusal> {
        let mut guard = CallGuard { counters: Vec::with_capacity(3) };
        let t = self.tenants.entry(tenant.to_owned()).or_default();
        guard.counters.push(take(t, limits.max_calls).ok_or(Refusal::TenantCalls)?);
        let c = self.extensions.entry((tenant.to_owned(), caller.to_owned())).or_default();
        guard.counters.push(take(c, caller_max).ok_or(Refusal::CallerCalls)?);
        if callee != caller {
            let d = self.extensions.entry((tenant.to_owned(), callee.to_owned())).or_default();
            guard.counters.push(take(d, callee_max).ok_or(Refusal::CalleeCalls)?);
        }
        // Rate last: a call refused above does not use up the second's budget.
        let rate = f64::from(limits.calls_per_second.max(1));
        let bucket = self.rates.entry(tenant.to_owned()).or_default();
        let elapsed = bucket.at.map_or(1.0, |at| now.saturating_duration_since(at).as_secs_f64());
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate);
        bucket.at = Some(now);
        if bucket.tokens < 1.0 {
            return Err(Refusal::TenantRate);
        }
        bucket.tokens -= 1.0;
        Ok(guard)
    }

    /// Calls counted now against `tenant`.
    pub fn tenant_calls(&self, tenant: &str) -> u32 {
        self.tenants.get(tenant).map_or(0, |c| c.load(Relaxed))
    }

    /// Forgets counters at zero (extensions come and go with config).
    pub fn purge(&mut self) {
        self.extensions.retain(|_, c| c.load(Relaxed) > 0 || Arc::strong_count(c) > 1);
        self.tenants.retain(|_, c| c.load(Relaxed) > 0 || Arc::strong_count(c) > 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_calls: u32, cps: u32) -> Limits {
        Limits { max_calls, calls_per_second: cps, ..Limits::default() }
    }

    #[test]
    fn tenant_limit_refuses_then_releases_when_a_guard_drops() {
        let mut l = CallLimits::default();
        let now = Instant::now();
        let first = l.admit("t", &limits(1, 100), "101", 5, "102", 5, now).unwrap();
        assert_eq!(l.admit("t", &limits(1, 100), "103", 5, "104", 5, now).err(), Some(Refusal::TenantCalls));
        assert_eq!(l.tenant_calls("t"), 1);
        drop(first);
        assert_eq!(l.tenant_calls("t"), 0);
        assert!(l.admit("t", &limits(1, 100), "103", 5, "104", 5, now).is_ok());
    }

    #[test]
    fn a_refused_call_takes_nothing() {
        let mut l = CallLimits::default();
        let now = Instant::now();
        let _held = l.admit("t", &limits(10, 100), "101", 5, "102", 1, now).unwrap();
        assert_eq!(l.admit("t", &limits(10, 100), "103", 5, "102", 1, now).err(), Some(Refusal::CalleeCalls));
        assert_eq!(l.tenant_calls("t"), 1, "the refused call's tenant unit went back");
        l.purge();
        assert_eq!(l.tenant_calls("t"), 1);
    }

    #[test]
    fn rate_allows_a_burst_of_one_second_then_refills() {
        let mut l = CallLimits::default();
        let now = Instant::now();
        let mut guards = Vec::new();
        for _ in 0..3 {
            guards.push(l.admit("t", &limits(100, 3), "101", 100, "102", 100, now).unwrap());
        }
        assert_eq!(l.admit("t", &limits(100, 3), "101", 100, "102", 100, now).err(), Some(Refusal::TenantRate));
        let later = now + std::time::Duration::from_millis(400);
        assert!(l.admit("t", &limits(100, 3), "101", 100, "102", 100, later).is_ok());
    }
}
