//! Checks a digest `response` against a stored credential (RFC 7616 §3.4.1, RFC 2617 §3.2.2).
//!
//! Exists to hold the one computation that decides whether a peer knows the password. It is
//! pure: it does not check the nonce's authenticity or age, the nonce count's freshness, the
//! realm, or that `uri` names the Request-URI — the caller ([`super::Authenticator`] and the
//! registrar) does. It must never panic on peer input and never compare digests with `==`.

use super::algorithm::{Algorithm, ct_eq, session_ha1};
use super::credential::Credential;

/// The parameters of an `Authorization` / `Proxy-Authorization: Digest ...` header, already
/// unquoted by the SIP parser.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DigestResponse {
    /// `username`.
    pub username: String,
    /// `realm`; the caller must check it is the realm it challenged with.
    pub realm: String,
    /// `nonce`, echoed from our challenge.
    pub nonce: String,
    /// `uri` (digest-uri). The caller must check it refers to the Request-URI of the request
    /// (RFC 3261 §22.4 item 8 / RFC 7616 §3.4.6); otherwise a response captured for one
    /// request could be replayed against another target within the nonce's lifetime.
    pub uri: String,
    /// `response`, hex.
    pub response: String,
    /// `algorithm` as sent; `None` means MD5.
    pub algorithm: Option<String>,
    /// `qop` as sent; `None` is RFC 2069 compatibility mode.
    pub qop: Option<String>,
    /// `nc`, parsed from its 8 hex digits. Re-encoded as 8 lowercase hex digits for hashing,
    /// so a client that sent uppercase hex fails verification (RFC 7616 requires lowercase).
    pub nc: Option<u32>,
    /// `cnonce`.
    pub cnonce: Option<String>,
    /// `opaque`, echoed from our challenge.
    pub opaque: Option<String>,
}

/// What the verifier accepts beyond plain `qop=auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VerifyOptions {
    /// Accept responses without `qop` (RFC 2069). Only set this when the challenge is meant
    /// for such legacy clients: without `qop` there is no `nc`/`cnonce`, so replay protection
    /// falls back to the nonce lifetime alone.
    pub allow_rfc2069: bool,
}

/// Why a response did not verify. Messages are for logs, never for the peer: every variant
/// is answered with the same 401/407.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// `algorithm=` named something we do not implement.
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// `qop=` was not `auth` (we do not offer `auth-int`).
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
    /// No `qop`, and RFC 2069 mode is off.
    #[error("response without qop, but the challenge required qop=auth")]
    QopRequired,
    /// `qop=auth` without a usable `nc` (absent or zero).
    #[error("qop=auth without a nonce count")]
    MissingNonceCount,
    /// `qop=auth` or a `-sess` algorithm without a `cnonce`.
    #[error("missing cnonce")]
    MissingCnonce,
    /// The credential has no HA1 for this algorithm.
    #[error("no stored credential for algorithm {0}")]
    NoCredential(Algorithm),
    /// The response digest is wrong: wrong password, or a tampered parameter.
    #[error("digest response does not match")]
    Mismatch,
}

/// `true` when `request` proves knowledge of `credential` for `method`, with `qop=auth`
/// required. See [`verify_with`].
pub fn verify(request: &DigestResponse, method: &str, credential: &Credential) -> bool {
    verify_with(request, method, credential, VerifyOptions::default()).is_ok()
}

/// Verifies `request` for `method` and returns the algorithm it used.
///
/// Only `qop=auth` (and, with [`VerifyOptions::allow_rfc2069`], no qop) is supported. The
/// digest comparison is constant-time and case-insensitive on the client's hex.
pub fn verify_with(
    request: &DigestResponse,
    method: &str,
    credential: &Credential,
    options: VerifyOptions,
) -> Result<Algorithm, VerifyError> {
    let algorithm = request_algorithm(request)?;
    let base =
        credential.ha1_for(algorithm, &request.username, &request.realm).ok_or(VerifyError::NoCredential(algorithm))?;
    let expected = expected_response(algorithm, &base, request, method, options)?;
    let got = request.response.to_ascii_lowercase();
    if ct_eq(expected.as_bytes(), got.as_bytes()) { Ok(algorithm) } else { Err(VerifyError::Mismatch) }
}

/// The algorithm a response claims; absent means MD5 (RFC 7616 §3.4.1).
pub fn request_algorithm(request: &DigestResponse) -> Result<Algorithm, VerifyError> {
    match request.algorithm.as_deref() {
        None => Ok(Algorithm::Md5),
        Some(token) => Algorithm::from_token(token).ok_or_else(|| VerifyError::UnsupportedAlgorithm(token.to_owned())),
    }
}

/// The `response` value a client holding `base_ha1` would send. Public so that tests and a
/// future client side (trunk registration) share the exact computation.
pub fn expected_response(
    algorithm: Algorithm,
    base_ha1: &str,
    request: &DigestResponse,
    method: &str,
    options: VerifyOptions,
) -> Result<String, VerifyError> {
    let cnonce = request.cnonce.as_deref().filter(|c| !c.is_empty());
    let ha2 = algorithm.hash_hex(&[method, &request.uri]);
    match request.qop.as_deref() {
        Some(qop) => {
            if !qop.eq_ignore_ascii_case("auth") {
                return Err(VerifyError::UnsupportedQop(qop.to_owned()));
            }
            let nc = request.nc.filter(|&n| n > 0).ok_or(VerifyError::MissingNonceCount)?;
            let cnonce = cnonce.ok_or(VerifyError::MissingCnonce)?;
            let ha1 = session_ha1(algorithm, base_ha1, &request.nonce, cnonce);
            let nc = format!("{nc:08x}");
            Ok(algorithm.hash_hex(&[&ha1, &request.nonce, &nc, cnonce, qop, &ha2]))
        }
        None => {
            if !options.allow_rfc2069 {
                return Err(VerifyError::QopRequired);
            }
            let ha1 = if algorithm.is_session() {
                session_ha1(algorithm, base_ha1, &request.nonce, cnonce.ok_or(VerifyError::MissingCnonce)?)
            } else {
                base_ha1.to_owned()
            };
            Ok(algorithm.hash_hex(&[&ha1, &request.nonce, &ha2]))
        }
    }
}

#[cfg(test)]
mod tests {
    use md5::{Digest, Md5};
    use sha2::Sha256;

    use super::*;
    use crate::sip::auth::algorithm::hex;

    fn mufasa_2617() -> DigestResponse {
        DigestResponse {
            username: "Mufasa".into(),
            realm: "testrealm@host.com".into(),
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093".into(),
            uri: "/dir/index.html".into(),
            response: "6629fae49393a05397450978507c4ef1".into(),
            algorithm: None,
            qop: Some("auth".into()),
            nc: Some(1),
            cnonce: Some("0a4f113b".into()),
            opaque: Some("5ccc069c403ebaf9f0171e9517f40e41".into()),
        }
    }

    #[test]
    fn rfc2617_section_3_5_mufasa() {
        let req = mufasa_2617();
        assert!(verify(&req, "GET", &Credential::Password("Circle Of Life".into())));
        assert!(verify(&req, "GET", &Credential::hashed("Mufasa", "testrealm@host.com", "Circle Of Life")));
        assert!(!verify(&req, "GET", &Credential::Password("Circle of Life".into())));
    }

    fn mufasa_7616(algorithm: &str, response: &str) -> DigestResponse {
        DigestResponse {
            username: "Mufasa".into(),
            realm: "http-auth@example.org".into(),
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v".into(),
            uri: "/dir/index.html".into(),
            response: response.into(),
            algorithm: Some(algorithm.into()),
            qop: Some("auth".into()),
            nc: Some(1),
            cnonce: Some("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ".into()),
            opaque: Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS".into()),
        }
    }

    #[test]
    fn rfc7616_section_3_9_1_sha256() {
        let req = mufasa_7616("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
        assert_eq!(
            verify_with(&req, "GET", &Credential::Password("Circle of Life".into()), Default::default()),
            Ok(Algorithm::Sha256)
        );
    }

    #[test]
    fn rfc7616_section_3_9_1_md5() {
        let req = mufasa_7616("MD5", "8ca523f5e9506fed4657c9700eebdbec");
        assert_eq!(
            verify_with(&req, "GET", &Credential::Password("Circle of Life".into()), Default::default()),
            Ok(Algorithm::Md5)
        );
    }

    /// A REGISTER as a SIP phone sends it, cross-checked against a computation written out
    /// with `format!` and the hash crates directly, not through this module.
    #[test]
    fn sip_register_cross_checked_independently() {
        let (user, realm, pass) = ("101", "acme.pbx.example", "Tr0ub4dor&3");
        let (nonce, cnonce, uri) = ("0123456789abcdef", "a1b2c3d4", "sip:acme.pbx.example;transport=udp");
        let md5_hex = |s: String| hex(&Md5::digest(s.as_bytes()));
        let sha_hex = |s: String| hex(&Sha256::digest(s.as_bytes()));

        let ha1 = md5_hex(format!("{user}:{realm}:{pass}"));
        let ha2 = md5_hex(format!("REGISTER:{uri}"));
        let md5_response = md5_hex(format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"));
        let sha1 = sha_hex(format!("{user}:{realm}:{pass}"));
        let sha2 = sha_hex(format!("REGISTER:{uri}"));
        let sha_response = sha_hex(format!("{sha1}:{nonce}:00000001:{cnonce}:auth:{sha2}"));

        let mut req = DigestResponse {
            username: user.into(),
            realm: realm.into(),
            nonce: nonce.into(),
            uri: uri.into(),
            response: md5_response.to_ascii_uppercase(), // hex case must not matter
            algorithm: None,
            qop: Some("auth".into()),
            nc: Some(1),
            cnonce: Some(cnonce.into()),
            opaque: None,
        };
        let stored = Credential::Ha1 { md5: Some(ha1), sha256: Some(sha1) };
        assert!(verify(&req, "REGISTER", &stored));
        assert!(!verify(&req, "INVITE", &stored), "method is covered by HA2");

        req.algorithm = Some("SHA-256".into());
        req.response = sha_response;
        assert!(verify(&req, "REGISTER", &stored));
        req.nc = Some(2);
        assert_eq!(verify_with(&req, "REGISTER", &stored, Default::default()), Err(VerifyError::Mismatch));
    }

    #[test]
    fn md5_sess_uses_rekeyed_ha1() {
        let (nonce, cnonce) = ("n0nce", "cn");
        let md5_hex = |s: String| hex(&Md5::digest(s.as_bytes()));
        let base = md5_hex("u:r:p".into());
        let sess = md5_hex(format!("{base}:{nonce}:{cnonce}"));
        let ha2 = md5_hex("REGISTER:sip:r".into());
        let response = md5_hex(format!("{sess}:{nonce}:0000000a:{cnonce}:auth:{ha2}"));
        let req = DigestResponse {
            username: "u".into(),
            realm: "r".into(),
            nonce: nonce.into(),
            uri: "sip:r".into(),
            response,
            algorithm: Some("md5-sess".into()),
            qop: Some("auth".into()),
            nc: Some(10),
            cnonce: Some(cnonce.into()),
            opaque: None,
        };
        assert!(verify(&req, "REGISTER", &Credential::Password("p".into())));
    }

    #[test]
    fn rfc2069_only_when_allowed() {
        let md5_hex = |s: String| hex(&Md5::digest(s.as_bytes()));
        let ha1 = md5_hex("u:r:p".into());
        let ha2 = md5_hex("REGISTER:sip:r".into());
        let req = DigestResponse {
            username: "u".into(),
            realm: "r".into(),
            nonce: "abc".into(),
            uri: "sip:r".into(),
            response: md5_hex(format!("{ha1}:abc:{ha2}")),
            ..Default::default()
        };
        let cred = Credential::Password("p".into());
        assert_eq!(verify_with(&req, "REGISTER", &cred, Default::default()), Err(VerifyError::QopRequired));
        let legacy = VerifyOptions { allow_rfc2069: true };
        assert_eq!(verify_with(&req, "REGISTER", &cred, legacy), Ok(Algorithm::Md5));
    }

    #[test]
    fn malformed_requests_are_refused_without_panicking() {
        let cred = Credential::Password("Circle Of Life".into());
        let base = mufasa_2617();
        let cases: Vec<(DigestResponse, VerifyError)> = vec![
            (
                DigestResponse { algorithm: Some("SHA-512-256".into()), ..base.clone() },
                VerifyError::UnsupportedAlgorithm("SHA-512-256".into()),
            ),
            (
                DigestResponse { qop: Some("auth-int".into()), ..base.clone() },
                VerifyError::UnsupportedQop("auth-int".into()),
            ),
            (DigestResponse { nc: None, ..base.clone() }, VerifyError::MissingNonceCount),
            (DigestResponse { nc: Some(0), ..base.clone() }, VerifyError::MissingNonceCount),
            (DigestResponse { cnonce: Some(String::new()), ..base.clone() }, VerifyError::MissingCnonce),
            (DigestResponse { response: String::new(), ..base.clone() }, VerifyError::Mismatch),
            (DigestResponse { response: "\u{1F600}".repeat(8), ..base.clone() }, VerifyError::Mismatch),
            (DigestResponse { uri: "/other".into(), ..base.clone() }, VerifyError::Mismatch),
            (DigestResponse { realm: "other".into(), ..base.clone() }, VerifyError::Mismatch),
        ];
        for (req, want) in cases {
            assert_eq!(verify_with(&req, "GET", &cred, Default::default()), Err(want));
        }
        let no_sha = Credential::Ha1 { md5: None, sha256: None };
        assert_eq!(
            verify_with(
                &DigestResponse { algorithm: Some("SHA-256".into()), ..base },
                "GET",
                &no_sha,
                Default::default()
            ),
            Err(VerifyError::NoCredential(Algorithm::Sha256))
        );
    }
}
