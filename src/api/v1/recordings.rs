//! Call recordings: a scoped, cursor-paged list, one recording's details, and its audio
//! (WAV) with HTTP range requests, so players can seek and downloads can resume.

use std::path::{Component, Path};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::cdrs::{bad, parse_cursor, parse_time};
use super::{ApiQuery, ApiState, Principal};
use crate::api::error::ApiError;
use crate::store::{Recording, RecordingQuery};

/// Filters of `GET /api/v1/recordings`.
#[derive(Debug, Default, Deserialize)]
pub struct RecordingParams {
    tenant: Option<String>,
    /// RFC 3339 time or milliseconds since the epoch: recordings started at or after it.
    since: Option<String>,
    until: Option<String>,
    extension: Option<String>,
    /// Recordings of one call, by its CDR id.
    cdr: Option<String>,
    cursor: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    limit: Option<i64>,
}

/// One page of recordings.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecordingPage {
    pub recordings: Vec<Recording>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

pub async fn list(
    State(state): State<ApiState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<RecordingParams>,
) -> Result<Json<RecordingPage>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(bad("limit: 1 to 1000"));
    }
    let query = RecordingQuery {
        tenant: principal.scope_tenant(params.tenant)?,
        extension: principal.scope_extension(params.extension)?,
        cdr_id: params.cdr,
        since_ms: parse_time("since", params.since.as_deref())?,
        until_ms: parse_time("until", params.until.as_deref())?,
        before: parse_cursor(params.cursor.as_deref())?,
        limit,
    };
    let recordings = state.reconciler.store().recordings(&query).await?;
    let next_cursor = (recordings.len() == limit as usize)
        .then(|| recordings.last().map(|r| format!("{}.{}", r.start_ms, r.id)))
        .flatten();
    Ok(Json(RecordingPage { recordings, next_cursor }))
}

/// The recording `id` if `principal` may see it: another tenant's is 404, another
/// extension's 403.
async fn visible(state: &ApiState, principal: &Principal, id: &str) -> Result<Recording, ApiError> {
    let r = state
        .reconciler
        .store()
        .recording(id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not found"))?;
    principal.check_object(&r.tenant, &[&r.caller, &r.callee])?;
    Ok(r)
}

pub async fn one(
    State(state): State<ApiState>,
    principal: Principal,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Recording>, ApiError> {
    Ok(Json(visible(&state, &principal, &id).await?))
}

/// The WAV file; `Range: bytes=…` gets 206 with that part, or 416 when outside the file.
pub async fn audio(
    State(state): State<ApiState>,
    principal: Principal,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let r = visible(&state, &principal, &id).await?;
    let relative = Path::new(&r.path);
    if !relative.components().all(|c| matches!(c, Component::Normal(_))) {
        tracing::error!(recording = %r.id, path = %r.path, "recording path leaves the recordings directory");
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not found"));
    }
    let gone = || ApiError::new(StatusCode::GONE, "the recording file is no longer on disk");
    let mut file = tokio::fs::File::open(state.recordings_dir.join(relative)).await.map_err(|_| gone())?;
    let len = file.metadata().await.map_err(|_| gone())?.len();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).map(|v| byte_range(v, len));
    let (status, start, end) = match range {
        Some(Ok(Some((start, end)))) => (StatusCode::PARTIAL_CONTENT, start, end),
        Some(Err(Unsatisfiable)) => {
            let mut response =
                ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "range outside the file").into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(response);
        }
        _ => (StatusCode::OK, 0, len.saturating_sub(1)),
    };
    let count = if len == 0 { 0 } else { end - start + 1 };
    file.seek(std::io::SeekFrom::Start(start)).await.map_err(|_| gone())?;
    let body = Body::from_stream(chunks(file.take(count)));
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}.wav\"", r.id.replace('"', ""))) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}"))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(response)
}

/// The file in 64 KiB pieces, read as the client takes them.
fn chunks(
    reader: tokio::io::Take<tokio::fs::File>,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send {
    futures_util::stream::unfold(reader, |mut reader| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), reader))
            }
            Err(e) => Some((Err(e), reader)),
        }
    })
}

#[derive(Debug, PartialEq, Eq)]
struct Unsatisfiable;

/// A single `bytes=` range of a `len`-byte file as inclusive (first, last). `Ok(None)` when
/// the header is not one we serve (several ranges, other units, malformed): RFC 9110 §14.2
/// lets a server ignore those and send the whole file.
fn byte_range(value: &str, len: u64) -> Result<Option<(u64, u64)>, Unsatisfiable> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Ok(None) };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.bytes().all(|b| b.is_ascii_digit()).then(|| s.parse::<u64>().ok()).flatten();
    match (first.is_empty(), last.is_empty()) {
        (true, true) => Ok(None),
        // Suffix: the last N bytes.
        (true, false) => match parse(last) {
            None => Ok(None),
            Some(0) => Err(Unsatisfiable),
            Some(_) if len == 0 => Err(Unsatisfiable),
            Some(n) => Ok(Some((len - n.min(len), len - 1))),
        },
        (false, _) => {
            let Some(start) = parse(first) else { return Ok(None) };
            let end = if last.is_empty() { Some(u64::MAX) } else { parse(last) };
            let Some(end) = end else { return Ok(None) };
            if end < start {
                return Ok(None);
            }
            if start >= len {
                return Err(Unsatisfiable);
            }
            Ok(Some((start, end.min(len - 1))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_per_rfc_9110() {
        assert_eq!(byte_range("bytes=0-99", 1000), Ok(Some((0, 99))));
        assert_eq!(byte_range("bytes=500-", 1000), Ok(Some((500, 999))));
        assert_eq!(byte_range("bytes=900-5000", 1000), Ok(Some((900, 999))));
        assert_eq!(byte_range("bytes=-100", 1000), Ok(Some((900, 999))));
        assert_eq!(byte_range("bytes=-5000", 1000), Ok(Some((0, 999))));
        assert_eq!(byte_range("bytes=1000-", 1000), Err(Unsatisfiable));
        assert_eq!(byte_range("bytes=-0", 1000), Err(Unsatisfiable));
        assert_eq!(byte_range("bytes=0-", 0), Err(Unsatisfiable));
        // Ignored: served whole.
        assert_eq!(byte_range("bytes=0-1,5-6", 1000), Ok(None));
        assert_eq!(byte_range("items=0-1", 1000), Ok(None));
        assert_eq!(byte_range("bytes=5-1", 1000), Ok(None));
        assert_eq!(byte_range("bytes=+1-2", 1000), Ok(None));
        assert_eq!(byte_range("bytes=-", 1000), Ok(None));
    }
}
