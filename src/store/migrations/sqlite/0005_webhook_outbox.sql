CREATE TABLE webhook_outbox (
    tenant          TEXT    NOT NULL,
    webhook         TEXT    NOT NULL,
    event_id        INTEGER NOT NULL,
    payload         TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant, webhook, event_id)
);
