//! Digest algorithms and the hash arithmetic shared by verification and provisioning.
//!
//! Exists so that the `H()` / `KD()` functions of RFC 7616 §3.4 live in one place and every
//! caller (verifier, `pbxctl secret hash`, tests) computes HA1 the same way. It must never
//! compare secrets with `==`: use [`ct_eq`] so timing does not leak how much of a digest
//! matched.

use std::fmt;

use md5::{Digest, Md5};
use sha2::Sha256;

/// A digest algorithm token as it appears in `algorithm=` (RFC 7616 §3.3, RFC 8760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`, the default when a response carries no `algorithm` parameter.
    Md5,
    /// `MD5-sess`: HA1 is re-keyed with the nonce and cnonce.
    Md5Sess,
    /// `SHA-256` (RFC 8760).
    Sha256,
    /// `SHA-256-sess` (RFC 8760).
    Sha256Sess,
}

impl Algorithm {
    /// Every supported algorithm, in the order challenges offer them (strongest first).
    pub const ALL: [Algorithm; 4] = [Algorithm::Sha256, Algorithm::Sha256Sess, Algorithm::Md5, Algorithm::Md5Sess];

    /// The token written in headers, e.g. `SHA-256-sess`.
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Parses a header token, case-insensitively (RFC 7616 §3.3: tokens are case-insensitive).
    /// Returns `None` for anything else (SHA-512-256, AKAv1-MD5, garbage).
    pub fn from_token(token: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.token().eq_ignore_ascii_case(token))
    }

    /// Whether this is a `-sess` variant.
    pub fn is_session(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    /// Whether the underlying hash is SHA-256 (as opposed to MD5).
    pub fn is_sha256(self) -> bool {
        matches!(self, Algorithm::Sha256 | Algorithm::Sha256Sess)
    }

    /// Length of a hex digest of this algorithm: 32 for MD5, 64 for SHA-256.
    pub fn hex_len(self) -> usize {
        if self.is_sha256() { 64 } else { 32 }
    }

    /// `H(p1:p2:...)`: the parts joined by `:` and hashed, as lowercase hex.
    pub fn hash_hex(self, parts: &[&str]) -> String {
        if self.is_sha256() { hash_joined::<Sha256>(parts) } else { hash_joined::<Md5>(parts) }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.token())
    }
}

/// The base `HA1 = H(username:realm:password)` for the algorithm's hash function.
///
/// For `-sess` algorithms this is still the *base* HA1 (what we store); the per-session value
/// is [`session_ha1`]. So `ha1(Md5Sess, ..) == ha1(Md5, ..)`.
pub fn ha1(algorithm: Algorithm, user: &str, realm: &str, password: &str) -> String {
    algorithm.hash_hex(&[user, realm, password])
}

/// The HA1 used in the response computation: for `-sess`, `H(HA1:nonce:cnonce)`
/// (RFC 7616 §3.4.2); otherwise `base_ha1` unchanged.
pub fn session_ha1(algorithm: Algorithm, base_ha1: &str, nonce: &str, cnonce: &str) -> String {
    if algorithm.is_session() { algorithm.hash_hex(&[base_ha1, nonce, cnonce]) } else { base_ha1.to_owned() }
}

fn hash_joined<D: Digest>(parts: &[&str]) -> String {
    let mut hasher = D::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update(b":");
        }
        hasher.update(part.as_bytes());
    }
    hex(&hasher.finalize())
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Constant-time equality for equal-length inputs. Lengths are not secret (a digest's length
/// follows from its algorithm), so unequal lengths return early.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_case_insensitively() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_token(a.token()), Some(a));
            assert_eq!(Algorithm::from_token(&a.token().to_ascii_lowercase()), Some(a));
        }
        assert_eq!(Algorithm::from_token("SHA-512-256"), None);
        assert_eq!(Algorithm::from_token(""), None);
    }

    #[test]
    fn ha1_matches_an_independent_md5() {
        let direct = hex(&Md5::digest(b"Mufasa:testrealm@host.com:Circle Of Life"));
        assert_eq!(ha1(Algorithm::Md5, "Mufasa", "testrealm@host.com", "Circle Of Life"), direct);
        assert_eq!(direct, "939e7578ed9e3c518a452acee763bce9");
    }

    #[test]
    fn sess_base_ha1_equals_plain_and_session_rekeys() {
        let base = ha1(Algorithm::Sha256Sess, "u", "r", "p");
        assert_eq!(base, ha1(Algorithm::Sha256, "u", "r", "p"));
        assert_eq!(base.len(), 64);
        let sess = session_ha1(Algorithm::Sha256Sess, &base, "n", "c");
        assert_eq!(sess, hex(&Sha256::digest(format!("{base}:n:c").as_bytes())));
        assert_eq!(session_ha1(Algorithm::Sha256, &base, "n", "c"), base);
    }

    #[test]
    fn ct_eq_compares_contents_and_lengths() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }
}
