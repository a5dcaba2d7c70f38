//! The webhook outbox: events waiting for delivery, per tenant and webhook, in event order.
//! Rows go when the receiver accepted them; until then they survive restarts.

use sqlx::Row;

use super::{Store, StoreError};

/// One queued delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub tenant: String,
    pub webhook: String,
    pub event_id: i64,
    pub payload: String,
    pub attempts: i64,
    pub next_attempt_ms: i64,
}

impl Store {
    /// Queues deliveries (an event already queued for a webhook is kept once).
    pub async fn enqueue_webhooks(&self, rows: &[OutboxRow]) -> Result<(), StoreError> {
        let insert = self
            .sql("INSERT INTO webhook_outbox (tenant, webhook, event_id, payload, attempts, next_attempt_ms) VALUES (?, ?, ?, ?, ?, ?)")
            .into_owned();
        let mut tx = self.pool.begin().await?;
        for r in rows {
            sqlx::query(&insert)
                .bind(&r.tenant)
                .bind(&r.webhook)
                .bind(r.event_id)
                .bind(&r.payload)
                .bind(r.attempts)
                .bind(r.next_attempt_ms)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The oldest queued deliveries of one webhook, in event order.
    pub async fn webhook_queue(&self, tenant: &str, webhook: &str, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
        let sql = self
            .sql(
                "SELECT event_id, payload, attempts, next_attempt_ms FROM webhook_outbox \
                 WHERE tenant = ? AND webhook = ? ORDER BY event_id LIMIT ?",
            )
            .into_owned();
        let rows = sqlx::query(&sql).bind(tenant).bind(webhook).bind(limit).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(OutboxRow {
                    tenant: tenant.to_owned(),
                    webhook: webhook.to_owned(),
                    event_id: row.try_get("event_id")?,
                    payload: super::revisions::text(row, "payload", self.backend)?,
                    attempts: row.try_get("attempts")?,
                    next_attempt_ms: row.try_get("next_attempt_ms")?,
                })
            })
            .collect()
    }

    /// Every (tenant, webhook) with something queued.
    pub async fn webhook_backlogs(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT tenant, webhook, COUNT(*) AS n FROM webhook_outbox GROUP BY tenant, webhook")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    super::revisions::text(row, "tenant", self.backend)?,
                    super::revisions::text(row, "webhook", self.backend)?,
                    row.try_get::<i64, _>("n")?,
                ))
            })
            .collect()
    }

    pub async fn webhook_delivered(&self, tenant: &str, webhook: &str, event_id: i64) -> Result<(), StoreError> {
        let sql = self.sql("DELETE FROM webhook_outbox WHERE tenant = ? AND webhook = ? AND event_id = ?").into_owned();
        sqlx::query(&sql).bind(tenant).bind(webhook).bind(event_id).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn webhook_retry_at(
        &self,
        row: &OutboxRow,
        attempts: i64,
        next_attempt_ms: i64,
    ) -> Result<(), StoreError> {
        let sql = self
            .sql("UPDATE webhook_outbox SET attempts = ?, next_attempt_ms = ? WHERE tenant = ? AND webhook = ? AND event_id = ?")
            .into_owned();
        sqlx::query(&sql)
            .bind(attempts)
            .bind(next_attempt_ms)
            .bind(&row.tenant)
            .bind(&row.webhook)
            .bind(row.event_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Drops the oldest rows of a webhook beyond the newest `keep`; returns how many went.
    pub async fn webhook_trim(&self, tenant: &str, webhook: &str, backlog: i64, keep: i64) -> Result<u64, StoreError> {
        if backlog <= keep {
            return Ok(0);
        }
        let sql = self
            .sql("SELECT event_id FROM webhook_outbox WHERE tenant = ? AND webhook = ? ORDER BY event_id LIMIT 1 OFFSET ?")
            .into_owned();
        let Some(row) =
            sqlx::query(&sql).bind(tenant).bind(webhook).bind(backlog - keep).fetch_optional(&self.pool).await?
        else {
            return Ok(0);
        };
        let oldest_kept: i64 = row.try_get("event_id")?;
        let sql = self.sql("DELETE FROM webhook_outbox WHERE tenant = ? AND webhook = ? AND event_id < ?").into_owned();
        let done = sqlx::query(&sql).bind(tenant).bind(webhook).bind(oldest_kept).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }
}
