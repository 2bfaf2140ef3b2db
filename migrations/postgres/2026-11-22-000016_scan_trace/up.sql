-- A document's trace (its events by object) and the pipeline's hourly chart (captures by
-- arrival, documents by delivery) without reading whole tables.
CREATE INDEX audit_events_object ON audit_events (object, seq);
CREATE INDEX scan_captures_received ON scan_captures (received_at);
CREATE INDEX scan_seals_delivered ON scan_seals (delivered_at);
CREATE INDEX scan_documents_updated ON scan_documents (updated_at);
