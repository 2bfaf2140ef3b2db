DROP TABLE scan_documents;
