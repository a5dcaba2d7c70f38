//! fail2ban for SIP digest authentication.
//!
//! Exists to stop password guessing without letting an attacker lock a real user out.
//!
//! Policy:
//! - Per source (IPv4 address or IPv6 /64): `max_failures` failed authentications within a
//!   fixed `window` (started by the first failure) ban the source for `ban_time`. A success
//!   does *not* reset this count: otherwise one valid account behind a source would let it
//!   guess other users' passwords forever by interleaving successful logins.
//! - Per (realm, user): `user_max_failures` failures within `window`, from any sources,
//!   *throttle* the user for `user_throttle_time`. A throttle refuses that user only from the
//!   sources that failed for it (its offenders); while it lasts, any further source that
//!   fails for the user joins the offenders at once, so a distributed attack gets about one
//!   guess per address. The user from a clean address (the real phone) is never refused, so
//!   an attacker cannot lock anyone out. A success resets the user's count but keeps the
//!   throttle of its offenders until it ends.
//!
//! Count only outcomes that tested a password (see
//! [`crate::sip::auth::Rejection::counts_as_failure`]); stale nonces after a restart are not
//! failures, or a NAT with many phones would be banned. Unknown users are recorded like wrong
//! passwords (their per-source count is what matters).
//!
//! Bounds: the source table, the user table and the ban table each hold at most their
//! configured entries; when full, expired entries go first, then the least recently relevant
//! (see `bounded`). A throttled user is relevant until its throttle ends, so spraying junk
//! usernames evicts junk first. Per user at most `max_offenders_per_user` sources are
//! remembered (oldest forgotten first). This module must never ban a user for everyone.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::ConfigError;
use super::bans::Bans;
use super::bounded::make_room;
use super::source::source_key;

/// Thresholds and bounds for [`AuthFailures`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureConfig {
    /// Failures from one source within `window` that ban it. Example: `10`.
    pub max_failures: u32,
    /// Counting window, started by a source's or user's first failure. Example: 60 s.
    pub window: Duration,
    /// How long a source stays banned. Example: 10 min.
    pub ban_time: Duration,
    /// Failures for one (realm, user) within `window` that throttle it. Example: `10`.
    pub user_max_failures: u32,
    /// How long a user's offending sources stay refused for it. Example: 10 min.
    pub user_throttle_time: Duration,
    /// Offending sources remembered per user. Example: `32`.
    pub max_offenders_per_user: usize,
    /// Sources with failure counts tracked at once. Example: `65536`.
    pub max_sources: usize,
    /// Users with failure counts tracked at once. Example: `65536`.
    pub max_users: usize,
    /// Bans held at once. Example: `65536`.
    pub max_bans: usize,
    /// IPv6 prefix length treated as one source. Example: `64`.
    pub ipv6_prefix: u8,
}

impl Default for FailureConfig {
    fn default() -> FailureConfig {
        FailureConfig {
            max_failures: 10,
            window: Duration::from_secs(60),
            ban_time: Duration::from_secs(600),
            user_max_failures: 10,
            user_throttle_time: Duration::from_secs(600),
            max_offenders_per_user: 32,
            max_sources: 65_536,
            max_users: 65_536,
            max_bans: 65_536,
            ipv6_prefix: 64,
        }
    }
}

impl FailureConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let positive: [(&'static str, bool, String); 9] = [
            ("max_failures", self.max_failures > 0, self.max_failures.to_string()),
            ("window", !self.window.is_zero(), format!("{:?}", self.window)),
            ("ban_time", !self.ban_time.is_zero(), format!("{:?}", self.ban_time)),
            ("user_max_failures", self.user_max_failures > 0, self.user_max_failures.to_string()),
            ("user_throttle_time", !self.user_throttle_time.is_zero(), format!("{:?}", self.user_throttle_time)),
            ("max_offenders_per_user", self.max_offenders_per_user > 0, self.max_offenders_per_user.to_string()),
            ("max_sources", self.max_sources > 0, self.max_sources.to_string()),
            ("max_users", self.max_users > 0, self.max_users.to_string()),
            ("max_bans", self.max_bans > 0, self.max_bans.to_string()),
        ];
        if let Some((field, _, value)) = positive.into_iter().find(|(_, ok, _)| !ok) {
            return Err(ConfigError::NotPositive { field, value });
        }
        if self.ipv6_prefix > 128 {
            return Err(ConfigError::BadPrefix(self.ipv6_prefix));
        }
        Ok(())
    }
}

/// What a recorded failure triggered, for INFO logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureOutcome {
    /// This failure banned its source.
    pub source_banned: bool,
    /// This failure started a throttle of the user.
    pub user_throttled: bool,
}

/// Whether to even try authenticating a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead.
    Allowed,
    /// The source is banned; drop the request (or answer 403) without computing a digest.
    SourceBanned {
        /// Time left on the ban.
        remaining: Duration,
    },
    /// This user is throttled and this source is one of its offenders; answer 403.
    UserThrottled {
        /// Time left on the throttle.
        remaining: Duration,
    },
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
}

impl Window {
    fn new(now: Instant) -> Window {
        Window { start: now, failures: 0 }
    }

    fn elapsed(&self, now: Instant, window: Duration) -> bool {
        now.saturating_duration_since(self.start) >= window
    }

    /// Counts one failure, restarting the window when it has passed; returns the count.
    fn hit(&mut self, now: Instant, window: Duration) -> u32 {
        if self.elapsed(now, window) {
            *self = Window::new(now);
        }
        self.failures = self.failures.saturating_add(1);
        self.failures
    }
}

#[derive(Debug, Clone)]
struct UserEntry {
    window: Window,
    /// Sources that failed in the current window.
    sources: Vec<IpAddr>,
    throttled_until: Option<Instant>,
    offenders: Vec<IpAddr>,
}

impl UserEntry {
    fn throttle_remaining(&self, now: Instant) -> Option<Duration> {
        self.throttled_until.filter(|u| *u > now).map(|u| u.duration_since(now))
    }

    fn relevant_until(&self, window: Duration) -> Instant {
        let window_end = self.window.start + window;
        self.throttled_until.map_or(window_end, |t| t.max(window_end))
    }
}

/// Failed-authentication counters, source bans and user throttles.
#[derive(Debug, Clone)]
pub struct AuthFailures {
    config: FailureConfig,
    sources: HashMap<IpAddr, Window>,
    users: HashMap<(String, String), UserEntry>,
    bans: Bans,
}

impl AuthFailures {
    /// Empty tables with `config`, or an error naming the first unusable field.
    pub fn new(config: FailureConfig) -> Result<AuthFailures, ConfigError> {
        config.validate()?;
        let bans = Bans::new(config.max_bans);
        Ok(AuthFailures { config, sources: HashMap::new(), users: HashMap::new(), bans })
    }

    /// Should a request from `ip` for (`realm`, `user`) be authenticated at all?
    pub fn check(&self, ip: IpAddr, realm: &str, user: &str, now: Instant) -> Admission {
        let source = self.key(ip);
        if let Some(remaining) = self.bans.remaining(source, now) {
            return Admission::SourceBanned { remaining };
        }
        if let Some(entry) = self.users.get(&(realm.to_owned(), user.to_owned()))
            && let Some(remaining) = entry.throttle_remaining(now)
            && entry.offenders.contains(&source)
        {
            return Admission::UserThrottled { remaining };
        }
        Admission::Allowed
    }

    /// Records a failed authentication from `ip` for (`realm`, `user`).
    pub fn record_failure(&mut self, ip: IpAddr, realm: &str, user: &str, now: Instant) -> FailureOutcome {
        let source = self.key(ip);
        let mut outcome = FailureOutcome::default();
        let window = self.config.window;

        if !self.sources.contains_key(&source) {
            make_room(&mut self.sources, self.config.max_sources, |w| w.elapsed(now, window), |w| w.start);
        }
        let count = self.sources.entry(source).or_insert_with(|| Window::new(now)).hit(now, window);
        if count >= self.config.max_failures {
            self.bans.ban(source, now + self.config.ban_time, now);
            self.sources.remove(&source);
            outcome.source_banned = true;
        }

        let key = (realm.to_owned(), user.to_owned());
        if !self.users.contains_key(&key) {
            make_room(
                &mut self.users,
                self.config.max_users,
                |e| e.window.elapsed(now, window) && e.throttle_remaining(now).is_none(),
                |e| e.relevant_until(window),
            );
        }
        let max_offenders = self.config.max_offenders_per_user;
        let entry = self.users.entry(key).or_insert_with(|| UserEntry {
            window: Window::new(now),
            sources: Vec::new(),
            throttled_until: None,
            offenders: Vec::new(),
        });
        if entry.throttled_until.is_some() && entry.throttle_remaining(now).is_none() {
            entry.throttled_until = None;
            entry.offenders.clear();
        }
        if entry.window.elapsed(now, window) {
            entry.sources.clear();
        }
        let count = entry.window.hit(now, window);
        if entry.throttle_remaining(now).is_some() {
            push_bounded(&mut entry.offenders, source, max_offenders);
        } else {
            push_bounded(&mut entry.sources, source, max_offenders);
            if count >= self.config.user_max_failures {
                entry.throttled_until = Some(now + self.config.user_throttle_time);
                for s in std::mem::take(&mut entry.sources) {
                    push_bounded(&mut entry.offenders, s, max_offenders);
                }
                entry.window = Window::new(now);
                outcome.user_throttled = true;
            }
        }
        outcome
    }

    /// Records a successful authentication: resets the user's failure count (not the
    /// source's, see the module docs) and removes `ip` from the user's offenders.
    pub fn record_success(&mut self, ip: IpAddr, realm: &str, user: &str, now: Instant) {
        let source = self.key(ip);
        let key = (realm.to_owned(), user.to_owned());
        let Some(entry) = self.users.get_mut(&key) else { return };
        if entry.throttle_remaining(now).is_none() {
            self.users.remove(&key);
            return;
        }
        entry.window = Window::new(now);
        entry.sources.clear();
        entry.offenders.retain(|s| *s != source);
    }

    /// Whether `ip`'s source is banned.
    pub fn is_banned_ip(&self, ip: IpAddr, now: Instant) -> bool {
        self.bans.is_banned(self.key(ip), now)
    }

    /// Whether (`realm`, `user`) is under throttle. This does *not* mean the user is refused
    /// everywhere: only its offending sources are (use [`AuthFailures::check`] to decide).
    pub fn is_banned_user(&self, realm: &str, user: &str, now: Instant) -> bool {
        self.users.get(&(realm.to_owned(), user.to_owned())).is_some_and(|e| e.throttle_remaining(now).is_some())
    }

    /// The ban table, e.g. for `list(now)`.
    pub fn bans(&self) -> &Bans {
        &self.bans
    }

    /// Lifts a ban on `ip`'s source (operator command); `true` if there was one.
    pub fn unban(&mut self, ip: IpAddr) -> bool {
        let source = self.key(ip);
        self.sources.remove(&source);
        self.bans.unban(source)
    }

    /// Drops everything expired; call now and then (e.g. every minute) to return memory.
    pub fn purge(&mut self, now: Instant) {
        let window = self.config.window;
        self.sources.retain(|_, w| !w.elapsed(now, window));
        self.users.retain(|_, e| !(e.window.elapsed(now, window) && e.throttle_remaining(now).is_none()));
        self.bans.purge_expired(now);
    }

    /// (sources, users) currently tracked, for metrics and tests.
    pub fn tracked(&self) -> (usize, usize) {
        (self.sources.len(), self.users.len())
    }

    fn key(&self, ip: IpAddr) -> IpAddr {
        source_key(ip, self.config.ipv6_prefix)
    }
}

/// Appends `source` unless present, forgetting the oldest beyond `max`.
fn push_bounded(list: &mut Vec<IpAddr>, source: IpAddr, max: usize) {
    if list.contains(&source) {
        return;
    }
    if list.len() >= max {
        list.remove(0);
    }
    list.push(source);
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const REALM: &str = "acme.pbx.example";
    const S: fn(u64) -> Duration = Duration::from_secs;

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, n))
    }

    fn guard() -> AuthFailures {
        match AuthFailures::new(FailureConfig::default()) {
            Ok(g) => g,
            Err(e) => panic!("default config must be valid: {e}"),
        }
    }

    fn fail_n(g: &mut AuthFailures, source: IpAddr, user: &str, n: u32, now: Instant) -> FailureOutcome {
        let mut last = FailureOutcome::default();
        for _ in 0..n {
            last = g.record_failure(source, REALM, user, now);
        }
        last
    }

    #[test]
    fn source_banned_after_max_failures() {
        let t0 = Instant::now();
        let mut g = guard();
        assert!(!fail_n(&mut g, ip(1), "101", 9, t0).source_banned);
        assert!(!g.is_banned_ip(ip(1), t0));
        assert!(g.record_failure(ip(1), REALM, "101", t0 + S(1)).source_banned);
        assert!(g.is_banned_ip(ip(1), t0 + S(1)));
        assert_eq!(g.check(ip(1), REALM, "any", t0 + S(1)), Admission::SourceBanned { remaining: S(600) });
    }

    #[test]
    fn ban_expires_after_ban_time() {
        let t0 = Instant::now();
        let mut g = guard();
        fail_n(&mut g, ip(1), "101", 10, t0);
        assert!(g.is_banned_ip(ip(1), t0 + S(599)));
        assert!(!g.is_banned_ip(ip(1), t0 + S(600)));
        assert_eq!(g.check(ip(1), REALM, "102", t0 + S(600)), Admission::Allowed);
    }

    #[test]
    fn window_resets_counts() {
        let t0 = Instant::now();
        let mut g = guard();
        fail_n(&mut g, ip(1), "101", 9, t0);
        assert!(!fail_n(&mut g, ip(1), "101", 9, t0 + S(60)).source_banned);
        assert!(!g.is_banned_ip(ip(1), t0 + S(60)));
        assert!(!g.is_banned_user(REALM, "101", t0 + S(60)));
    }

    #[test]
    fn other_source_unaffected() {
        let t0 = Instant::now();
        let mut g = guard();
        fail_n(&mut g, ip(1), "101", 10, t0);
        assert!(!g.is_banned_ip(ip(2), t0));
        assert_eq!(g.check(ip(2), REALM, "102", t0), Admission::Allowed);
    }

    /// The design requirement: ten wrong passwords from one source ban it; the right user from
    /// another address still registers.
    #[test]
    fn ten_wrong_passwords_ban_the_source_but_not_the_real_user_elsewhere() {
        let t0 = Instant::now();
        let mut g = guard();
        let out = fail_n(&mut g, ip(66), "101", 10, t0);
        assert!(out.source_banned && out.user_throttled);
        assert!(g.is_banned_ip(ip(66), t0));
        assert!(g.is_banned_user(REALM, "101", t0), "101 is under throttle");
        // The real phone elsewhere is admitted and its success is recorded.
        assert_eq!(g.check(ip(7), REALM, "101", t0 + S(5)), Admission::Allowed);
        g.record_success(ip(7), REALM, "101", t0 + S(5));
        assert_eq!(g.check(ip(7), REALM, "101", t0 + S(6)), Admission::Allowed);
        assert!(matches!(g.check(ip(66), REALM, "101", t0 + S(6)), Admission::SourceBanned { .. }));
    }

    #[test]
    fn distributed_guessing_throttles_offenders_only() {
        let t0 = Instant::now();
        let mut g = guard();
        for n in 1..=10 {
            let out = g.record_failure(ip(n), REALM, "101", t0);
            assert!(!out.source_banned);
            assert_eq!(out.user_throttled, n == 10);
        }
        let t = t0 + S(1);
        for n in 1..=10 {
            assert_eq!(g.check(ip(n), REALM, "101", t), Admission::UserThrottled { remaining: S(599) });
            assert_eq!(g.check(ip(n), REALM, "102", t), Admission::Allowed, "other users unaffected");
        }
        // A new attacker address gets one guess, then joins the offenders.
        assert_eq!(g.check(ip(50), REALM, "101", t), Admission::Allowed);
        g.record_failure(ip(50), REALM, "101", t);
        assert!(matches!(g.check(ip(50), REALM, "101", t), Admission::UserThrottled { .. }));
        // The real phone from a clean address is never refused.
        assert_eq!(g.check(ip(200), REALM, "101", t), Admission::Allowed);
        // The throttle ends.
        assert_eq!(g.check(ip(1), REALM, "101", t0 + S(600)), Admission::Allowed);
        assert!(!g.is_banned_user(REALM, "101", t0 + S(600)));
    }

    #[test]
    fn success_resets_the_user_count() {
        let t0 = Instant::now();
        let mut g = guard();
        for n in 1..=9 {
            g.record_failure(ip(n), REALM, "101", t0);
        }
        g.record_success(ip(100), REALM, "101", t0 + S(1));
        for n in 11..=19 {
            assert!(!g.record_failure(ip(n), REALM, "101", t0 + S(2)).user_throttled);
        }
        assert!(!g.is_banned_user(REALM, "101", t0 + S(2)));
    }

    #[test]
    fn success_does_not_reset_the_source_count() {
        let t0 = Instant::now();
        let mut g = guard();
        fail_n(&mut g, ip(1), "101", 9, t0);
        g.record_success(ip(1), REALM, "own-account", t0);
        assert!(g.record_failure(ip(1), REALM, "102", t0).source_banned);
    }

    #[test]
    fn ipv6_addresses_in_one_prefix_share_a_count() {
        let t0 = Instant::now();
        let mut g = guard();
        for n in 1..=10u16 {
            let addr = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, n));
            g.record_failure(addr, REALM, "101", t0);
        }
        let other_in_prefix = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0xffff, 0, 0, 1));
        assert!(g.is_banned_ip(other_in_prefix, t0));
        let network = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0));
        assert_eq!(g.bans().list(t0), vec![(network, S(600))]);
    }

    #[test]
    fn tables_stay_bounded_and_throttles_survive_username_spray() {
        let t0 = Instant::now();
        let config = FailureConfig { max_sources: 8, max_users: 8, ..FailureConfig::default() };
        let mut g = match AuthFailures::new(config) {
            Ok(g) => g,
            Err(e) => panic!("{e}"),
        };
        fail_n(&mut g, ip(1), "victim", 10, t0);
        for n in 0..200u32 {
            let source = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n));
            g.record_failure(source, REALM, &format!("junk{n}"), t0 + S(1));
            let (sources, users) = g.tracked();
            assert!(sources <= 8 && users <= 8, "{sources} {users}");
        }
        assert!(g.is_banned_user(REALM, "victim", t0 + S(2)));
        assert!(matches!(g.check(ip(1), REALM, "victim", t0 + S(2)), Admission::SourceBanned { .. }));
    }

    #[test]
    fn purge_and_unban() {
        let t0 = Instant::now();
        let mut g = guard();
        fail_n(&mut g, ip(1), "101", 10, t0);
        fail_n(&mut g, ip(2), "102", 3, t0);
        assert!(g.unban(ip(1)));
        assert!(!g.is_banned_ip(ip(1), t0));
        g.purge(t0 + S(601));
        assert_eq!(g.tracked(), (0, 0));
        assert!(g.bans().is_empty());
    }

    #[test]
    fn unusable_config_is_refused() {
        let bad = FailureConfig { max_failures: 0, ..FailureConfig::default() };
        assert_eq!(
            AuthFailures::new(bad).err().map(|e| e.to_string()),
            Some("max_failures must be greater than zero, got 0".to_owned())
        );
        let bad = FailureConfig { ipv6_prefix: 129, ..FailureConfig::default() };
        assert_eq!(AuthFailures::new(bad).err(), Some(ConfigError::BadPrefix(129)));
    }
}
