-- Badge sessions at a device: who badged, where, until when. Kept in the database so that any
-- Folio node can serve the terminal's next request.
CREATE TABLE release_sessions (
    id TEXT PRIMARY KEY,
    uid TEXT NOT NULL,
    device_id BIGINT NOT NULL REFERENCES devices (id),
    degraded SMALLINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX release_sessions_device ON release_sessions (device_id, created_at);
