//! Call detail records: one row per call, its legs as JSON. Written in batches by the CDR
//! writer; read by `pbxctl cdr` and the reporting API.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Page, Store, StoreError, bind_all};

/// One leg of a call: who, which codec, and its RTP statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// The public number an inbound call came in on; empty otherwise.
    #[serde(default)]
    pub did: String,
    /// The queue that handled the call; empty otherwise.
    #[serde(default)]
    pub queue: String,
}

impl Cdr {
    /// Milliseconds from start to end.
    pub fn duration_ms(&self) -> i64 {
        self.end_ms - self.start_ms
    }
}

/// Which CDRs to read, newest first. Every filter is optional; set ones must all match.
#[derive(Debug, Clone, Default)]
pub struct CdrQuery {
    pub tenant: Option<String>,
    /// Only calls that started at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Only calls that started before this time.
    pub until_ms: Option<i64>,
    pub direction: Option<String>,
    pub disposition: Option<String>,
    /// Calls from or to this extension.
    pub extension: Option<String>,
    /// Calls from or to this number (exact).
    pub number: Option<String>,
    pub did: Option<String>,
    pub queue: Option<String>,
    /// Keyset cursor: only calls before this (start_ms, id), i.e. the page after it.
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

const COLUMNS: &str = "id, tenant, call_id, direction, caller, callee, start_ms, answer_ms, end_ms, billsec, \
                       disposition, hangup_cause, hangup_side, codec, legs, did, queue";

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
        did: text("did")?,
        queue: text("queue")?,
    })
}

impl Store {
    /// Writes finished calls in one transaction, up to 100 rows per statement.
    pub async fn insert_cdrs(&self, cdrs: &[Cdr]) -> Result<(), StoreError> {
        let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let mut tx = self.pool.begin().await?;
        for chunk in super::row_chunks(cdrs) {
            let values = vec![row; chunk.len()].join(", ");
            let insert = self.sql(&format!("INSERT INTO cdrs ({COLUMNS}) VALUES {values}")).into_owned();
            let mut q = sqlx::query(&insert);
            for c in chunk {
                let legs = serde_json::to_string(&c.legs).map_err(|e| StoreError::Corrupt(0, e.to_string()))?;
                q = q
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
                    .bind(&c.did)
                    .bind(&c.queue);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// CDRs matching `query`, newest first (by start time, then id, so pages never skip or
    /// repeat a call).
    pub async fn cdrs(&self, query: &CdrQuery) -> Result<Vec<Cdr>, StoreError> {
        let page = Page {
            since_ms: query.since_ms,
            until_ms: query.until_ms,
            equal: &[
                ("tenant", &query.tenant),
                ("direction", &query.direction),
                ("disposition", &query.disposition),
                ("did", &query.did),
                ("queue", &query.queue),
            ],
            parties: &[&query.extension, &query.number],
            before: &query.before,
            limit: query.limit.clamp(1, 100_000),
        };
        let (sql, binds) = page.sql(COLUMNS, "cdrs");
        let sql = self.sql(&sql).into_owned();
        let rows = bind_all(sqlx::query(&sql), binds).fetch_all(&self.pool).await?;
        rows.iter().map(|row| cdr_of(row, self.backend)).collect()
    }

    /// One CDR by id.
    pub async fn cdr(&self, id: &str) -> Result<Option<Cdr>, StoreError> {
        let sql = self.sql(&format!("SELECT {COLUMNS} FROM cdrs WHERE id = ?")).into_owned();
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.map(|r| cdr_of(&r, self.backend)).transpose()
    }
}
