//! Registrations survive a restart of pbxd: the registrar's changes are written here in
//! batches, and loaded back (unexpired ones only) when pbxd starts.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Store, StoreError};

/// One stored contact binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRegistration {
    pub tenant: String,
    pub aor: String,
    pub contact: String,
    pub q_millis: i64,
    /// Unix seconds.
    pub expires_at: i64,
    pub call_id: String,
    pub cseq: i64,
    /// "ip:port" the REGISTER came from.
    pub source: String,
    pub transport: String,
    pub flow: i64,
    pub user_agent: String,
    pub registered_at: i64,
}

/// A change to persist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationWrite {
    Upsert(StoredRegistration),
    Remove { tenant: String, aor: String, contact: String },
}

impl RegistrationWrite {
    /// The row this change is about.
    pub fn key(&self) -> (&str, &str, &str) {
        match self {
            Self::Upsert(r) => (&r.tenant, &r.aor, &r.contact),
            Self::Remove { tenant, aor, contact } => (tenant, aor, contact),
        }
    }
}

const COLUMNS: &str =
    "tenant, aor, contact, q_millis, expires_at, call_id, cseq, source, transport, flow, user_agent, registered_at";

fn text(row: &AnyRow, column: &str, backend: Backend) -> Result<String, sqlx::Error> {
    super::revisions::text(row, column, backend)
}

impl Store {
    /// Writes a batch of changes in one transaction: each row is deleted and written again
    /// (the same SQL on every backend), 100 rows per statement, so a batch costs a few round
    /// trips to the database rather than two per row.
    pub async fn write_registrations(&self, writes: &[RegistrationWrite]) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        // Only the last change of each row matters (and a statement may touch a row once).
        let mut last = std::collections::HashMap::with_capacity(writes.len());
        for (i, w) in writes.iter().enumerate() {
            last.insert(w.key(), i);
        }
        let writes: Vec<&RegistrationWrite> =
            writes.iter().enumerate().filter(|(i, w)| last.get(&w.key()) == Some(i)).map(|(_, w)| w).collect();
        let mut tx = self.pool.begin().await?;
        for chunk in super::row_chunks(&writes) {
            let keys = vec!["(tenant = ? AND aor = ? AND contact = ?)"; chunk.len()].join(" OR ");
            let delete = self.sql(&format!("DELETE FROM registrations WHERE {keys}")).into_owned();
            let mut q = sqlx::query(&delete);
            for write in chunk {
                let (tenant, aor, contact) = write.key();
                q = q.bind(tenant).bind(aor).bind(contact);
            }
            q.execute(&mut *tx).await?;
            let upserts: Vec<&StoredRegistration> = chunk
                .iter()
                .filter_map(|w| match *w {
                    RegistrationWrite::Upsert(r) => Some(r),
                    RegistrationWrite::Remove { .. } => None,
                })
                .collect();
            if upserts.is_empty() {
                continue;
            }
            let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; upserts.len()].join(", ");
            let insert = self.sql(&format!("INSERT INTO registrations ({COLUMNS}) VALUES {values}")).into_owned();
            let mut q = sqlx::query(&insert);
            for r in upserts {
                q = q
                    .bind(&r.tenant)
                    .bind(&r.aor)
                    .bind(&r.contact)
                    .bind(r.q_millis)
                    .bind(r.expires_at)
                    .bind(&r.call_id)
                    .bind(r.cseq)
                    .bind(&r.source)
                    .bind(&r.transport)
                    .bind(r.flow)
                    .bind(&r.user_agent)
                    .bind(r.registered_at);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every registration that has not expired at `now` (unix seconds); expired rows are
    /// deleted on the way.
    pub async fn load_registrations(&self, now: i64) -> Result<Vec<StoredRegistration>, StoreError> {
        sqlx::query(&self.sql("DELETE FROM registrations WHERE expires_at <= ?")).bind(now).execute(&self.pool).await?;
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM registrations")).fetch_all(&self.pool).await?;
        let b = self.backend;
        rows.iter()
            .map(|row| {
                Ok(StoredRegistration {
                    tenant: text(row, "tenant", b)?,
                    aor: text(row, "aor", b)?,
                    contact: text(row, "contact", b)?,
                    q_millis: int(row, "q_millis")?,
                    expires_at: row.try_get("expires_at")?,
                    call_id: text(row, "call_id", b)?,
                    cseq: row.try_get("cseq")?,
                    source: text(row, "source", b)?,
                    transport: text(row, "transport", b)?,
                    flow: row.try_get("flow")?,
                    user_agent: text(row, "user_agent", b)?,
                    registered_at: row.try_get("registered_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

/// INTEGER columns come back as i32 on some backends and i64 on others.
fn int(row: &AnyRow, column: &str) -> Result<i64, sqlx::Error> {
    row.try_get::<i64, _>(column).or_else(|_| row.try_get::<i32, _>(column).map(i64::from))
}
