CREATE TABLE webhook_outbox (
    tenant          TEXT   NOT NULL,
    webhook         TEXT   NOT NULL,
    event_id        BIGINT NOT NULL,
    payload         TEXT   NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant, webhook, event_id)
);
