//! Persistent state through sqlx: SQLite embedded by default, MariaDB or PostgreSQL for
//! larger sites. One logical schema, with migrations written per backend (their SQL
//! dialects differ) and queries written once with `?` placeholders.
//!
//! The store holds revisions of the desired state: each revision is the complete content of
//! every tenant file, written in a single INSERT, so a crash leaves either the old or the new
//! revision and never a mix.

mod cdrs;
mod migrate;
mod outbox;
mod recordings;
mod registrations;
mod revisions;

use std::borrow::Cow;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

pub use cdrs::{Cdr, CdrLeg, CdrQuery};
pub use outbox::OutboxRow;
pub use recordings::{Recording, RecordingQuery};
pub use registrations::{RegistrationWrite, StoredRegistration};
pub use revisions::{DesiredState, Revision, TenantDoc};

/// `rows` in pieces of 100, 10 and 1 rows, for multi-row statements: three statement shapes
/// only, so each connection prepares and caches three statements rather than one per batch
/// size (a 100-row statement is a large prepared program).
fn row_chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let size = [100, 10, 1].into_iter().find(|&n| rows.len() >= n)?;
        let (chunk, rest) = rows.split_at(size);
        rows = rest;
        Some(chunk)
    })
}

/// A newest-first page of a table keyed by (start_ms, id): time range, equality filters,
/// parties (caller or callee), and the keyset cursor, so pages never skip or repeat a row.
/// Shared by CDRs and recordings so the paging rule lives in one place.
struct Page<'a> {
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    equal: &'a [(&'a str, &'a Option<String>)],
    parties: &'a [&'a Option<String>],
    before: &'a Option<(i64, String)>,
    limit: i64,
}

impl<'a> Page<'a> {
    /// `SELECT columns FROM table WHERE …` with its binds.
    fn sql(&self, columns: &str, table: &str) -> (String, Vec<Bind<'a>>) {
        let mut sql = format!("SELECT {columns} FROM {table} WHERE start_ms >= ?");
        let mut binds = vec![Bind::Int(self.since_ms.unwrap_or(0))];
        if let Some(until) = self.until_ms {
            sql.push_str(" AND start_ms < ?");
            binds.push(Bind::Int(until));
        }
        for (column, value) in self.equal {
            if let Some(v) = value {
                sql.push_str(&format!(" AND {column} = ?"));
                binds.push(Bind::Text(v));
            }
        }
        for party in self.parties.iter().copied().flatten() {
            sql.push_str(" AND (caller = ? OR callee = ?)");
            binds.extend([Bind::Text(party), Bind::Text(party)]);
        }
        if let Some((start, id)) = self.before {
            sql.push_str(" AND (start_ms < ? OR (start_ms = ? AND id < ?))");
            binds.extend([Bind::Int(*start), Bind::Int(*start), Bind::Text(id)]);
        }
        sql.push_str(" ORDER BY start_ms DESC, id DESC LIMIT ?");
        binds.push(Bind::Int(self.limit));
        (sql, binds)
    }
}

/// A value for a `?` of a query built at run time.
enum Bind<'a> {
    Int(i64),
    Text(&'a str),
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: Vec<Bind<'q>>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Int(i) => q.bind(i),
            Bind::Text(t) => q.bind(t),
        };
    }
    q
}

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Mysql,
    Postgres,
}

/// Store errors, without connection details (URLs may hold passwords).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported storage URL scheme; use sqlite://, mysql:// or postgres://")]
    UnsupportedUrl,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("revision {0} does not exist")]
    NoSuchRevision(i64),
    #[error("the running revision changed to {actual} while this change was based on {expected}; plan again")]
    Conflict { expected: i64, actual: i64 },
    #[error("stored revision {0} is unreadable: {1}")]
    Corrupt(i64, String),
}

/// A connection pool with its backend.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects and brings the schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        install_default_drivers();
        let backend = match url.split_once(':').map(|(scheme, _)| scheme) {
            Some("sqlite") => Backend::Sqlite,
            Some("mysql" | "mariadb") => Backend::Mysql,
            Some("postgres" | "postgresql") => Backend::Postgres,
            _ => return Err(StoreError::UnsupportedUrl),
        };
        let url = match url.strip_prefix("mariadb:") {
            Some(rest) => format!("mysql:{rest}"),
            None => url.to_owned(),
        };
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            // WAL with full sync: a committed revision survives power loss, readers never block.
            options = options.max_connections(4).after_connect(|conn, _| {
                Box::pin(async move {
                    // A 1 MiB page cache per connection: the hot rows are few, and memory per
                    // registered phone counts.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; \
                         PRAGMA cache_size = -1024;",
                    )
                    .await
                    .map(drop)
                })
            });
        } else {
            options = options.max_connections(8);
        }
        let pool = options.connect(&url).await?;
        let store = Self { pool, backend };
        migrate::run(&store).await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Rewrites `?` placeholders to PostgreSQL's `$1, $2, …`.
    fn sql<'q>(&self, query: &'q str) -> Cow<'q, str> {
        if self.backend != Backend::Postgres {
            return Cow::Borrowed(query);
        }
        let mut out = String::with_capacity(query.len() + 8);
        let mut n = 0;
        for c in query.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        Cow::Owned(out)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rows_go_in_pieces_of_100_10_and_1() {
        let rows: Vec<u32> = (0..237).collect();
        let sizes: Vec<usize> = super::row_chunks(&rows).map(<[u32]>::len).collect();
        assert_eq!(sizes, [100, 100, 10, 10, 10, 1, 1, 1, 1, 1, 1, 1]);
        assert_eq!(super::row_chunks(&rows).flatten().count(), 237);
        assert_eq!(super::row_chunks::<u32>(&[]).count(), 0);
    }
}
