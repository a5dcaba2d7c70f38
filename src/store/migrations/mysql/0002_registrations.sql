CREATE TABLE registrations (
    tenant        VARCHAR(64)  NOT NULL,
    aor           VARCHAR(64)  NOT NULL,
    contact       VARCHAR(512) NOT NULL,
    q_millis      INT          NOT NULL,
    expires_at    BIGINT       NOT NULL,
    call_id       VARCHAR(255) NOT NULL,
    cseq          BIGINT       NOT NULL,
    source        VARCHAR(64)  NOT NULL,
    transport     VARCHAR(8)   NOT NULL,
    flow          BIGINT       NOT NULL,
    user_agent    VARCHAR(255) NOT NULL,
    registered_at BIGINT       NOT NULL,
    PRIMARY KEY (tenant, aor, contact),
    INDEX registrations_expiry (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
