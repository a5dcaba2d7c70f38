CREATE TABLE registrations (
    tenant        TEXT    NOT NULL,
    aor           TEXT    NOT NULL,
    contact       TEXT    NOT NULL,
    q_millis      INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    call_id       TEXT    NOT NULL,
    cseq          INTEGER NOT NULL,
    source        TEXT    NOT NULL,
    transport     TEXT    NOT NULL,
    flow          INTEGER NOT NULL,
    user_agent    TEXT    NOT NULL,
    registered_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, aor, contact)
);
CREATE INDEX registrations_expiry ON registrations (expires_at);
