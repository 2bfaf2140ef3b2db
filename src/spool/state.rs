//! The one choke point for job state: [`transition`] checks the table of legal moves, writes
//! the new state, records the audit event and counts the transition. Nothing else writes a
//! job's state.

use crate::audit::{self, Event};
use crate::db::models::{documents, jobs};
use crate::db::{self, Conn};
use crate::domain::{JobState, JobStateReason};
use crate::metrics::METRICS;

use super::SpoolError;

/// Whether a job may move from `from` to `to`.
///
/// Held and pending jobs may be released (processing), canceled or aborted; a held job may
/// stay held with a new reason (documents arrived). Processing may end, stop, or go back to
/// held when the copier failed before printing. Terminal states never change.
pub fn is_legal(from: JobState, to: JobState) -> bool {
    use JobState::*;
    match from {
        Pending => matches!(to, PendingHeld | Processing | Canceled | Aborted),
        PendingHeld => matches!(to, PendingHeld | Pending | Processing | Canceled | Aborted),
        Processing => matches!(
            to,
            PendingHeld | ProcessingStopped | Completed | Canceled | Aborted
        ),
        ProcessingStopped => matches!(to, PendingHeld | Processing | Canceled | Aborted),
        Canceled | Aborted | Completed => false,
    }
}

/// A change of state to apply.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub to: JobState,
    pub reason: JobStateReason,
    /// "job-state-message" shown to the user.
    pub message: Option<&'a str>,
    /// Who caused it (user name or `system`).
    pub actor: &'a str,
    /// The copier involved (a release and its end), for the audit trail.
    pub device: Option<&'a str>,
}

/// The outcome of a transition.
#[derive(Debug, Clone)]
pub struct Transitioned {
    pub from: JobState,
    pub job: jobs::JobRow,
    /// Spool files whose keys were destroyed (terminal states): delete them after commit.
    pub purged_files: Vec<String>,
}

/// Moves job `id` to a new state inside the caller's write transaction. A terminal state
/// destroys the keys of the job's documents in the same transaction.
pub fn transition(
    conn: &mut Conn,
    id: i64,
    change: Change<'_>,
) -> Result<Transitioned, SpoolError> {
    jobs::lock(conn, id)?;
    let job = jobs::find(conn, id)?.ok_or(SpoolError::NotFound)?;
    let from = JobState::from_code(job.state).ok_or(SpoolError::Corrupt(id))?;
    if !is_legal(from, change.to) {
        return Err(SpoolError::NotPossible(format!(
            "job {id} is {from} and cannot become {}",
            change.to
        )));
    }
    let now = db::now_ms();
    let completed_at = change.to.is_terminal().then_some(now);
    let changed = jobs::set_state(
        conn,
        id,
        from.code(),
        change.to.code(),
        change.reason.code(),
        change.message,
        completed_at,
    )?;
    if changed != 1 {
        return Err(SpoolError::NotPossible(format!(
            "job {id} changed state meanwhile"
        )));
    }
    let purged_files = if change.to.is_terminal() {
        documents::purge_job(conn, id, now)?
    } else {
        Vec::new()
    };
    audit::append(
        conn,
        Event {
            actor: change.actor,
            action: "job.state",
            object: &format!("job:{id}"),
            device: change.device,
            outcome: if failed(from, change.to) {
                audit::Outcome::Failure
            } else {
                audit::Outcome::Success
            },
            // The owner beside the actor: "released by X for Y" reads from one event.
            detail: serde_json::json!({
                "from": from.keyword(),
                "to": change.to.keyword(),
                "reason": change.reason.keyword(),
                "owner": job.owner,
                "message": change.message,
            })
            .to_string(),
        },
    )?;
    let job = jobs::JobRow {
        state: change.to.code(),
        state_reason: change.reason.code(),
        state_message: change.message.map(str::to_owned),
        completed_at,
        ..job
    };
    Ok(Transitioned {
        from,
        job,
        purged_files,
    })
}

/// Whether a move records a failure: an abort, a release that may or may not have printed,
/// a job back on hold because its copier failed.
fn failed(from: JobState, to: JobState) -> bool {
    matches!(to, JobState::Aborted | JobState::ProcessingStopped)
        || (from == JobState::Processing && to == JobState::PendingHeld)
}

/// Counts a committed transition in the metrics (call after the transaction committed).
pub fn record_metrics(from: JobState, to: JobState) {
    METRICS
        .job_transitions
        .with_label_values(&[from.keyword(), to.keyword()])
        .inc();
    if from == JobState::PendingHeld && to != JobState::PendingHeld {
        METRICS.jobs_held.dec();
    }
    if to == JobState::PendingHeld && from != JobState::PendingHeld {
        METRICS.jobs_held.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobState::*;

    /// Every pair of states, against the table written out by hand.
    #[test]
    fn every_pair_of_states_follows_the_table() {
        let legal: &[(JobState, &[JobState])] = &[
            (Pending, &[PendingHeld, Processing, Canceled, Aborted]),
            (
                PendingHeld,
                &[Pending, PendingHeld, Processing, Canceled, Aborted],
            ),
            (
                Processing,
                &[PendingHeld, ProcessingStopped, Completed, Canceled, Aborted],
            ),
            (
                ProcessingStopped,
                &[PendingHeld, Processing, Canceled, Aborted],
            ),
            (Canceled, &[]),
            (Aborted, &[]),
            (Completed, &[]),
        ];
        for (from, tos) in legal {
            for to in JobState::ALL {
                assert_eq!(is_legal(*from, to), tos.contains(&to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn terminal_states_never_change() {
        for from in JobState::ALL.into_iter().filter(|s| s.is_terminal()) {
            assert!(JobState::ALL.into_iter().all(|to| !is_legal(from, to)));
        }
    }
}
