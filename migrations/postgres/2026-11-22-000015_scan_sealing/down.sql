DROP TABLE qc_lots;
DROP TABLE scan_seals;
ALTER TABLE scan_documents DROP COLUMN qc_reviewer;
ALTER TABLE scan_documents DROP COLUMN qc_decision;
ALTER TABLE scan_documents DROP COLUMN qc_sampled;
ALTER TABLE scan_documents DROP COLUMN qc_lot;
