//! The archive pipeline: each capture moves through its stages as a durable state machine.
//! The stage to run next is a column of the capture's row; a worker takes it with a lease (so
//! several workers and nodes never run it twice at once), runs it, and commits the move to the
//! next stage (or to quarantine, with its reason) together with its audit event. A stage that
//! fails for a passing reason is tried again later with backoff; one that finds something
//! wrong with the scan quarantines it for an operator.
//!
//! Stages: a capture is validated, then split by its cover sheets into documents; each
//! document is then identified (the patient identity service), classified (the plan), sampled
//! for QC, sealed and delivered (`docs/scans.md`).

pub mod actions;
pub mod barcodes;
pub mod cover;
pub mod deliver;
pub mod identity;
pub mod image_pdf;
pub mod pages;
pub mod pipeline;
pub mod plan;
pub mod preview;
pub mod qc;
pub mod seal;
pub mod settings;
pub mod sheet;
pub mod split;
mod stages;
pub mod tiff;
pub mod tsa;
pub mod untrusted;
pub mod validate;

pub use untrusted::JOBS;

/// Where a capture is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Validate,
    Split,
    Identify,
    Classify,
    Qc,
    Seal,
    Deliver,
    Done,
    Quarantined,
    /// Set aside for good by an operator, with a justification.
    Rejected,
}

impl Stage {
    /// The stage every capture starts at.
    pub const FIRST: Stage = Stage::Validate;

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Validate => "validate",
            Stage::Split => "split",
            Stage::Identify => "identify",
            Stage::Classify => "classify",
            Stage::Qc => "qc",
            Stage::Seal => "seal",
            Stage::Deliver => "deliver",
            Stage::Done => "done",
            Stage::Quarantined => "quarantined",
            Stage::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        [
            Stage::Validate,
            Stage::Split,
            Stage::Identify,
            Stage::Classify,
            Stage::Qc,
            Stage::Seal,
            Stage::Deliver,
            Stage::Done,
            Stage::Quarantined,
            Stage::Rejected,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// The stage after this one.
    pub fn next(self) -> Stage {
        match self {
            Stage::Validate => Stage::Split,
            Stage::Split => Stage::Identify,
            Stage::Identify => Stage::Classify,
            Stage::Classify => Stage::Qc,
            Stage::Qc => Stage::Seal,
            Stage::Seal => Stage::Deliver,
            Stage::Deliver | Stage::Done => Stage::Done,
            Stage::Quarantined => Stage::Quarantined,
            Stage::Rejected => Stage::Rejected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_and_follow_each_other() {
        let mut s = Stage::FIRST;
        let mut seen = vec![s];
        while s != Stage::Done {
            s = s.next();
            seen.push(s);
        }
        assert_eq!(seen.len(), 8);
        for st in seen {
            assert_eq!(Stage::parse(st.as_str()), Some(st));
        }
    }
}
