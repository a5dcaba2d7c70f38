//! One API error type that becomes an HTTP response without leaking internals.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::config::Diagnostic;
use crate::reconcile::ApplyError;
use crate::store::StoreError;

/// The JSON body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        Self { status, body: ErrorBody { error: error.into(), diagnostics: Vec::new() } }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSuchRevision(_) => Self::new(StatusCode::NOT_FOUND, e.to_string()),
            StoreError::Conflict { .. } => Self::new(StatusCode::CONFLICT, e.to_string()),
            other => {
                tracing::error!(error = %other, "storage failed");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "storage is unavailable; nothing was changed")
            }
        }
    }
}

impl From<ApplyError> for ApiError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::Invalid(diagnostics) => Self {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                body: ErrorBody {
                    error: format!("the tenant files have {} problem(s)", diagnostics.len()),
                    diagnostics,
                },
            },
            ApplyError::Stale { .. } => Self::new(StatusCode::CONFLICT, e.to_string()),
            ApplyError::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
