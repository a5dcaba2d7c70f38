CREATE TABLE recordings (
    id          VARCHAR(80)   NOT NULL PRIMARY KEY,
    tenant      VARCHAR(64)   NOT NULL,
    cdr_id      VARCHAR(64)   NOT NULL,
    caller      VARCHAR(64)   NOT NULL,
    callee      VARCHAR(64)   NOT NULL,
    start_ms    BIGINT        NOT NULL,
    duration_ms BIGINT        NOT NULL,
    bytes       BIGINT        NOT NULL,
    path        VARCHAR(1024) NOT NULL,
    INDEX recordings_tenant_start (tenant, start_ms),
    INDEX recordings_cdr (cdr_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
