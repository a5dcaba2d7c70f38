CREATE TABLE registrations (
    tenant        TEXT    NOT NULL,
    aor           TEXT    NOT NULL,
    contact       TEXT    NOT NULL,
    q_millis      INTEGER NOT NULL,
    expires_at    BIGINT  NOT NULL,
    call_id       TEXT    NOT NULL,
    cseq          BIGINT  NOT NULL,
    source        TEXT    NOT NULL,
    transport     TEXT    NOT NULL,
    flow          BIGINT  NOT NULL,
    user_agent    TEXT    NOT NULL,
    registered_at BIGINT  NOT NULL,
    PRIMARY KEY (tenant, aor, contact)
);
CREATE INDEX registrations_expiry ON registrations (expires_at);
