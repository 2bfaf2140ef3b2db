ALTER TABLE documents DROP COLUMN color_used;
