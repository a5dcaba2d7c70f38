//! Call recordings: one row per finished recording file, for the API's list and download, and
//! the per-tenant quota (the oldest go first).

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Page, Store, StoreError, bind_all};

/// A finished recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Recording {
    pub id: String,
    pub tenant: String,
    /// The CDR of the recorded call.
    pub cdr_id: String,
    pub caller: String,
    pub callee: String,
    /// When recording started, milliseconds since the Unix epoch.
    pub start_ms: i64,
    pub duration_ms: i64,
    /// Size of the WAV file (8 kHz, 16-bit, stereo: caller left, callee right).
    pub bytes: i64,
    /// The file, relative to the recordings directory; never shown to API clients.
    #[serde(skip)]
    #[schemars(skip)]
    pub path: String,
}

/// Which recordings to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct RecordingQuery {
    pub tenant: Option<String>,
    /// Recordings of calls from or to this extension.
    pub extension: Option<String>,
    pub cdr_id: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// Keyset cursor: only recordings before this (start_ms, id).
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

const COLUMNS: &str = "id, tenant, cdr_id, caller, callee, start_ms, duration_ms, bytes, path";

fn recording_of(row: &AnyRow, b: Backend) -> Result<Recording, StoreError> {
    let text = |c: &str| super::revisions::text(row, c, b);
    Ok(Recording {
        id: text("id")?,
        tenant: text("tenant")?,
        cdr_id: text("cdr_id")?,
        caller: text("caller")?,
        callee: text("callee")?,
        start_ms: row.try_get("start_ms")?,
        duration_ms: row.try_get("duration_ms")?,
        bytes: row.try_get("bytes")?,
        path: text("path")?,
    })
}

impl Store {
    pub async fn insert_recording(&self, r: &Recording) -> Result<(), StoreError> {
        let sql =
            self.sql(&format!("INSERT INTO recordings ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")).into_owned();
        sqlx::query(&sql)
            .bind(&r.id)
            .bind(&r.tenant)
            .bind(&r.cdr_id)
            .bind(&r.caller)
            .bind(&r.callee)
            .bind(r.start_ms)
            .bind(r.duration_ms)
            .bind(r.bytes)
            .bind(&r.path)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Recordings matching `query`, newest first (by start, then id).
    pub async fn recordings(&self, query: &RecordingQuery) -> Result<Vec<Recording>, StoreError> {
        let page = Page {
            since_ms: query.since_ms,
            until_ms: query.until_ms,
            equal: &[("tenant", &query.tenant), ("cdr_id", &query.cdr_id)],
            parties: &[&query.extension],
            before: &query.before,
            limit: query.limit.clamp(1, 10_000),
        };
        let (sql, binds) = page.sql(COLUMNS, "recordings");
        let sql = self.sql(&sql).into_owned();
        let rows = bind_all(sqlx::query(&sql), binds).fetch_all(&self.pool).await?;
        rows.iter().map(|row| recording_of(row, self.backend)).collect()
    }

    pub async fn recording(&self, id: &str) -> Result<Option<Recording>, StoreError> {
        let sql = self.sql(&format!("SELECT {COLUMNS} FROM recordings WHERE id = ?")).into_owned();
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.map(|r| recording_of(&r, self.backend)).transpose()
    }

    /// The oldest recordings of `tenant` to delete so that the rest fit in `quota` bytes.
    pub async fn recordings_over_quota(&self, tenant: &str, quota: i64) -> Result<Vec<Recording>, StoreError> {
        // SUM gives DECIMAL/NUMERIC on MariaDB and PostgreSQL, which sqlx's Any driver cannot read.
        let integer = if self.backend == Backend::Mysql { "SIGNED" } else { "BIGINT" };
        let sql = self
            .sql(&format!(
                "SELECT CAST(COALESCE(SUM(bytes), 0) AS {integer}) AS total FROM recordings WHERE tenant = ?"
            ))
            .into_owned();
        let total: i64 = sqlx::query(&sql).bind(tenant).fetch_one(&self.pool).await?.try_get("total")?;
        let mut excess = total - quota;
        let mut out = Vec::new();
        while excess > 0 {
            let sql = self
                .sql(&format!(
                    "SELECT {COLUMNS} FROM recordings WHERE tenant = ? ORDER BY start_ms, id LIMIT ? OFFSET ?"
                ))
                .into_owned();
            let rows = sqlx::query(&sql).bind(tenant).bind(100i64).bind(out.len() as i64).fetch_all(&self.pool).await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let r = recording_of(row, self.backend)?;
                if excess <= 0 {
                    break;
                }
                excess -= r.bytes;
                out.push(r);
            }
        }
        Ok(out)
    }

    pub async fn delete_recording(&self, id: &str) -> Result<(), StoreError> {
        let sql = self.sql("DELETE FROM recordings WHERE id = ?").into_owned();
        sqlx::query(&sql).bind(id).execute(&self.pool).await?;
        Ok(())
    }
}
