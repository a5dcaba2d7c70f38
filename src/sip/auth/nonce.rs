//! Stateless nonces: the server keeps no table of issued nonces.
//!
//! Exists so that a challenge costs no memory (a flood of unauthenticated REGISTERs cannot
//! fill a table) and survives across worker threads. A nonce is 64 lowercase hex digits:
//!
//! ```text
//! timestamp (u64 BE, unix seconds) || salt (8 bytes) || HMAC-SHA256(secret, tag || timestamp || salt || realm)[..16]
//! ```
//!
//! The MAC binds the nonce to its realm (a nonce for tenant A is `Invalid` for tenant B) and
//! makes the timestamp unforgeable, so its age can be trusted. The salt makes nonces issued
//! in the same second distinct, which [`super::NonceCounts`] needs (it keys on the nonce);
//! it is derived by HMAC from a counter so it does not reveal how many challenges were sent.
//! A 128-bit truncated tag is ample for an online-only forgery. Rotating `secret` invalidates
//! every outstanding nonce (clients get a fresh challenge). This module must never read the
//! clock or accept a nonce whose MAC does not verify.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::algorithm::hex;

type HmacSha256 = Hmac<Sha256>;

const NONCE_TAG: &[u8] = b"pbx-nonce-v1";
const SALT_TAG: &[u8] = b"pbx-nonce-salt-v1";
const MAC_LEN: usize = 16;
const RAW_LEN: usize = 8 + 8 + MAC_LEN;

/// Result of [`NonceIssuer::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Issued by us, for this realm, within its lifetime.
    Valid,
    /// Issued by us for this realm, but older than the lifetime: if the digest is otherwise
    /// right, re-challenge with `stale=true` so the phone retries without asking its user.
    Stale,
    /// Not ours: malformed, tampered, another realm, or from before a secret rotation.
    Invalid,
}

/// Issues and checks nonces with a server secret.
pub struct NonceIssuer {
    secret: [u8; 32],
    lifetime: Duration,
    counter: AtomicU64,
}

impl NonceIssuer {
    /// An issuer whose nonces stay valid for `lifetime`.
    ///
    /// `secret` must come from a CSPRNG and be shared by all workers that check nonces.
    pub fn new(secret: [u8; 32], lifetime: Duration) -> NonceIssuer {
        NonceIssuer { secret, lifetime, counter: AtomicU64::new(0) }
    }

    /// Starts the salt counter at `seed`. The I/O shell should pass a random value (or the
    /// boot time in nanoseconds) so that a restart within the same second with the same secret
    /// does not re-issue a nonce already handed out.
    pub fn with_salt_seed(self, seed: u64) -> NonceIssuer {
        self.counter.store(seed, Ordering::Relaxed);
        self
    }

    /// How long a nonce stays valid.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A fresh nonce for `realm`, stamped `now_unix_secs`.
    pub fn issue(&self, realm: &str, now_unix_secs: u64) -> String {
        let count = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut salt_mac = self.mac();
        salt_mac.update(SALT_TAG);
        salt_mac.update(&count.to_be_bytes());
        let salt_full = salt_mac.finalize().into_bytes();
        let mut salt = [0u8; 8];
        salt.copy_from_slice(&salt_full[..8]);

        let tag = self.tag(now_unix_secs, &salt, realm);
        let mut raw = [0u8; RAW_LEN];
        raw[..8].copy_from_slice(&now_unix_secs.to_be_bytes());
        raw[8..16].copy_from_slice(&salt);
        raw[16..].copy_from_slice(&tag[..MAC_LEN]);
        hex(&raw)
    }

    /// Checks that `nonce` is ours, for `realm`, and not older than the lifetime.
    ///
    /// A nonce stamped in the future (the clock stepped back) is treated as valid while its
    /// timestamp is within one lifetime of `now`, and as stale beyond that.
    pub fn check(&self, nonce: &str, realm: &str, now_unix_secs: u64) -> NonceCheck {
        match self.issued_at(nonce, realm) {
            None => NonceCheck::Invalid,
            Some(issued) => self.freshness(issued, now_unix_secs),
        }
    }

    /// [`NonceCheck::Valid`] or [`NonceCheck::Stale`] for an already authenticated issue time.
    pub fn freshness(&self, issued_at: u64, now_unix_secs: u64) -> NonceCheck {
        if now_unix_secs.abs_diff(issued_at) > self.lifetime.as_secs() { NonceCheck::Stale } else { NonceCheck::Valid }
    }

    /// The authenticated issue time of `nonce`, or `None` when it is not ours for `realm`.
    pub fn issued_at(&self, nonce: &str, realm: &str) -> Option<u64> {
        let raw = decode_hex::<RAW_LEN>(nonce)?;
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&raw[..8]);
        let issued = u64::from_be_bytes(ts);
        let mut mac = self.mac();
        mac.update(NONCE_TAG);
        mac.update(&raw[..16]);
        mac.update(realm.as_bytes());
        mac.verify_truncated_left(&raw[16..]).ok()?;
        Some(issued)
    }

    fn tag(&self, ts: u64, salt: &[u8; 8], realm: &str) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(NONCE_TAG);
        mac.update(&ts.to_be_bytes());
        mac.update(salt);
        mac.update(realm.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length; a 32-byte key cannot fail.
        match HmacSha256::new_from_slice(&self.secret) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        }
    }
}

impl fmt::Debug for NonceIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceIssuer").field("secret", &"<redacted>").field("lifetime", &self.lifetime).finish()
    }
}

/// Strict lowercase-hex decoding of exactly `N` bytes. Uppercase is refused so that one nonce
/// has exactly one spelling (the nonce-count table keys on the string).
fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;

    fn issuer() -> NonceIssuer {
        NonceIssuer::new([7u8; 32], Duration::from_secs(300))
    }

    #[test]
    fn fresh_nonce_is_valid_and_shaped() {
        let n = issuer().issue("acme", T0);
        assert_eq!(n.len(), 64);
        assert!(n.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(issuer().check(&n, "acme", T0), NonceCheck::Valid);
        assert_eq!(issuer().check(&n, "acme", T0 + 300), NonceCheck::Valid);
        assert_eq!(issuer().issued_at(&n, "acme"), Some(T0));
    }

    #[test]
    fn nonce_goes_stale_after_lifetime() {
        let n = issuer().issue("acme", T0);
        assert_eq!(issuer().check(&n, "acme", T0 + 301), NonceCheck::Stale);
    }

    #[test]
    fn future_nonce_after_clock_step_back() {
        let n = issuer().issue("acme", T0);
        assert_eq!(issuer().check(&n, "acme", T0 - 10), NonceCheck::Valid);
        assert_eq!(issuer().check(&n, "acme", T0 - 1000), NonceCheck::Stale);
    }

    #[test]
    fn same_second_nonces_differ() {
        let i = issuer();
        assert_ne!(i.issue("acme", T0), i.issue("acme", T0));
    }

    #[test]
    fn other_realm_is_invalid() {
        let n = issuer().issue("acme", T0);
        assert_eq!(issuer().check(&n, "globex", T0), NonceCheck::Invalid);
    }

    #[test]
    fn other_secret_is_invalid() {
        let n = issuer().issue("acme", T0);
        let rotated = NonceIssuer::new([8u8; 32], Duration::from_secs(300));
        assert_eq!(rotated.check(&n, "acme", T0), NonceCheck::Invalid);
    }

    #[test]
    fn tampered_nonce_is_invalid() {
        let n = issuer().issue("acme", T0);
        // Move the timestamp forward to extend the lifetime: the MAC must catch it.
        let forged_ts = format!("{:016x}{}", T0 + 10_000, &n[16..]);
        assert_eq!(issuer().check(&forged_ts, "acme", T0 + 10_000), NonceCheck::Invalid);
        for i in [0, 20, 40, 63] {
            let mut b = n.clone().into_bytes();
            b[i] = if b[i] == b'0' { b'1' } else { b'0' };
            let t = String::from_utf8(b).unwrap_or_default();
            assert_eq!(issuer().check(&t, "acme", T0), NonceCheck::Invalid, "flip at {i}");
        }
        assert_eq!(issuer().check(&n.to_ascii_uppercase(), "acme", T0), NonceCheck::Invalid);
    }

    #[test]
    fn garbage_is_invalid_without_panicking() {
        let i = issuer();
        for g in ["", "zz", &"g".repeat(64), &"0".repeat(63), &"0".repeat(65), &"é".repeat(32)] {
            assert_eq!(i.check(g, "acme", T0), NonceCheck::Invalid, "{g:?}");
        }
    }

    #[test]
    fn debug_redacts_secret() {
        assert!(!format!("{:?}", issuer()).contains('7'));
    }
}
