DROP INDEX scan_documents_updated;
DROP INDEX scan_seals_delivered;
DROP INDEX scan_captures_received;
DROP INDEX audit_events_object;
