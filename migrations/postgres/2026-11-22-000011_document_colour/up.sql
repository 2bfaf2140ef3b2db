-- Whether the document's pages carry colour (NULL: it could not be told), for IT's rules.
ALTER TABLE documents ADD COLUMN color_used BOOLEAN;
