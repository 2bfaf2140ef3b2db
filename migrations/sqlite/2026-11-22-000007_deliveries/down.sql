ALTER TABLE devices DROP COLUMN tls_pin;
DROP TABLE deliveries;
