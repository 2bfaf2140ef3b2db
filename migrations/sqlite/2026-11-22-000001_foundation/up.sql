-- Jobs held in the virtual queue. Times are Unix milliseconds; enums are small integers
-- (see src/domain). One portable shape for SQLite and PostgreSQL.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    state SMALLINT NOT NULL,
    state_reason SMALLINT NOT NULL,
    state_message TEXT,
    originating_host TEXT,
    requested_sides SMALLINT,
    requested_color_mode SMALLINT,
    sides SMALLINT NOT NULL,
    color_mode SMALLINT NOT NULL,
    copies INTEGER NOT NULL,
    media TEXT,
    impressions INTEGER,
    created_at BIGINT NOT NULL,
    processing_at BIGINT,
    completed_at BIGINT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX jobs_owner_state ON jobs (owner, state);
CREATE INDEX jobs_state_expires ON jobs (state, expires_at);

-- Documents of a job: an encrypted file in the spool and its wrapped data key.
CREATE TABLE documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id BIGINT NOT NULL REFERENCES jobs (id),
    file_name TEXT NOT NULL UNIQUE,
    wrapped_key BLOB,
    format SMALLINT NOT NULL,
    name TEXT,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    pages INTEGER,
    created_at BIGINT NOT NULL,
    purged_at BIGINT
);
CREATE INDEX documents_job_id ON documents (job_id);

-- Append-only, hash-chained audit trail.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
