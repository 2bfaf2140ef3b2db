//! Fault injection: kill -9, full disks, copiers that stall, a spool out of step.

mod disk;
mod kill;
mod release;
mod spool;
