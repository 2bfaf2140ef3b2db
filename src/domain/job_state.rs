//! Job states (IPP's, RFC 8011 §5.3.7) and the reasons Folio gives for them.

use std::fmt;

/// The state of a job, with IPP's enum values, stored as an integer in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobState {
    /// "pending": waiting to be processed.
    Pending = 3,
    /// "pending-held": held until its owner releases it at a copier.
    PendingHeld = 4,
    /// "processing": being sent to or printed by a copier.
    Processing = 5,
    /// "processing-stopped": stopped while processing; needs a decision.
    ProcessingStopped = 6,
    /// "canceled": canceled by a user or an operator (terminal).
    Canceled = 7,
    /// "aborted": aborted by the system, e.g. expired unreleased (terminal).
    Aborted = 8,
    /// "completed": printed (terminal).
    Completed = 9,
}

impl JobState {
    /// Every state, in IPP order.
    pub const ALL: [JobState; 7] = [
        JobState::Pending,
        JobState::PendingHeld,
        JobState::Processing,
        JobState::ProcessingStopped,
        JobState::Canceled,
        JobState::Aborted,
        JobState::Completed,
    ];

    /// The IPP enum value, also the database representation.
    pub fn code(self) -> i16 {
        self as i16
    }

    /// Reads a state from its IPP enum value.
    pub fn from_code(code: i16) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.code() == code)
    }

    /// True for canceled, aborted and completed: nothing happens to the job any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Canceled | JobState::Aborted | JobState::Completed
        )
    }

    /// The IPP keyword of the state.
    pub fn keyword(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::PendingHeld => "pending-held",
            JobState::Processing => "processing",
            JobState::ProcessingStopped => "processing-stopped",
            JobState::Canceled => "canceled",
            JobState::Aborted => "aborted",
            JobState::Completed => "completed",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// Why a job is in its state: the IPP `job-state-reasons` keyword Folio reports, stored as an
/// integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStateReason {
    /// "none"
    None = 0,
    /// "job-incoming": created, documents still arriving.
    JobIncoming = 1,
    /// "job-hold-until-specified": held until released at a copier.
    JobHoldUntilSpecified = 2,
    /// "job-canceled-by-user"
    JobCanceledByUser = 3,
    /// "job-canceled-by-operator"
    JobCanceledByOperator = 4,
    /// "aborted-by-system": expired unreleased after `hold_hours`.
    AbortedBySystem = 5,
    /// "job-completed-successfully"
    JobCompletedSuccessfully = 6,
    /// "job-printing"
    JobPrinting = 7,
    /// "job-data-insufficient": closed without any document.
    JobDataInsufficient = 8,
    /// "document-access-error": the job's document file is missing from the spool (found at
    /// start-up). The job is held aside, never released, until the file is back.
    DocumentAccessError = 9,
}

impl JobStateReason {
    const ALL: [JobStateReason; 10] = [
        JobStateReason::None,
        JobStateReason::JobIncoming,
        JobStateReason::JobHoldUntilSpecified,
        JobStateReason::JobCanceledByUser,
        JobStateReason::JobCanceledByOperator,
        JobStateReason::AbortedBySystem,
        JobStateReason::JobCompletedSuccessfully,
        JobStateReason::JobPrinting,
        JobStateReason::JobDataInsufficient,
        JobStateReason::DocumentAccessError,
    ];

    /// The database representation.
    pub fn code(self) -> i16 {
        self as i16
    }

    /// Reads a reason from its database representation (unknown codes read as `None`).
    pub fn from_code(code: i16) -> JobStateReason {
        Self::ALL
            .into_iter()
            .find(|r| r.code() == code)
            .unwrap_or(JobStateReason::None)
    }

    /// The IPP keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            JobStateReason::None => "none",
            JobStateReason::JobIncoming => "job-incoming",
            JobStateReason::JobHoldUntilSpecified => "job-hold-until-specified",
            JobStateReason::JobCanceledByUser => "job-canceled-by-user",
            JobStateReason::JobCanceledByOperator => "job-canceled-by-operator",
            JobStateReason::AbortedBySystem => "aborted-by-system",
            JobStateReason::JobCompletedSuccessfully => "job-completed-successfully",
            JobStateReason::JobPrinting => "job-printing",
            JobStateReason::JobDataInsufficient => "job-data-insufficient",
            JobStateReason::DocumentAccessError => "document-access-error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_round_trips_through_its_code() {
        for s in JobState::ALL {
            assert_eq!(JobState::from_code(s.code()), Some(s));
        }
        assert_eq!(JobState::from_code(2), None);
    }

    #[test]
    fn every_reason_round_trips_through_its_code() {
        for r in JobStateReason::ALL {
            assert_eq!(JobStateReason::from_code(r.code()), r);
        }
    }
}
