//! Start-up check of the spool's files against the database's rows, in both directions:
//!
//! - a file without a live row (a crash between the file's fsync and the job's commit: never
//!   acknowledged; or a purge whose file removal was cut short: already unreadable) is moved to
//!   `spool/orphans/` for an operator;
//! - a live row of an unfinished job without its file (a restore from an older backup, a file
//!   removed by hand, a shared spool not mounted yet) puts the job aside: held with the reason
//!   `document-access-error`, never offered for release, its key kept so that the job comes back
//!   by itself at the next start once the file is there again.
//!
//! Nothing is deleted either way, each finding is logged and audited, and start-up goes on.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::state::{self, Change};
use super::{store, SpoolError};
use crate::audit::{self, Event};
use crate::db::models::documents;
use crate::db::{self, Db};
use crate::domain::{JobState, JobStateReason};
use crate::metrics::METRICS;

/// Shown to the owner and IT while the job's document is missing.
pub const MISSING_MESSAGE: &str =
    "its document is missing from the spool: set aside for IT, it cannot be printed";
const FOUND_MESSAGE: &str = "its document is back in the spool: held for release again";

/// What the check found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// Files moved to `orphans/`.
    pub orphans: Vec<String>,
    /// Jobs set aside because a document file is missing.
    pub missing: Vec<i64>,
    /// Jobs whose missing documents are all back.
    pub found_again: Vec<i64>,
}

/// Runs the check on `docs_dir` (the spool directory).
pub fn at_start(db: &Db, docs_dir: &Path) -> Result<Findings, SpoolError> {
    let present = spool_files(docs_dir)?;
    let mut pooled = db.get()?;
    let conn = &mut *pooled;
    let live: HashSet<String> = documents::live_file_names(conn)?.into_iter().collect();
    let mut findings = Findings::default();

    for name in present.iter().filter(|n| !live.contains(*n)) {
        let orphan_dir = docs_dir.join("orphans");
        std::fs::create_dir_all(&orphan_dir)?;
        std::fs::rename(docs_dir.join(name), orphan_dir.join(name))?;
        findings.orphans.push(name.clone());
    }
    if !findings.orphans.is_empty() {
        tracing::warn!(
            orphans = findings.orphans.len(),
            "spool files without a job (interrupted submissions) moved to spool/orphans"
        );
        let detail = serde_json::json!({ "moved_to": "spool/orphans", "files": findings.orphans })
            .to_string();
        db::write_tx(conn, |conn| {
            audit::append(
                conn,
                Event {
                    actor: "system",
                    action: "spool.orphan_files",
                    object: "spool",
                    device: None,
                    outcome: audit::Outcome::Failure,
                    detail,
                },
            )
            .map_err(SpoolError::from)
        })?;
    }

    // Per unfinished job: is any of its live documents missing, and was it set aside before?
    let open = [
        JobState::Pending.code(),
        JobState::PendingHeld.code(),
        JobState::ProcessingStopped.code(),
    ];
    let mut jobs: HashMap<i64, (bool, i16, i16)> = HashMap::new();
    for (job_id, file, job_state, reason) in documents::live_of_open_jobs(conn, &open)? {
        let entry = jobs.entry(job_id).or_insert((false, job_state, reason));
        entry.0 |= !present.contains(&file);
    }
    let set_aside = JobStateReason::DocumentAccessError.code();
    let mut ids: Vec<_> = jobs.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        let (missing, job_state, reason) = jobs[&id];
        let change = if missing && reason != set_aside {
            findings.missing.push(id);
            tracing::error!(
                job_id = id,
                from = %JobState::from_code(job_state).map(|s| s.keyword()).unwrap_or("?"),
                "a job's document file is missing from the spool: job set aside"
            );
            (JobStateReason::DocumentAccessError, MISSING_MESSAGE)
        } else if !missing && reason == set_aside && job_state == JobState::PendingHeld.code() {
            findings.found_again.push(id);
            tracing::warn!(
                job_id = id,
                "a set-aside job's document is back: held again"
            );
            (JobStateReason::JobHoldUntilSpecified, FOUND_MESSAGE)
        } else {
            continue;
        };
        let moved = db::write_tx(conn, |conn| {
            state::transition(
                conn,
                id,
                Change {
                    to: JobState::PendingHeld,
                    reason: change.0,
                    message: Some(change.1),
                    actor: "system",
                    device: None,
                },
            )
        });
        match moved {
            Ok(_) => {}
            // Another node moved it meanwhile (released, canceled): its state is its own.
            Err(SpoolError::NotPossible(why)) => tracing::info!(job_id = id, %why, "left as is"),
            Err(e) => return Err(e),
        }
    }
    METRICS
        .spool_documents_missing
        .set(jobs.values().filter(|(missing, ..)| *missing).count() as i64);
    Ok(findings)
}

/// The names of the encrypted documents in the spool directory.
fn spool_files(docs_dir: &Path) -> Result<HashSet<String>, SpoolError> {
    let mut names = HashSet::new();
    for entry in std::fs::read_dir(docs_dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(store::SUFFIX) {
            names.insert(name);
        }
    }
    Ok(names)
}
