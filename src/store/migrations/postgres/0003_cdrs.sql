CREATE TABLE cdrs (
    id           TEXT    NOT NULL PRIMARY KEY,
    tenant       TEXT    NOT NULL,
    call_id      TEXT    NOT NULL,
    direction    TEXT    NOT NULL,
    caller       TEXT    NOT NULL,
    callee       TEXT    NOT NULL,
    start_ms     BIGINT  NOT NULL,
    answer_ms    BIGINT  NOT NULL,
    end_ms       BIGINT  NOT NULL,
    billsec      BIGINT  NOT NULL,
    disposition  TEXT    NOT NULL,
    hangup_cause TEXT    NOT NULL,
    hangup_side  TEXT    NOT NULL,
    codec        TEXT    NOT NULL,
    legs         TEXT    NOT NULL
);
CREATE INDEX cdrs_tenant_start ON cdrs (tenant, start_ms);
CREATE INDEX cdrs_tenant_caller ON cdrs (tenant, caller);
CREATE INDEX cdrs_tenant_callee ON cdrs (tenant, callee);
