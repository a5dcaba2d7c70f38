ALTER TABLE cdrs ADD COLUMN did TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN queue TEXT NOT NULL DEFAULT '';
CREATE INDEX cdrs_start ON cdrs (start_ms, id);
CREATE INDEX cdrs_tenant_start_id ON cdrs (tenant, start_ms, id);
