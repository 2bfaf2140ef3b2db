//! Hostile documents and hostile insiders (docs/security.md).

mod hostile_documents;
mod insiders;
