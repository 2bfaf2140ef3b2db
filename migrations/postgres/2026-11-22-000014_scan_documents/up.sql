-- The documents a capture is split into: one per patient cover sheet (or one per part an
-- operator must look at), each moving on through identify, classify, QC, seal and deliver.
CREATE TABLE scan_documents (
    id BIGSERIAL PRIMARY KEY,
    -- Client-assigned id of the archive deposit and the FHIR resources.
    uuid TEXT NOT NULL UNIQUE,
    capture_id BIGINT NOT NULL,
    part INTEGER NOT NULL,
    -- JSON array of the master's pages (0-based) in this document; the cover sheet's page.
    pages TEXT NOT NULL,
    cover_page INTEGER,
    -- The patient and encounter from the cover sheet (sealed), and the category code.
    patient TEXT,
    encounter TEXT,
    category TEXT,
    -- What the identity service said (sealed JSON), the category's label and retention rule.
    identity TEXT,
    category_label TEXT,
    retention TEXT,
    stage TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_node TEXT,
    lease_until BIGINT,
    quarantine_reason TEXT,
    quarantine_stage TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (capture_id, part)
);
CREATE INDEX scan_documents_stage ON scan_documents (stage, next_attempt_at);
