DROP TABLE audit_cursors;
DROP TRIGGER audit_events_no_delete;
DROP TRIGGER audit_events_no_update;
DROP INDEX audit_events_seq;
ALTER TABLE audit_events DROP COLUMN outcome;
ALTER TABLE audit_events DROP COLUMN device;
ALTER TABLE audit_events DROP COLUMN seq;
