//! Fixtures for Folio's tests and benchmarks, kept out of the server binary: what the tests
//! and `folio-bench` make again and again.
//!
//! - [`pdf`]: small valid PDFs (black text, colour text), and PDFs of any given objects.
//! - [`scan`]: scanned batches as a 300-dpi copier sends them, with Folio cover sheets drawn
//!   in the printed sheet's layout.
//! - [`directory`]: a synthetic staff directory (LDIF) with badge numbers.
//! - [`ipp`]: hand-built IPP requests (malformed ones too) and a small response parser for
//!   assertions; independent of the server's codec on purpose.

pub mod directory;
pub mod ipp;
pub mod pdf;
pub mod scan;

pub use pdf::{sample_colour_pdf, sample_pdf};
