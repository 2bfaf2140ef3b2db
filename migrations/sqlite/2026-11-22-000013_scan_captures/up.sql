-- Scans received from copiers (HTTP upload, FTP, watched folders): the encrypted master as
-- received, who scanned it and how that is known, and where it is in the archive pipeline.
CREATE TABLE scan_captures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    -- http, ftp, folder
    channel TEXT NOT NULL,
    device_id BIGINT,
    device_name TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    -- The file name as sent (it can name a patient): sealed with the master key.
    file_name TEXT NOT NULL,
    master_file TEXT NOT NULL,
    wrapped_key BLOB NOT NULL,
    size_bytes BIGINT NOT NULL,
    -- SHA-256 of the bytes as received.
    sha256 TEXT NOT NULL,
    -- The capture with the same bytes received first, when this one repeats it.
    duplicate_of BIGINT,
    -- Sidecar metadata sent with the scan (sealed JSON), if any.
    sidecar TEXT,
    -- Who scanned: the directory uid, how it is known (badge-session, ftp-login, sidecar) and
    -- how strongly (strong, medium), and the directory's facts at capture (JSON).
    uid TEXT,
    attribution_method TEXT NOT NULL,
    attribution_strength TEXT NOT NULL,
    attributes TEXT NOT NULL,
    -- pdf, tiff, jpeg once validated; pages too.
    format TEXT,
    pages INTEGER,
    -- The pipeline: the stage to run next (or done / quarantined), attempts at it, when to try
    -- again, and which node holds it until when.
    stage TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_node TEXT,
    lease_until BIGINT,
    quarantine_reason TEXT,
    quarantine_stage TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX scan_captures_sha256 ON scan_captures (sha256);
CREATE INDEX scan_captures_stage ON scan_captures (stage, next_attempt_at);
