ALTER TABLE cdrs ADD COLUMN did VARCHAR(64) NOT NULL DEFAULT '', ADD COLUMN queue VARCHAR(64) NOT NULL DEFAULT '';
CREATE INDEX cdrs_start ON cdrs (start_ms, id);
CREATE INDEX cdrs_tenant_start_id ON cdrs (tenant, start_ms, id);
