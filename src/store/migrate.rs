//! A small migration runner: numbered SQL files per backend, applied in order, recorded in
//! `schema_migrations`. sqlx's own migrator works per concrete driver; ours keeps the
//! runtime-chosen backend and ships the SQL inside the binary.

use sqlx::{Executor, Row};

use super::{Backend, Store, StoreError, now_ms};

/// (version, sqlite, mysql, postgres)
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        include_str!("migrations/sqlite/0001_revisions.sql"),
        include_str!("migrations/mysql/0001_revisions.sql"),
        include_str!("migrations/postgres/0001_revisions.sql"),
    ),
    (
        2,
        include_str!("migrations/sqlite/0002_registrations.sql"),
        include_str!("migrations/mysql/0002_registrations.sql"),
        include_str!("migrations/postgres/0002_registrations.sql"),
    ),
    (
        3,
        include_str!("migrations/sqlite/0003_cdrs.sql"),
        include_str!("migrations/mysql/0003_cdrs.sql"),
        include_str!("migrations/postgres/0003_cdrs.sql"),
    ),
    (
        4,
        include_str!("migrations/sqlite/0004_cdr_filters.sql"),
        include_str!("migrations/mysql/0004_cdr_filters.sql"),
        include_str!("migrations/postgres/0004_cdr_filters.sql"),
    ),
    (
        5,
        include_str!("migrations/sqlite/0005_webhook_outbox.sql"),
        include_str!("migrations/mysql/0005_webhook_outbox.sql"),
        include_str!("migrations/postgres/0005_webhook_outbox.sql"),
    ),
    (
        6,
        include_str!("migrations/sqlite/0006_recordings.sql"),
        include_str!("migrations/mysql/0006_recordings.sql"),
        include_str!("migrations/postgres/0006_recordings.sql"),
    ),
];

pub async fn run(store: &Store) -> Result<(), StoreError> {
    store
        .pool
        .execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)")
        .await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
        .fetch_all(&store.pool)
        .await?
        .iter()
        .map(|row| row.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
    for &(version, sqlite, mysql, postgres) in MIGRATIONS {
        if applied.contains(&version) {
            continue;
        }
        let script = match store.backend {
            Backend::Sqlite => sqlite,
            Backend::Mysql => mysql,
            Backend::Postgres => postgres,
        };
        let mut tx = store.pool.begin().await?;
        for statement in script.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            tx.execute(statement).await?;
        }
        sqlx::query(&store.sql("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"))
            .bind(version)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version, "storage migrated");
    }
    Ok(())
}
