//! Running Folio: metrics, audit trail, logs, migrations, settings at start, TLS and limits.

mod migrations;
mod monitoring;
mod settings;
mod tls_and_limits;
