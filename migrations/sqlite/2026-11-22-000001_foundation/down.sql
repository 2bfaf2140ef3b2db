DROP TABLE audit_events;
DROP TABLE documents;
DROP TABLE jobs;
