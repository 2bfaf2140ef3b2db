//! The PWG's ipptool suites against Folio.

mod suites;
