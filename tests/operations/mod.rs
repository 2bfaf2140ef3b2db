//! Running Folio: metrics, audit trail, logs, migrations, TLS and limits.

mod migrations;
mod monitoring;
mod tls_and_limits;
