-- Console sessions: the cookie's SHA-256 (the token itself is never stored), who, the CSRF
-- token of their forms, and when it expires (idle and absolute limits).
CREATE TABLE console_sessions (
    id TEXT PRIMARY KEY,
    uid TEXT NOT NULL,
    roles TEXT NOT NULL,
    csrf TEXT NOT NULL,
    address TEXT,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX console_sessions_uid ON console_sessions (uid);
