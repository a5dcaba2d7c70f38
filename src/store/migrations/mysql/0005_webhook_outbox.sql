CREATE TABLE webhook_outbox (
    tenant          VARCHAR(64)  NOT NULL,
    webhook         VARCHAR(128) NOT NULL,
    event_id        BIGINT       NOT NULL,
    payload         MEDIUMTEXT   NOT NULL,
    attempts        BIGINT       NOT NULL,
    next_attempt_ms BIGINT       NOT NULL,
    PRIMARY KEY (tenant, webhook, event_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
