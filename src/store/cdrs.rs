//! Call detail records: one row per call, its legs as JSON. Written in batches by the CDR
//! writer; read by `pbxctl cdr` and the reporting API.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Store, StoreError};

/// One leg of a call: who, which codec, and its RTP statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CdrLeg {
    /// "a" for the caller's leg, "b" for a callee's.
    pub role: String,
    /// The extension, number or trunk of this leg.
    pub party: String,
    pub call_id: String,
    pub codec: String,
    pub packets_in: u64,
    pub packets_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Lost packets, from sequence numbers (and RTCP where present).
    pub lost: u64,
    /// Interarrival jitter in milliseconds (RFC 3550).
    pub jitter_ms: f64,
}

/// A finished call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cdr {
    /// Unique id, time-ordered.
    pub id: String,
    pub tenant: String,
    pub call_id: String,
    /// internal, inbound or outbound.
    pub direction: String,
    pub caller: String,
    pub callee: String,
    /// Milliseconds since the Unix epoch.
    pub start_ms: i64,
    /// 0 when the call was never answered.
    pub answer_ms: i64,
    pub end_ms: i64,
    /// Seconds from answer to end.
    pub billsec: i64,
    /// answered, busy, no_answer, failed, cancelled.
    pub disposition: String,
    /// The SIP reason: "BYE", "486 Busy Here", "CANCEL", "timeout", …
    pub hangup_cause: String,
    /// caller, callee or system.
    pub hangup_side: String,
    pub codec: String,
    pub legs: Vec<CdrLeg>,
}

impl Cdr {
    /// Milliseconds from start to end.
    pub fn duration_ms(&self) -> i64 {
        self.end_ms - self.start_ms
    }
}

/// Which CDRs to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct CdrQuery {
    pub tenant: Option<String>,
    /// Only calls that started at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    pub limit: i64,
}

const COLUMNS: &str = "id, tenant, call_id, direction, caller, callee, start_ms, answer_ms, end_ms, billsec, \
                       disposition, hangup_cause, hangup_side, codec, legs";

fn cdr_of(row: &AnyRow, b: Backend) -> Result<Cdr, StoreError> {
    let text = |c: &str| super::revisions::text(row, c, b);
    let legs = text("legs")?;
    Ok(Cdr {
        id: text("id")?,
        tenant: text("tenant")?,
        call_id: text("call_id")?,
        direction: text("direction")?,
        caller: text("caller")?,
        callee: text("callee")?,
        start_ms: row.try_get("start_ms")?,
        answer_ms: row.try_get("answer_ms")?,
        end_ms: row.try_get("end_ms")?,
        billsec: row.try_get("billsec")?,
        disposition: text("disposition")?,
        hangup_cause: text("hangup_cause")?,
        hangup_side: text("hangup_side")?,
        codec: text("codec")?,
        legs: serde_json::from_str(&legs).map_err(|e| StoreError::Corrupt(0, format!("CDR legs: {e}")))?,
    })
}

impl Store {
    /// Writes finished calls in one transaction.
    pub async fn insert_cdrs(&self, cdrs: &[Cdr]) -> Result<(), StoreError> {
        if cdrs.is_empty() {
            return Ok(());
        }
        let insert = self
            .sql(&format!("INSERT INTO cdrs ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
            .into_owned();
        let mut tx = self.pool.begin().await?;
        for c in cdrs {
            let legs = serde_json::to_string(&c.legs).map_err(|e| StoreError::Corrupt(0, e.to_string()))?;
            sqlx::query(&insert)
                .bind(&c.id)
                .bind(&c.tenant)
                .bind(&c.call_id)
                .bind(&c.direction)
                .bind(&c.caller)
                .bind(&c.callee)
                .bind(c.start_ms)
                .bind(c.answer_ms)
                .bind(c.end_ms)
                .bind(c.billsec)
                .bind(&c.disposition)
                .bind(&c.hangup_cause)
                .bind(&c.hangup_side)
                .bind(&c.codec)
                .bind(legs)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// CDRs matching `query`, newest first.
    pub async fn cdrs(&self, query: &CdrQuery) -> Result<Vec<Cdr>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM cdrs WHERE start_ms >= ?");
        if query.tenant.is_some() {
            sql.push_str(" AND tenant = ?");
        }
        sql.push_str(" ORDER BY start_ms DESC, id DESC LIMIT ?");
        let sql = self.sql(&sql).into_owned();
        let mut q = sqlx::query(&sql).bind(query.since_ms.unwrap_or(0));
        if let Some(t) = &query.tenant {
            q = q.bind(t);
        }
        let rows = q.bind(query.limit.clamp(1, 100_000)).fetch_all(&self.pool).await?;
        rows.iter().map(|row| cdr_of(row, self.backend)).collect()
    }
}
