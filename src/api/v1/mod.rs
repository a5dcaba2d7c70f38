//! The reporting API, `/api/v1`: read-only views of a tenant's calls, registrations, CDRs and
//! reports, and its live event stream, for CRMs and dashboards.
//!
//! Every handler takes a [`Principal`] and narrows what it reads to what that caller may see
//! (operator: everything; tenant admin: its tenant; employee: its extension), in the query
//! itself rather than by filtering afterwards, so pagination and counts stay right.

pub mod auth;
mod cdrs;
pub mod events;
pub mod metrics;
pub mod openapi;
mod recordings;

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::api::error::ApiError;
use crate::call::CallView;
use crate::events::EventBus;
use crate::reconcile::Reconciler;
use crate::sip::core::{CoreCommand, CoreHandle, RegistrationView};
pub use auth::{Auth, Principal};

/// What the API's handlers reach.
#[derive(Clone)]
pub struct ApiState {
    pub reconciler: Arc<Reconciler>,
    pub sip: Option<CoreHandle>,
    pub auth: Arc<Auth>,
    pub bus: EventBus,
    pub metrics: Arc<metrics::Metrics>,
    /// Rendered `/api/v1/calls` answers by (tenant, extension) scope, with the version of the
    /// published calls they were rendered from.
    pub calls_cache: Arc<std::sync::Mutex<CallsCache>>,
    /// Where recording files are; rows in the store name paths below it.
    pub recordings_dir: Arc<std::path::PathBuf>,
}

pub type CallsCache = std::collections::HashMap<(Option<String>, Option<String>), (u64, bytes::Bytes)>;

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/calls", get(calls))
        .route("/api/v1/registrations", get(registrations))
        .route("/api/v1/trunks", get(trunks))
        .route("/api/v1/cdrs", get(cdrs::list))
        .route("/api/v1/cdrs/{id}", get(cdrs::one))
        .route("/api/v1/recordings", get(recordings::list))
        .route("/api/v1/recordings/{id}", get(recordings::one))
        .route("/api/v1/recordings/{id}/audio", get(recordings::audio))
        .route("/api/v1/reports/calls", get(cdrs::calls_report))
        .route("/api/v1/reports/extensions", get(cdrs::extensions_report))
        .route("/api/v1/reports/dids", get(cdrs::dids_report))
        .route("/api/v1/events", get(events::stream))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/metrics", get(metrics::render))
        .with_state(state)
}

/// Who the token belongs to.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Me {
    /// operator, tenant_admin or employee.
    pub role: String,
    pub tenant: Option<String>,
    pub extension: Option<String>,
}

async fn me(principal: Principal) -> Json<Me> {
    let role = match principal {
        Principal::Operator => "operator",
        Principal::TenantAdmin { .. } => "tenant_admin",
        Principal::Employee { .. } => "employee",
    };
    Json(Me {
        role: role.to_owned(),
        tenant: principal.tenant().map(str::to_owned),
        extension: principal.extension().map(str::to_owned),
    })
}

/// Query parameters, with rejections as JSON 400s like every other error (axum's own
/// `Query` answers them in plain text).
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(t)| ApiQuery(t))
            .map_err(|e| ApiError::new(axum::http::StatusCode::BAD_REQUEST, format!("query: {}", e.body_text())))
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Scope {
    tenant: Option<String>,
    extension: Option<String>,
}

async fn ask_core<T>(
    sip: Option<CoreHandle>,
    command: impl FnOnce(tokio::sync::oneshot::Sender<T>) -> CoreCommand,
) -> Result<T, ApiError> {
    let unavailable = || ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "SIP is not running");
    let sip = sip.ok_or_else(unavailable)?;
    let (reply, answer) = tokio::sync::oneshot::channel();
    sip.commands.send(command(reply)).await.map_err(|_| unavailable())?;
    answer.await.map_err(|_| unavailable())
}

/// Live calls.
///
/// Answers come from the calls the core publishes (at most 100 ms old), rendered once per
/// publication and scope: polling dashboards cost neither the core nor serialisation.
async fn calls(
    State(state): State<ApiState>,
    principal: Principal,
    ApiQuery(scope): ApiQuery<Scope>,
) -> Result<axum::response::Response, ApiError> {
    let tenant = principal.scope_tenant(scope.tenant)?;
    let extension = principal.scope_extension(scope.extension)?;
    let sip =
        state.sip.ok_or_else(|| ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "SIP is not running"))?;
    let snapshot = sip.calls.borrow().clone();
    let key = (tenant, extension);
    let cached = state.calls_cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned();
    let body = match cached {
        Some((version, body)) if version == snapshot.version => body,
        _ => {
            let (tenant, extension) = (&key.0, &key.1);
            let calls: Vec<&CallView> = snapshot
                .calls
                .iter()
                .filter(|c| tenant.as_ref().is_none_or(|t| *t == c.tenant))
                .filter(|c| extension.as_ref().is_none_or(|e| *e == c.caller || *e == c.callee))
                .map(|c| c.as_ref())
                .collect();
            let body = bytes::Bytes::from(serde_json::to_vec(&calls).unwrap_or_default());
            let mut cache = state.calls_cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(key, (snapshot.version, body.clone()));
            body
        }
    };
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The tenant's trunks and whether their carriers answer; not for employees.
async fn trunks(
    State(state): State<ApiState>,
    principal: Principal,
    ApiQuery(scope): ApiQuery<TenantScope>,
) -> Result<Json<Vec<crate::trunk::TrunkView>>, ApiError> {
    if principal.extension().is_some() {
        return Err(ApiError::new(axum::http::StatusCode::FORBIDDEN, "trunks are for tenant admins"));
    }
    let tenant = principal.scope_tenant(scope.tenant)?;
    let sip =
        state.sip.ok_or_else(|| ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "SIP is not running"))?;
    let all = sip.trunks.borrow().clone();
    Ok(Json(all.iter().filter(|t| tenant.as_ref().is_none_or(|x| *x == t.tenant)).cloned().collect()))
}

#[derive(Debug, Default, Deserialize)]
pub struct TenantScope {
    tenant: Option<String>,
}

/// Registered phones.
async fn registrations(
    State(state): State<ApiState>,
    principal: Principal,
    ApiQuery(scope): ApiQuery<Scope>,
) -> Result<Json<Vec<RegistrationView>>, ApiError> {
    let tenant = principal.scope_tenant(scope.tenant)?;
    let extension = principal.scope_extension(scope.extension)?;
    let mut rows = ask_core(state.sip, |reply| CoreCommand::Registrations { tenant, reply }).await?;
    if let Some(ext) = extension {
        rows.retain(|r| r.aor.split('@').next() == Some(ext.as_str()));
    }
    Ok(Json(rows))
}
