//! Folio: hospital-wide secure print release and document capture.
//!
//! See `ARCHITECTURE` in the docs: each module is one room with one job.

pub mod app;
pub mod archive;
pub mod audit;
pub mod capture;
pub mod cli;
pub mod config;
pub mod db;
pub mod devices;
pub mod directory;
pub mod document;
pub mod domain;
pub mod drivers;
pub mod ipp;
pub mod metrics;
pub mod output;
pub mod policy;
pub mod release;
pub mod reports;
pub mod sandbox;
pub mod spool;
pub mod web;
