//! Folio's integration tests: one binary, one module per area. Each test starts the real
//! `folio` binary and the real components it talks to (see `docs/testing.md`); `common` holds
//! the harness. Run one area with `cargo nextest run -E 'test(/^ipp::/)'`, one test by its
//! name.

mod common;

mod archive;
mod conformance;
mod console;
mod devices;
mod directory;
mod faults;
mod harness;
mod ipp;
mod operations;
mod policy;
mod release;
mod scans;
mod security;
