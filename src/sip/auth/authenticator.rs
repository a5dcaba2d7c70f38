//! The digest checks chained in the order that is safe.
//!
//! Exists because each piece is easy to misuse alone: the nonce count must be recorded only
//! after the digest verified, `stale=true` may be answered only when the digest was right, and
//! a nonce must be checked against the realm the caller expects, not the one the peer claims.
//! The caller still compares `uri` with the Request-URI and looks the credential up by
//! (realm, username). This module must never tell the peer why it was rejected: every
//! [`Rejection`] becomes the same 401/407 with a fresh challenge.

use super::algorithm::Algorithm;
use super::challenge::challenge_with_opaque;
use super::credential::Credential;
use super::nonce::{NonceCheck, NonceIssuer};
use super::nonce_count::{NcCheck, NonceCounts};
use super::verify::{DigestResponse, VerifyError, VerifyOptions, request_algorithm, verify_with};

/// What an [`Authenticator`] offers and accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Algorithms offered in challenges and accepted in responses. Example: `[Sha256, Md5]`.
    pub algorithms: Vec<Algorithm>,
    /// Accept responses without `qop` (RFC 2069 clients). Example: `false`.
    pub allow_rfc2069: bool,
    /// An `opaque` to put in challenges and require back. Example: `None`.
    pub opaque: Option<String>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy { algorithms: vec![Algorithm::Sha256, Algorithm::Md5], allow_rfc2069: false, opaque: None }
    }
}

/// Result of [`Authenticator::authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The peer knows the password; proceed.
    Authenticated(Algorithm),
    /// The digest was right but the nonce is too old (or its count history was evicted):
    /// answer 401/407 with a fresh challenge carrying `stale=true`. Not a failure.
    Stale,
    /// Refused: answer 401/407 with a fresh challenge (no `stale`).
    Rejected(Rejection),
}

/// Why a response was refused. For logs only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The response names another realm than the one challenged.
    #[error("realm {got:?} is not the challenged realm {expected:?}")]
    WrongRealm {
        /// Realm in the response.
        got: String,
        /// Realm the caller expected.
        expected: String,
    },
    /// The nonce is malformed, tampered, for another realm or from a previous secret.
    #[error("nonce was not issued by this server for this realm")]
    InvalidNonce,
    /// The response uses an algorithm the policy does not offer (a downgrade attempt or a
    /// confused client).
    #[error("algorithm {0} was not offered")]
    NotOffered(Algorithm),
    /// `opaque` missing or different from the challenge's.
    #[error("opaque does not match the challenge")]
    OpaqueMismatch,
    /// A correct digest whose `nc` is not above the last accepted one: a replay.
    #[error("nonce count {nc:08x} replayed")]
    Replay {
        /// The refused nonce count.
        nc: u32,
    },
    /// The digest itself did not verify.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

impl Rejection {
    /// Whether this outcome should count as a failed attempt in
    /// [`crate::sip::guard::AuthFailures`]. Counted: wrong digests (they test a password) and
    /// replays (hostile by construction). Not counted: stale or foreign nonces (every phone
    /// sends one after a restart or secret rotation, and a NAT with many phones would get
    /// banned) and protocol mismatches, none of which test a password.
    pub fn counts_as_failure(&self) -> bool {
        matches!(self, Rejection::Verify(VerifyError::Mismatch) | Rejection::Replay { .. })
    }
}

/// Nonce issuer, nonce-count table and policy, used together.
#[derive(Debug)]
pub struct Authenticator {
    nonces: NonceIssuer,
    counts: NonceCounts,
    policy: Policy,
}

impl Authenticator {
    /// Builds an authenticator. `counts` should use the issuer's lifetime.
    pub fn new(nonces: NonceIssuer, counts: NonceCounts, policy: Policy) -> Authenticator {
        Authenticator { nonces, counts, policy }
    }

    /// Forgets the replay records of expired nonces (also done on each check; this covers
    /// quiet times, so memory goes back after a busy spell).
    pub fn purge(&mut self, now_unix_secs: u64) {
        self.counts.purge_expired(now_unix_secs);
    }

    /// Challenge header values with a fresh nonce. With a known `credential`, algorithms it has
    /// no HA1 for are not offered (a phone choosing one could never succeed). For an unknown
    /// user pass `None`, so the challenge looks like any other.
    pub fn challenge(
        &self,
        realm: &str,
        stale: bool,
        credential: Option<&Credential>,
        now_unix_secs: u64,
    ) -> Vec<String> {
        let nonce = self.nonces.issue(realm, now_unix_secs);
        let offered: Vec<Algorithm> =
            self.policy.algorithms.iter().copied().filter(|&a| credential.is_none_or(|c| c.supports(a))).collect();
        challenge_with_opaque(realm, &nonce, self.policy.opaque.as_deref(), stale, &offered)
    }

    /// Checks a response to one of our challenges for `realm` (the realm the caller serves
    /// this request in, e.g. the tenant's domain), against `credential`.
    ///
    /// `request_id` identifies the request (a hash of its transaction id): a retransmission of
    /// an accepted request may repeat its nonce count, another request may not.
    pub fn authenticate(
        &mut self,
        request: &DigestResponse,
        method: &str,
        realm: &str,
        credential: &Credential,
        request_id: u64,
        now_unix_secs: u64,
    ) -> Outcome {
        match self.check(request, method, realm, credential, request_id, now_unix_secs) {
            Ok(outcome) => outcome,
            Err(rejection) => Outcome::Rejected(rejection),
        }
    }

    fn check(
        &mut self,
        request: &DigestResponse,
        method: &str,
        realm: &str,
        credential: &Credential,
        request_id: u64,
        now: u64,
    ) -> Result<Outcome, Rejection> {
        if request.realm != realm {
            return Err(Rejection::WrongRealm { got: request.realm.clone(), expected: realm.to_owned() });
        }
        let issued_at = self.nonces.issued_at(&request.nonce, realm).ok_or(Rejection::InvalidNonce)?;
        let algorithm = request_algorithm(request)?;
        if !self.policy.algorithms.contains(&algorithm) {
            return Err(Rejection::NotOffered(algorithm));
        }
        if let Some(opaque) = &self.policy.opaque
            && request.opaque.as_deref() != Some(opaque.as_str())
        {
            return Err(Rejection::OpaqueMismatch);
        }
        let options = VerifyOptions { allow_rfc2069: self.policy.allow_rfc2069 };
        verify_with(request, method, credential, options)?;
        if self.nonces.freshness(issued_at, now) == NonceCheck::Stale {
            return Ok(Outcome::Stale);
        }
        // With qop, verify_with guaranteed a non-zero nc; without qop (RFC 2069) there is none
        // and only the nonce lifetime limits replays.
        if request.qop.is_some()
            && let Some(nc) = request.nc
        {
            match self.counts.accept(&request.nonce, issued_at, nc, request_id, now) {
                NcCheck::Fresh => {}
                NcCheck::Replay => return Err(Rejection::Replay { nc }),
                NcCheck::Stale => return Ok(Outcome::Stale),
            }
        }
        Ok(Outcome::Authenticated(algorithm))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sip::auth::algorithm::ha1;
    use crate::sip::auth::verify::expected_response;

    const T0: u64 = 1_700_000_000;
    const REALM: &str = "acme.pbx.example";

    fn authenticator(policy: Policy) -> Authenticator {
        let lifetime = Duration::from_secs(300);
        Authenticator::new(NonceIssuer::new([42; 32], lifetime), NonceCounts::new(1024, lifetime), policy)
    }

    fn nonce_of(challenge: &str) -> String {
        let start = challenge.find("nonce=\"").map(|i| i + 7).unwrap_or(0);
        challenge[start..].split('"').next().unwrap_or_default().to_owned()
    }

    /// What a phone with `password` sends.
    fn answer(nonce: &str, password: &str, algorithm: Algorithm, nc: u32) -> DigestResponse {
        let mut req = DigestResponse {
            username: "101".into(),
            realm: REALM.into(),
            nonce: nonce.into(),
            uri: format!("sip:{REALM}"),
            response: String::new(),
            algorithm: Some(algorithm.token().into()),
            qop: Some("auth".into()),
            nc: Some(nc),
            cnonce: Some("c0ffee".into()),
            opaque: None,
        };
        let base = ha1(algorithm, "101", REALM, password);
        req.response =
            expected_response(algorithm, &base, &req, "REGISTER", VerifyOptions::default()).unwrap_or_default();
        req
    }

    fn stored() -> Credential {
        Credential::hashed("101", REALM, "right")
    }

    fn first_nonce(a: &Authenticator, now: u64) -> String {
        nonce_of(&a.challenge(REALM, false, Some(&stored()), now)[0])
    }

    #[test]
    fn challenge_offers_sha256_then_md5_and_only_what_the_credential_has() {
        let a = authenticator(Policy::default());
        let values = a.challenge(REALM, false, None, T0);
        assert_eq!(values.len(), 2);
        assert!(values[0].contains("algorithm=SHA-256") && values[1].contains("algorithm=MD5"));
        let md5_only = Credential::Ha1 { md5: Some(ha1(Algorithm::Md5, "101", REALM, "x")), sha256: None };
        let values = a.challenge(REALM, true, Some(&md5_only), T0);
        assert_eq!(values.len(), 1);
        assert!(values[0].contains("algorithm=MD5") && values[0].ends_with("stale=true"));
    }

    #[test]
    fn register_round_trip_sha256_and_md5() {
        let mut a = authenticator(Policy::default());
        for algorithm in [Algorithm::Sha256, Algorithm::Md5] {
            let nonce = first_nonce(&a, T0);
            let req = answer(&nonce, "right", algorithm, 1);
            assert_eq!(
                a.authenticate(&req, "REGISTER", REALM, &stored(), 248, T0 + 1),
                Outcome::Authenticated(algorithm)
            );
        }
    }

    #[test]
    fn wrong_password_is_a_counted_failure() {
        let mut a = authenticator(Policy::default());
        let req = answer(&first_nonce(&a, T0), "wrong", Algorithm::Sha256, 1);
        let outcome = a.authenticate(&req, "REGISTER", REALM, &stored(), 256, T0);
        assert_eq!(outcome, Outcome::Rejected(Rejection::Verify(VerifyError::Mismatch)));
        assert!(matches!(outcome, Outcome::Rejected(r) if r.counts_as_failure()));
    }

    #[test]
    fn replayed_nc_is_refused_and_next_nc_accepted() {
        let mut a = authenticator(Policy::default());
        let nonce = first_nonce(&a, T0);
        let req = answer(&nonce, "right", Algorithm::Md5, 1);
        assert!(matches!(a.authenticate(&req, "REGISTER", REALM, &stored(), 266, T0), Outcome::Authenticated(_)));
        assert_eq!(
            a.authenticate(&req, "REGISTER", REALM, &stored(), 268, T0),
            Outcome::Rejected(Rejection::Replay { nc: 1 })
        );
        let next = answer(&nonce, "right", Algorithm::Md5, 2);
        assert!(matches!(a.authenticate(&next, "REGISTER", REALM, &stored(), 272, T0), Outcome::Authenticated(_)));
        let back = answer(&nonce, "right", Algorithm::Md5, 1);
        assert_eq!(
            a.authenticate(&back, "REGISTER", REALM, &stored(), 275, T0),
            Outcome::Rejected(Rejection::Replay { nc: 1 })
        );
    }

    #[test]
    fn unverified_high_nc_does_not_lock_out_the_client() {
        let mut a = authenticator(Policy::default());
        let nonce = first_nonce(&a, T0);
        let mut forged = answer(&nonce, "guess", Algorithm::Md5, u32::MAX);
        forged.response = "0".repeat(32);
        assert!(matches!(a.authenticate(&forged, "REGISTER", REALM, &stored(), 286, T0), Outcome::Rejected(_)));
        let real = answer(&nonce, "right", Algorithm::Md5, 1);
        assert!(matches!(a.authenticate(&real, "REGISTER", REALM, &stored(), 288, T0), Outcome::Authenticated(_)));
    }

    #[test]
    fn stale_nonce_with_right_digest_is_stale_and_with_wrong_digest_is_rejected() {
        let mut a = authenticator(Policy::default());
        let nonce = first_nonce(&a, T0);
        let later = T0 + 301;
        let right = answer(&nonce, "right", Algorithm::Sha256, 1);
        assert_eq!(a.authenticate(&right, "REGISTER", REALM, &stored(), 297, later), Outcome::Stale);
        let wrong = answer(&nonce, "wrong", Algorithm::Sha256, 1);
        assert_eq!(
            a.authenticate(&wrong, "REGISTER", REALM, &stored(), 300, later),
            Outcome::Rejected(Rejection::Verify(VerifyError::Mismatch))
        );
    }

    #[test]
    fn tampered_nonce_is_invalid_and_not_counted() {
        let mut a = authenticator(Policy::default());
        let mut nonce = first_nonce(&a, T0);
        nonce.replace_range(0..1, if nonce.starts_with('0') { "1" } else { "0" });
        let req = answer(&nonce, "right", Algorithm::Md5, 1);
        let outcome = a.authenticate(&req, "REGISTER", REALM, &stored(), 311, T0);
        assert_eq!(outcome, Outcome::Rejected(Rejection::InvalidNonce));
        assert!(matches!(outcome, Outcome::Rejected(r) if !r.counts_as_failure()));
    }

    #[test]
    fn wrong_realm_and_foreign_tenant_nonce() {
        let mut a = authenticator(Policy::default());
        let req = answer(&first_nonce(&a, T0), "right", Algorithm::Md5, 1);
        assert!(matches!(
            a.authenticate(&req, "REGISTER", "globex.pbx.example", &stored(), 321, T0),
            Outcome::Rejected(Rejection::WrongRealm { .. })
        ));
        // A nonce issued for another tenant, presented with our realm, is not ours.
        let foreign = nonce_of(&a.challenge("globex.pbx.example", false, None, T0)[0]);
        let req = answer(&foreign, "right", Algorithm::Md5, 1);
        assert_eq!(
            a.authenticate(&req, "REGISTER", REALM, &stored(), 327, T0),
            Outcome::Rejected(Rejection::InvalidNonce)
        );
    }

    #[test]
    fn unknown_and_unoffered_algorithms() {
        let mut a = authenticator(Policy { algorithms: vec![Algorithm::Sha256], ..Policy::default() });
        let nonce = first_nonce(&a, T0);
        let md5 = answer(&nonce, "right", Algorithm::Md5, 1);
        assert_eq!(
            a.authenticate(&md5, "REGISTER", REALM, &stored(), 336, T0),
            Outcome::Rejected(Rejection::NotOffered(Algorithm::Md5))
        );
        let mut unknown = answer(&nonce, "right", Algorithm::Sha256, 1);
        unknown.algorithm = Some("SHA-512-256".into());
        assert_eq!(
            a.authenticate(&unknown, "REGISTER", REALM, &stored(), 342, T0),
            Outcome::Rejected(Rejection::Verify(VerifyError::UnsupportedAlgorithm("SHA-512-256".into())))
        );
    }

    #[test]
    fn opaque_must_be_echoed() {
        let mut a = authenticator(Policy { opaque: Some("op1".into()), ..Policy::default() });
        let nonce = first_nonce(&a, T0);
        let mut req = answer(&nonce, "right", Algorithm::Md5, 1);
        assert_eq!(
            a.authenticate(&req, "REGISTER", REALM, &stored(), 353, T0),
            Outcome::Rejected(Rejection::OpaqueMismatch)
        );
        req.opaque = Some("op1".into());
        assert!(matches!(a.authenticate(&req, "REGISTER", REALM, &stored(), 357, T0), Outcome::Authenticated(_)));
    }

    #[test]
    fn rejection_messages_read_well() {
        assert_eq!(Rejection::Replay { nc: 10 }.to_string(), "nonce count 0000000a replayed");
        assert_eq!(Rejection::from(VerifyError::Mismatch).to_string(), "digest response does not match");
    }
}
