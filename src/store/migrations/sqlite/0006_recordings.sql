CREATE TABLE recordings (
    id          TEXT    NOT NULL PRIMARY KEY,
    tenant      TEXT    NOT NULL,
    cdr_id      TEXT    NOT NULL,
    caller      TEXT    NOT NULL,
    callee      TEXT    NOT NULL,
    start_ms    INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    path        TEXT    NOT NULL
);
CREATE INDEX recordings_tenant_start ON recordings (tenant, start_ms);
CREATE INDEX recordings_cdr ON recordings (cdr_id);
