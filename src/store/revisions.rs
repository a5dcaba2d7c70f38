//! Revisions of the desired state: append-only, numbered from 1, the highest is running.
//! A rollback appends a copy of an older revision, so history never rewrites itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Store, StoreError, now_ms};

/// One tenant file as stored: the file name it came from (for diagnostics) and its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantDoc {
    pub file: String,
    pub text: String,
}

/// The complete desired state: every tenant's file, by tenant id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredState {
    pub tenants: BTreeMap<String, TenantDoc>,
}

impl DesiredState {
    /// SHA-256 of the canonical JSON form, in hex.
    pub fn checksum(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex(&Sha256::digest(&json))
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A revision's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    pub number: i64,
    pub author: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub checksum: String,
    pub comment: String,
}

const META: &str = "number, author, created_at, checksum, comment";

/// Reads a text column. sqlx's Any driver reports MariaDB TEXT columns (not VARCHAR) as
/// BLOB and will not decode them as strings, so there the bytes are read and checked as UTF-8.
pub(super) fn text(row: &AnyRow, column: &str, backend: Backend) -> Result<String, sqlx::Error> {
    match row.try_get::<String, _>(column) {
        Err(sqlx::Error::ColumnDecode { .. }) if backend == Backend::Mysql => {
            let bytes: Vec<u8> = row.try_get(column)?;
            String::from_utf8(bytes).map_err(|e| sqlx::Error::Decode(Box::new(e)))
        }
        other => other,
    }
}

fn revision_of(row: &AnyRow, backend: Backend) -> Result<Revision, sqlx::Error> {
    Ok(Revision {
        number: row.try_get("number")?,
        author: row.try_get("author")?,
        created_at: row.try_get("created_at")?,
        checksum: row.try_get("checksum")?,
        comment: text(row, "comment", backend)?,
    })
}

fn content_of(row: &AnyRow, revision: &Revision, backend: Backend) -> Result<DesiredState, StoreError> {
    let text = text(row, "content", backend)?;
    let state: DesiredState =
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(revision.number, e.to_string()))?;
    if state.checksum() != revision.checksum {
        return Err(StoreError::Corrupt(revision.number, "checksum mismatch".to_owned()));
    }
    Ok(state)
}

impl Store {
    /// The running revision and its content, or None before the first apply.
    pub async fn head(&self) -> Result<Option<(Revision, DesiredState)>, StoreError> {
        let query = format!("SELECT {META}, content FROM revisions ORDER BY number DESC LIMIT 1");
        let Some(row) = sqlx::query(&query).fetch_optional(&self.pool).await? else { return Ok(None) };
        let revision = revision_of(&row, self.backend)?;
        let content = content_of(&row, &revision, self.backend)?;
        Ok(Some((revision, content)))
    }

    /// One revision with its content.
    pub async fn revision(&self, number: i64) -> Result<(Revision, DesiredState), StoreError> {
        let query = self.sql(&format!("SELECT {META}, content FROM revisions WHERE number = ?")).into_owned();
        let row = sqlx::query(&query)
            .bind(number)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NoSuchRevision(number))?;
        let revision = revision_of(&row, self.backend)?;
        let content = content_of(&row, &revision, self.backend)?;
        Ok((revision, content))
    }

    /// The newest revisions first.
    pub async fn history(&self, limit: i64) -> Result<Vec<Revision>, StoreError> {
        let query = self.sql(&format!("SELECT {META} FROM revisions ORDER BY number DESC LIMIT ?")).into_owned();
        let rows = sqlx::query(&query).bind(limit).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|row| revision_of(row, self.backend)).collect::<Result<_, _>>()?)
    }

    /// Appends a revision on top of `based_on` (None: the store is empty). Fails with
    /// `Conflict` if another revision was appended since, so two applies cannot interleave.
    pub async fn append(
        &self,
        based_on: Option<i64>,
        author: &str,
        comment: &str,
        content: &DesiredState,
    ) -> Result<Revision, StoreError> {
        let revision = Revision {
            number: based_on.unwrap_or(0) + 1,
            author: author.to_owned(),
            created_at: now_ms(),
            checksum: content.checksum(),
            comment: comment.to_owned(),
        };
        let json = serde_json::to_string(content).map_err(|e| StoreError::Corrupt(revision.number, e.to_string()))?;
        let query = self.sql(
            "INSERT INTO revisions (number, author, created_at, checksum, comment, content) VALUES (?, ?, ?, ?, ?, ?)",
        );
        let inserted = sqlx::query(&query)
            .bind(revision.number)
            .bind(&revision.author)
            .bind(revision.created_at)
            .bind(&revision.checksum)
            .bind(&revision.comment)
            .bind(json)
            .execute(&self.pool)
            .await;
        match inserted {
            Ok(_) => Ok(revision),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                let actual = self.history(1).await?.first().map_or(0, |r| r.number);
                Err(StoreError::Conflict { expected: based_on.unwrap_or(0), actual })
            }
            Err(e) => Err(e.into()),
        }
    }
}
