-- QC sampling, sealing and delivery of scanned documents.
ALTER TABLE scan_documents ADD COLUMN qc_lot TEXT;
ALTER TABLE scan_documents ADD COLUMN qc_sampled SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE scan_documents ADD COLUMN qc_decision TEXT;
ALTER TABLE scan_documents ADD COLUMN qc_reviewer TEXT;

-- A sealed document: its rendition (encrypted with its own key), the rendition's hash and
-- RFC 3161 time stamp, and when it was delivered.
CREATE TABLE scan_seals (
    document_id BIGINT PRIMARY KEY NOT NULL,
    rendition_file TEXT NOT NULL,
    rendition_key BYTEA NOT NULL,
    rendition_sha256 TEXT NOT NULL,
    rendition_size BIGINT NOT NULL,
    tsa_token BYTEA NOT NULL,
    tsa_time TEXT NOT NULL,
    sealed_at BIGINT NOT NULL,
    delivered_at BIGINT
);

-- QC lots: the documents of one copier and one day, sampled once the lot is closed.
CREATE TABLE qc_lots (
    lot TEXT PRIMARY KEY NOT NULL,
    -- open, review, passed, failed
    state TEXT NOT NULL,
    seed BIGINT,
    size INTEGER,
    sample INTEGER,
    last_added_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT
);
