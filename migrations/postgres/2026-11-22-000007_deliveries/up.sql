-- One row per attempt to print a job at a device: who released it, from which node, how it
-- ended. An attempt left open by a node that stopped (crash, restart) is how Folio knows, at
-- that node's next start, that the job may or may not have printed.
CREATE TABLE deliveries (
    id BIGSERIAL PRIMARY KEY,
    job_id BIGINT NOT NULL,
    device_id BIGINT NOT NULL,
    node TEXT NOT NULL,
    actor TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    outcome TEXT,
    impressions INTEGER
);
CREATE INDEX deliveries_job ON deliveries (job_id);
CREATE INDEX deliveries_open ON deliveries (node, ended_at);
-- A copier's TLS certificate, pinned by its SHA-256 (hex) when it is not signed by a trusted CA.
ALTER TABLE devices ADD COLUMN tls_pin TEXT;
