//! The admin API: plan, apply, rollback, history and read access to the running objects.
//! Served on a Unix socket (guarded by file permissions) and optionally on TCP, where every
//! request needs the bearer token whose SHA-256 is in pbxd.toml.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::call::CallView;
use crate::reconcile::{ApplyOutcome, ApplyRequest, Reconciler};
use crate::sip::core::{CoreCommand, CoreHandle, RegistrationView};
use crate::store::{Cdr, CdrQuery, Revision};

/// Status of the node, for `pbxctl status` and health checks.
#[derive(Debug, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub revision: Option<Revision>,
    pub tenants: usize,
    /// SIP listeners as "udp:127.0.0.1:5060", with ports resolved.
    #[serde(default)]
    pub sip: Vec<String>,
    /// Relay sessions (one per call with media) and free RTP port pairs.
    #[serde(default)]
    pub media: Option<MediaStatus>,
    /// The memory allocator: bytes in use and bytes held.
    #[serde(default)]
    pub heap: Option<crate::heap::HeapStatus>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct MediaStatus {
    pub sessions: usize,
    pub port_pairs_free: usize,
    pub port_pairs: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RollbackRequest {
    pub to: Option<i64>,
    #[serde(default)]
    pub author: String,
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    limit: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct ObjectsQuery {
    tenant: Option<String>,
}

/// What the admin handlers reach: the control plane and, when SIP runs, its core.
#[derive(Clone)]
pub struct AdminState {
    pub reconciler: Arc<Reconciler>,
    pub sip: Option<CoreHandle>,
    pub bus: Option<crate::events::EventBus>,
}

impl axum::extract::FromRef<AdminState> for Arc<Reconciler> {
    fn from_ref(state: &AdminState) -> Self {
        state.reconciler.clone()
    }
}

/// The admin router; `token_sha256` set means every request needs that bearer token.
pub fn router(
    reconciler: Arc<Reconciler>,
    sip: Option<CoreHandle>,
    bus: Option<crate::events::EventBus>,
    token_sha256: Option<String>,
) -> Router {
    let routes = Router::new()
        .route("/v1/registrations", get(registrations))
        .route("/v1/calls", get(calls))
        .route("/v1/trunks", get(trunks))
        .route("/v1/cdrs", get(cdrs))
        .route("/v1/events", get(events))
        .route("/v1/status", get(status))
        .route("/v1/plan", post(plan))
        .route("/v1/apply", post(apply))
        .route("/v1/rollback", post(rollback))
        .route("/v1/history", get(history))
        .route("/v1/objects/{kind}", get(objects))
        .with_state(AdminState { reconciler, sip, bus });
    match token_sha256 {
        Some(hash) => routes.layer(middleware::from_fn_with_state(Arc::new(hash), require_token)),
        None => routes,
    }
}

async fn require_token(
    State(expected): State<Arc<String>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "a bearer token is required"))?;
    let digest: String = Sha256::digest(presented.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    if !constant_time_eq(digest.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "the bearer token is not valid"));
    }
    Ok(next.run(request).await)
}

/// Compares without an early exit, so timing does not tell how much of a token matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn status(State(state): State<AdminState>) -> Json<Status> {
    let snapshot = state.reconciler.snapshot();
    let media = state.sip.as_ref().map(|sip| MediaStatus {
        sessions: sip.relay.sessions(),
        port_pairs_free: sip.relay.pool().available(),
        port_pairs: sip.relay.pool().capacity(),
    });
    let sip = state.sip.map_or_else(Vec::new, |sip| sip.local.iter().map(ToString::to_string).collect());
    Json(Status {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        revision: snapshot.revision.clone(),
        tenants: snapshot.tenants.len(),
        sip,
        media,
        heap: crate::heap::status(),
    })
}

async fn plan(
    State(r): State<Arc<Reconciler>>,
    Json(request): Json<ApplyRequest>,
) -> Result<Json<ApplyOutcome>, ApiError> {
    // Validation of a large tenant set is CPU work; keep it off the I/O threads.
    let outcome = tokio::task::spawn_blocking(move || r.plan(&request))
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "plan failed"))??;
    Ok(Json(outcome))
}

async fn apply(
    State(r): State<Arc<Reconciler>>,
    Json(request): Json<ApplyRequest>,
) -> Result<Json<ApplyOutcome>, ApiError> {
    Ok(Json(r.apply(&request).await?))
}

async fn rollback(
    State(r): State<Arc<Reconciler>>,
    Json(request): Json<RollbackRequest>,
) -> Result<Json<ApplyOutcome>, ApiError> {
    let author = if request.author.is_empty() { "unknown" } else { &request.author };
    Ok(Json(r.rollback(request.to, author).await?))
}

async fn history(
    State(r): State<Arc<Reconciler>>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<Revision>>, ApiError> {
    Ok(Json(r.store().history(q.limit.unwrap_or(20).clamp(1, 1000)).await?))
}

/// Objects of one kind from the running snapshot, each with its tenant id.
async fn objects(
    State(r): State<Arc<Reconciler>>,
    Path(kind): Path<String>,
    Query(q): Query<ObjectsQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let kind = kind.trim_end_matches('s').to_owned();
    let known = kind == "tenant" || crate::config::model::OBJECT_KINDS.contains(&kind.as_str());
    if !known {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("unknown object kind \"{kind}\"")));
    }
    let snapshot = r.snapshot();
    if let Some(t) = &q.tenant
        && !snapshot.tenants.contains_key(t)
    {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("tenant \"{t}\" is not running")));
    }
    let mut out = Vec::new();
    for (id, tenant) in snapshot.tenants.iter().filter(|(id, _)| q.tenant.as_ref().is_none_or(|t| t == *id)) {
        let Ok(Value::Object(mut sections)) = serde_json::to_value(&tenant.model) else { continue };
        let items = match sections.remove(&kind) {
            Some(Value::Array(items)) => items,
            Some(single) => vec![single],
            None => Vec::new(),
        };
        for item in items {
            let mut row = serde_json::Map::new();
            row.insert("tenant".to_owned(), Value::from(id.clone()));
            if let Value::Object(fields) = item {
                row.extend(fields);
            }
            out.push(Value::Object(row));
        }
    }
    Ok(Json(out))
}

/// Asks the SIP core; 503 when SIP does not run.
async fn ask_core<T>(
    sip: Option<CoreHandle>,
    command: impl FnOnce(tokio::sync::oneshot::Sender<T>) -> CoreCommand,
) -> Result<T, ApiError> {
    let unavailable = || ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "SIP is not running");
    let sip = sip.ok_or_else(unavailable)?;
    let (reply, answer) = tokio::sync::oneshot::channel();
    sip.commands.send(command(reply)).await.map_err(|_| unavailable())?;
    answer.await.map_err(|_| unavailable())
}

/// Registered contacts from the SIP core's location service.
async fn registrations(
    State(state): State<AdminState>,
    Query(q): Query<ObjectsQuery>,
) -> Result<Json<Vec<RegistrationView>>, ApiError> {
    Ok(Json(ask_core(state.sip, |reply| CoreCommand::Registrations { tenant: q.tenant, reply }).await?))
}

/// Every event of the node (or of `?tenant=`), as Server-Sent Events: `pbxctl top`'s feed.
async fn events(State(state): State<AdminState>, Query(q): Query<ObjectsQuery>) -> Result<Response, ApiError> {
    use axum::response::IntoResponse;
    let bus = state.bus.ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no event bus"))?;
    let sse = crate::api::v1::events::sse(bus.subscribe(), move |e| {
        q.tenant.as_ref().is_none_or(|t| e.tenant.as_ref() == Some(t))
    });
    Ok(sse.into_response())
}

/// Live calls.
async fn calls(
    State(state): State<AdminState>,
    Query(q): Query<ObjectsQuery>,
) -> Result<Json<Vec<CallView>>, ApiError> {
    let sip = state.sip.ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "SIP is not running"))?;
    Ok(Json(sip.calls(q.tenant.as_deref())))
}

/// Trunks and their status.
async fn trunks(
    State(state): State<AdminState>,
    Query(q): Query<ObjectsQuery>,
) -> Result<Json<Vec<crate::trunk::TrunkView>>, ApiError> {
    let sip = state.sip.ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "SIP is not running"))?;
    let all = sip.trunks.borrow().clone();
    Ok(Json(all.iter().filter(|t| q.tenant.as_ref().is_none_or(|x| *x == t.tenant)).cloned().collect()))
}

#[derive(Debug, Deserialize)]
struct CdrParams {
    tenant: Option<String>,
    /// Milliseconds since the Unix epoch.
    since_ms: Option<i64>,
    limit: Option<i64>,
}

/// Finished calls, newest first.
async fn cdrs(State(r): State<Arc<Reconciler>>, Query(q): Query<CdrParams>) -> Result<Json<Vec<Cdr>>, ApiError> {
    let query = CdrQuery {
        tenant: q.tenant,
        since_ms: q.since_ms,
        limit: q.limit.unwrap_or(100).clamp(1, 50_000),
        ..CdrQuery::default()
    };
    Ok(Json(r.store().cdrs(&query).await?))
}
