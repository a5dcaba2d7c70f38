//! What the server knows about a user's secret.
//!
//! Exists because pbx stores digest HA1 values (never plaintext) in tenant config, but a
//! secret reference (`env:ACME_102`) may resolve to a password at load time. Both shapes give
//! an HA1 per algorithm here. This module must never log or `Debug`-print a secret: the
//! `Debug` impl redacts.

use std::fmt;

use super::algorithm::{Algorithm, ha1};

/// A user's secret as the verifier sees it.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// Stored HA1 hex values, `H(user:realm:password)`, one per hash family. A missing one means
    /// that algorithm cannot be verified for this user (the challenge should not offer it).
    Ha1 {
        /// HA1 for MD5 and MD5-sess (32 hex digits).
        md5: Option<String>,
        /// HA1 for SHA-256 and SHA-256-sess (64 hex digits).
        sha256: Option<String>,
    },
    /// A plaintext password (resolved from a secret reference); HA1 is computed on demand.
    Password(String),
}

impl Credential {
    /// Hashes a password into the stored form, as `pbxctl secret hash` does.
    pub fn hashed(user: &str, realm: &str, password: &str) -> Credential {
        Credential::Ha1 {
            md5: Some(ha1(Algorithm::Md5, user, realm, password)),
            sha256: Some(ha1(Algorithm::Sha256, user, realm, password)),
        }
    }

    /// The base HA1 (lowercase hex) for `algorithm`, or `None` when this credential has no
    /// usable value for it (absent, or a stored value of the wrong length / not hex).
    pub fn ha1_for(&self, algorithm: Algorithm, user: &str, realm: &str) -> Option<String> {
        match self {
            Credential::Password(password) => Some(ha1(algorithm, user, realm, password)),
            Credential::Ha1 { md5, sha256 } => {
                let stored = if algorithm.is_sha256() { sha256 } else { md5 };
                let stored = stored.as_deref()?;
                let well_formed = stored.len() == algorithm.hex_len() && stored.bytes().all(|b| b.is_ascii_hexdigit());
                well_formed.then(|| stored.to_ascii_lowercase())
            }
        }
    }

    /// Whether [`Credential::ha1_for`] can succeed for `algorithm`; use it to choose what a
    /// challenge offers.
    pub fn supports(&self, algorithm: Algorithm) -> bool {
        self.ha1_for(algorithm, "", "").is_some()
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Ha1 { md5, sha256 } => f
                .debug_struct("Ha1")
                .field("md5", &md5.as_ref().map(|_| "<redacted>"))
                .field("sha256", &sha256.as_ref().map(|_| "<redacted>"))
                .finish(),
            Credential::Password(_) => f.write_str("Password(<redacted>)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_and_password_agree() {
        let stored = Credential::hashed("101", "acme.pbx", "s3cret");
        let plain = Credential::Password("s3cret".into());
        for a in Algorithm::ALL {
            assert_eq!(stored.ha1_for(a, "101", "acme.pbx"), plain.ha1_for(a, "101", "acme.pbx"));
        }
    }

    #[test]
    fn malformed_or_missing_stored_ha1_is_unusable() {
        let c = Credential::Ha1 { md5: Some("zz".repeat(16)), sha256: None };
        assert_eq!(c.ha1_for(Algorithm::Md5, "u", "r"), None);
        assert_eq!(c.ha1_for(Algorithm::Sha256, "u", "r"), None);
        assert!(!c.supports(Algorithm::Md5Sess));
        let short = Credential::Ha1 { md5: Some("abcd".into()), sha256: None };
        assert!(!short.supports(Algorithm::Md5));
    }

    #[test]
    fn stored_ha1_is_normalised_to_lowercase() {
        let upper = "939E7578ED9E3C518A452ACEE763BCE9".to_string();
        let c = Credential::Ha1 { md5: Some(upper), sha256: None };
        assert_eq!(c.ha1_for(Algorithm::Md5, "u", "r").as_deref(), Some("939e7578ed9e3c518a452acee763bce9"));
    }

    #[test]
    fn debug_never_prints_secrets() {
        let text = format!("{:?} {:?}", Credential::Password("hunter2".into()), Credential::hashed("u", "r", "p"));
        assert!(!text.contains("hunter2"));
        assert!(!text.contains(&ha1(Algorithm::Md5, "u", "r", "p")));
    }
}
