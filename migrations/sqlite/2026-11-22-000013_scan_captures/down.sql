DROP TABLE scan_captures;
