//! Who is calling the reporting API: the node operator, a tenant admin, or an employee bound
//! to one extension — from the bearer token — and what that caller may see.
//!
//! Tokens are stored as SHA-256 (the tenant files' `api_user.token_sha256`, pbxd.toml's
//! `operator_token_sha256`); the presented token is hashed and looked up, so no token is
//! ever kept or logged in clear, and timing reveals nothing about a stored hash. Every client
//! address is rate-limited, and failed tokens drain a much smaller budget (about one guess a
//! second after `failed_tokens_burst`, ten by default), which stops brute force without locking out the right token.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::ApiState;
use crate::api::admin::constant_time_eq;
use crate::api::error::ApiError;
use crate::config::model::ApiRole;
use crate::reconcile::RoutingSnapshot;
use crate::sip::guard::{RateConfig, RateLimiter};

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Every tenant.
    Operator,
    /// Everything of one tenant.
    TenantAdmin { tenant: String },
    /// One extension's calls, CDRs, recordings and voicemail.
    Employee { tenant: String, extension: String },
}

impl Principal {
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Principal::Operator => None,
            Principal::TenantAdmin { tenant } | Principal::Employee { tenant, .. } => Some(tenant),
        }
    }

    pub fn extension(&self) -> Option<&str> {
        match self {
            Principal::Employee { extension, .. } => Some(extension),
            _ => None,
        }
    }

    /// The tenant a request is about: the caller's own (asking for another is 403), or for
    /// the operator the one asked for, if any.
    pub fn scope_tenant(&self, asked: Option<String>) -> Result<Option<String>, ApiError> {
        match (self.tenant(), asked) {
            (None, asked) => Ok(asked),
            (Some(own), Some(asked)) if asked != own => Err(forbidden("this token belongs to another tenant")),
            (Some(own), _) => Ok(Some(own.to_owned())),
        }
    }

    /// The extension a request is about: an employee's own (another is 403).
    pub fn scope_extension(&self, asked: Option<String>) -> Result<Option<String>, ApiError> {
        match (self.extension(), asked) {
            (None, asked) => Ok(asked),
            (Some(own), Some(asked)) if asked != own => Err(forbidden("an employee token sees only its own extension")),
            (Some(own), _) => Ok(Some(own.to_owned())),
        }
    }

    /// May this caller see something of `tenant` involving `parties`? Another tenant's object
    /// is "not found" (its existence is not revealed); another extension's is forbidden.
    pub fn check_object(&self, tenant: &str, parties: &[&str]) -> Result<(), ApiError> {
        if self.tenant().is_some_and(|own| own != tenant) {
            return Err(ApiError::new(StatusCode::NOT_FOUND, "not found"));
        }
        if let Some(ext) = self.extension()
            && !parties.contains(&ext)
        {
            return Err(forbidden("an employee token sees only its own extension"));
        }
        Ok(())
    }
}

fn forbidden(why: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, why)
}

/// Token hashes → principals, rebuilt when the running revision changes.
#[derive(Default)]
struct TokenIndex {
    /// The revision the index was built for; `None` before the first build.
    built_for: Option<Option<i64>>,
    tokens: Arc<HashMap<String, Principal>>,
}

/// Authentication state shared by the API's handlers.
pub struct Auth {
    operator_sha256: Option<String>,
    index: Mutex<TokenIndex>,
    requests: Mutex<RateLimiter>,
    failures: Mutex<RateLimiter>,
}

impl Auth {
    pub fn new(
        operator_sha256: Option<String>,
        requests_per_second: u32,
        burst: u32,
        failed_tokens_burst: u32,
    ) -> Result<Auth, String> {
        let limiter = |rate: f64, burst: u32| {
            RateLimiter::new(RateConfig { rate_per_sec: rate, burst, ..RateConfig::default() })
                .map_err(|e| e.to_string())
        };
        Ok(Auth {
            operator_sha256,
            index: Mutex::new(TokenIndex::default()),
            requests: Mutex::new(limiter(f64::from(requests_per_second.max(1)), burst.max(1))?),
            failures: Mutex::new(limiter(1.0, failed_tokens_burst.max(1))?),
        })
    }

    fn tokens(&self, snapshot: &RoutingSnapshot) -> Arc<HashMap<String, Principal>> {
        let mut index = self.index.lock().unwrap_or_else(|e| e.into_inner());
        let revision = snapshot.revision_number();
        if index.built_for != Some(revision) {
            let mut tokens = HashMap::new();
            for (id, tenant) in &snapshot.tenants {
                for user in &tenant.model.api_users {
                    let principal = match (user.role, &user.extension) {
                        (ApiRole::TenantAdmin, _) => Principal::TenantAdmin { tenant: id.clone() },
                        (ApiRole::Employee, Some(ext)) => {
                            Principal::Employee { tenant: id.clone(), extension: ext.clone() }
                        }
                        (ApiRole::Employee, None) => continue, // rejected by validation anyway
                    };
                    tokens.insert(user.token_sha256.0.to_ascii_lowercase(), principal);
                }
            }
            index.built_for = Some(revision);
            index.tokens = Arc::new(tokens);
        }
        Arc::clone(&index.tokens)
    }

    /// The principal for `token` from `ip`, or 401 / 429.
    pub fn authenticate(
        &self,
        token: Option<&str>,
        ip: IpAddr,
        snapshot: &RoutingSnapshot,
    ) -> Result<Principal, ApiError> {
        let now = Instant::now();
        let too_many = || ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too many requests; slow down");
        if !self.requests.lock().unwrap_or_else(|e| e.into_inner()).allow(ip, now) {
            return Err(too_many());
        }
        let fail = |why: &str| {
            if !self.failures.lock().unwrap_or_else(|e| e.into_inner()).allow(ip, now) {
                return too_many();
            }
            ApiError::new(StatusCode::UNAUTHORIZED, why)
        };
        // No token at all is not a guess: 401 without spending the failure budget.
        let Some(token) = token else {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "a bearer token is required"));
        };
        let digest: String = Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        if let Some(op) = &self.operator_sha256
            && constant_time_eq(digest.as_bytes(), op.to_ascii_lowercase().as_bytes())
        {
            return Ok(Principal::Operator);
        }
        self.tokens(snapshot).get(&digest).cloned().ok_or_else(|| fail("the bearer token is not valid"))
    }
}

impl FromRequestParts<ApiState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |ConnectInfo(addr)| addr.ip());
        let snapshot = state.reconciler.snapshot();
        state.auth.authenticate(token, ip, &snapshot)
    }
}
