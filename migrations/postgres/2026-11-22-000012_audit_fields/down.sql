DROP TABLE audit_cursors;
DROP TRIGGER audit_events_no_change ON audit_events;
DROP FUNCTION audit_events_append_only();
DROP INDEX audit_events_seq;
ALTER TABLE audit_events DROP COLUMN outcome;
ALTER TABLE audit_events DROP COLUMN device;
ALTER TABLE audit_events DROP COLUMN seq;
