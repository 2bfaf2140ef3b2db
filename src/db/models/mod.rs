//! One file per table: the row, its insert form and its queries.

pub mod audit_events;
pub mod console_sessions;
pub mod delegations;
pub mod deliveries;
pub mod devices;
pub mod directory;
pub mod documents;
pub mod jobs;
pub mod pipeline;
pub mod policy_rules;
pub mod qc_lots;
pub mod quotas;
pub mod release_sessions;
pub mod scan_captures;
pub mod scan_documents;
