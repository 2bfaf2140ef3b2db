-- Audit events get their sequence number, the device involved and the outcome, all covered by
-- the hash (see src/audit.rs). Events written before this migration keep their hash; their
-- sequence follows their id.
ALTER TABLE audit_events ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_events ADD COLUMN device TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN outcome TEXT NOT NULL DEFAULT 'success';
UPDATE audit_events SET seq = (SELECT COUNT(*) FROM audit_events a WHERE a.id <= audit_events.id);
CREATE UNIQUE INDEX audit_events_seq ON audit_events (seq);

-- Append-only: the database itself refuses to change or remove an event.
CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- How far each forwarder (syslog) has sent the trail.
CREATE TABLE audit_cursors (
    name TEXT PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL
);
