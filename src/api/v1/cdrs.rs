//! CDRs and reports: filtered, cursor-paged lists (JSON or CSV), one record, and aggregates
//! per hour or day, per extension and per DID.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{ApiQuery, ApiState, Principal};
use crate::api::error::ApiError;
use crate::store::{Cdr, CdrQuery};

/// Filters of `GET /api/v1/cdrs` and the reports.
#[derive(Debug, Default, Deserialize)]
pub struct CdrParams {
    tenant: Option<String>,
    /// RFC 3339 time or milliseconds since the epoch: calls that started at or after it.
    since: Option<String>,
    /// Calls that started before it.
    until: Option<String>,
    direction: Option<String>,
    disposition: Option<String>,
    extension: Option<String>,
    number: Option<String>,
    did: Option<String>,
    queue: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    limit: Option<i64>,
    /// "csv" for text/csv; JSON otherwise (or by `Accept: text/csv`).
    format: Option<String>,
}

/// One page of CDRs.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CdrPage {
    pub cdrs: Vec<Cdr>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

pub(super) fn bad(why: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, why)
}

pub(super) fn parse_time(name: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(Some(ms));
    }
    text.parse::<jiff::Timestamp>()
        .map(|t| Some(t.as_millisecond()))
        .map_err(|_| bad(format!("{name}: an RFC 3339 time or milliseconds since the epoch")))
}

/// The cursor is "start_ms.id" of the last record seen; opaque to clients.
pub(super) fn parse_cursor(text: Option<&str>) -> Result<Option<(i64, String)>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    let (start, id) = text.split_once('.').ok_or_else(|| bad("cursor: not a cursor from this API"))?;
    let start = start.parse().map_err(|_| bad("cursor: not a cursor from this API"))?;
    Ok(Some((start, id.to_owned())))
}

/// The store query for `params` as `principal` may run it.
fn query(principal: &Principal, params: &CdrParams, limit: i64) -> Result<CdrQuery, ApiError> {
    Ok(CdrQuery {
        tenant: principal.scope_tenant(params.tenant.clone())?,
        since_ms: parse_time("since", params.since.as_deref())?,
        until_ms: parse_time("until", params.until.as_deref())?,
        direction: params.direction.clone(),
        disposition: params.disposition.clone(),
        extension: principal.scope_extension(params.extension.clone())?,
        number: params.number.clone(),
        did: params.did.clone(),
        queue: params.queue.clone(),
        before: parse_cursor(params.cursor.as_deref())?,
        limit,
    })
}

pub async fn list(
    State(state): State<ApiState>,
    principal: Principal,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<CdrParams>,
) -> Result<Response, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(bad("limit: 1 to 1000"));
    }
    let q = query(&principal, &params, limit)?;
    let started = std::time::Instant::now();
    let cdrs = state.reconciler.store().cdrs(&q).await?;
    state.metrics.store_query(started.elapsed());
    let next_cursor =
        (cdrs.len() == limit as usize).then(|| cdrs.last().map(|c| format!("{}.{}", c.start_ms, c.id))).flatten();
    if params.format.as_deref().is_some_and(|f| f != "csv" && f != "json") {
        return Err(bad("format: json or csv"));
    }
    let wants_csv = params.format.as_deref() == Some("csv")
        || headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.starts_with("text/csv"));
    if wants_csv {
        let mut response = csv(&cdrs).into_response();
        if let Some(cursor) = next_cursor
            && let Ok(value) = cursor.parse()
        {
            response.headers_mut().insert("x-next-cursor", value);
        }
        return Ok(response);
    }
    Ok(Json(CdrPage { cdrs, next_cursor }).into_response())
}

fn csv(cdrs: &[Cdr]) -> impl IntoResponse {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
    };
    let mut out = String::from(
        "id,tenant,call_id,direction,caller,callee,did,queue,start_ms,answer_ms,end_ms,billsec,disposition,hangup_cause,hangup_side,codec\r\n",
    );
    for c in cdrs {
        let row = [
            field(&c.id),
            field(&c.tenant),
            field(&c.call_id),
            field(&c.direction),
            field(&c.caller),
            field(&c.callee),
            field(&c.did),
            field(&c.queue),
            c.start_ms.to_string(),
            c.answer_ms.to_string(),
            c.end_ms.to_string(),
            c.billsec.to_string(),
            field(&c.disposition),
            field(&c.hangup_cause),
            field(&c.hangup_side),
            field(&c.codec),
        ];
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out)
}

pub async fn one(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Cdr>, ApiError> {
    let cdr =
        state.reconciler.store().cdr(&id).await?.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not found"))?;
    principal.check_object(&cdr.tenant, &[&cdr.caller, &cdr.callee])?;
    Ok(Json(cdr))
}

/// Reports read at most this many CDRs; a wider range is refused (ask for a narrower one).
const REPORT_MAX: i64 = 200_000;

async fn report_rows(state: &ApiState, principal: &Principal, params: &CdrParams) -> Result<Vec<Cdr>, ApiError> {
    let mut q = query(principal, params, REPORT_MAX + 1)?;
    q.before = None;
    let rows = state.reconciler.store().cdrs(&q).await?;
    if rows.len() as i64 > REPORT_MAX {
        return Err(bad(format!("more than {REPORT_MAX} calls in range; narrow since/until")));
    }
    Ok(rows)
}

/// Counts and times of a set of calls.
#[derive(Debug, Default, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Totals {
    pub calls: u64,
    pub answered: u64,
    /// Busy, no answer or given up by the caller.
    pub missed: u64,
    /// Mean seconds from start to answer, over answered calls.
    pub average_wait_s: f64,
    /// Mean billable seconds, over answered calls.
    pub average_talk_s: f64,
    #[serde(skip)]
    wait_ms: i64,
    #[serde(skip)]
    talk_s: i64,
}

impl Totals {
    fn add(&mut self, c: &Cdr) {
        self.calls += 1;
        if c.disposition == "answered" {
            self.answered += 1;
            self.wait_ms += (c.answer_ms - c.start_ms).max(0);
            self.talk_s += c.billsec.max(0);
        } else if matches!(c.disposition.as_str(), "busy" | "no_answer" | "cancelled") {
            self.missed += 1;
        }
    }

    fn finish(mut self) -> Totals {
        if self.answered > 0 {
            self.average_wait_s = self.wait_ms as f64 / 1000.0 / self.answered as f64;
            self.average_talk_s = self.talk_s as f64 / self.answered as f64;
        }
        self
    }
}

/// One bucket of a report.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReportRow {
    /// The hour or day (its start, RFC 3339 with the tenant's UTC offset), the extension, or
    /// the DID.
    pub key: String,
    #[serde(flatten)]
    pub totals: Totals,
}

#[derive(Debug, Deserialize)]
pub struct Bucket {
    /// "hour" (default) or "day".
    per: Option<String>,
}

/// Calls per hour or day, with answered, missed, average wait and talk time. Hours and days
/// are the tenant's (its time zone, daylight saving included) when the report is about one
/// tenant, UTC otherwise; keys carry their UTC offset.
pub async fn calls_report(
    State(state): State<ApiState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<CdrParams>,
    ApiQuery(bucket): ApiQuery<Bucket>,
) -> Result<Json<Vec<ReportRow>>, ApiError> {
    let per_day = match bucket.per.as_deref() {
        None | Some("hour") => false,
        Some("day") => true,
        Some(_) => return Err(bad("per: hour or day")),
    };
    let tz = principal
        .scope_tenant(params.tenant.clone())?
        .and_then(|t| state.reconciler.snapshot().tenants.get(&t).map(|r| r.model.tenant.timezone.clone()))
        .and_then(|name| jiff::tz::TimeZone::get(&name).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let mut buckets: BTreeMap<i64, (String, Totals)> = BTreeMap::new();
    for c in report_rows(&state, &principal, &params).await? {
        let Some(start) = bucket_start(c.start_ms, &tz, per_day) else { continue };
        let at = start.timestamp().as_millisecond();
        let entry = buckets
            .entry(at)
            .or_insert_with(|| (start.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(), Totals::default()));
        entry.1.add(&c);
    }
    Ok(Json(rows(buckets.into_values())))
}

/// The start of the hour or day holding `ms`, in `tz`.
fn bucket_start(ms: i64, tz: &jiff::tz::TimeZone, per_day: bool) -> Option<jiff::ZonedDateTime> {
    let local = jiff::Timestamp::from_millisecond(ms).ok()?.to_zoned_datetime(tz.clone());
    if per_day { local.start_of_day().ok() } else { local.with().minute(0).second(0).subsec_nanosecond(0).build().ok() }
}

/// Answered and missed calls per extension (as caller or callee).
pub async fn extensions_report(
    State(state): State<ApiState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<CdrParams>,
) -> Result<Json<Vec<ReportRow>>, ApiError> {
    let own = principal.extension().map(str::to_owned);
    let mut per: BTreeMap<String, Totals> = BTreeMap::new();
    for c in report_rows(&state, &principal, &params).await? {
        for party in [&c.caller, &c.callee] {
            if own.as_ref().is_none_or(|o| o == party) {
                per.entry(party.clone()).or_default().add(&c);
            }
        }
    }
    Ok(Json(rows(per.into_iter())))
}

/// Traffic per DID (inbound calls).
pub async fn dids_report(
    State(state): State<ApiState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<CdrParams>,
) -> Result<Json<Vec<ReportRow>>, ApiError> {
    let mut per: BTreeMap<String, Totals> = BTreeMap::new();
    for c in report_rows(&state, &principal, &params).await?.into_iter().filter(|c| !c.did.is_empty()) {
        per.entry(c.did.clone()).or_default().add(&c);
    }
    Ok(Json(rows(per.into_iter())))
}

fn rows(items: impl Iterator<Item = (String, Totals)>) -> Vec<ReportRow> {
    items.map(|(key, totals)| ReportRow { key, totals: totals.finish() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ms: i64, zone: &str, per_day: bool) -> String {
        let tz = jiff::tz::TimeZone::get(zone).unwrap();
        bucket_start(ms, &tz, per_day).unwrap().strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }

    #[test]
    fn buckets_follow_the_tenant_zone_half_hours_and_daylight_saving() {
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        // 10:45 UTC is 16:15 in India: its hour began at 16:00 +05:30, not on a UTC hour.
        assert_eq!(key(at("2026-11-25T10:45:00Z"), "Asia/Kolkata", false), "2026-11-25T16:00:00+05:30");
        // The night Berlin springs forward, the day still starts at local midnight (+01:00)
        // and an hour after the change is in +02:00.
        assert_eq!(key(at("2026-03-29T20:00:00Z"), "Europe/Berlin", true), "2026-03-29T00:00:00+01:00");
        assert_eq!(key(at("2026-03-29T01:30:00Z"), "Europe/Berlin", false), "2026-03-29T03:00:00+02:00");
        assert_eq!(key(at("2026-11-25T23:30:00Z"), "UTC", true), "2026-11-25T00:00:00+00:00");
    }
}
