//! The archive pipeline: QC, sealing, delivery, and exactly-once across kill -9.

mod crash;
mod delivery;
