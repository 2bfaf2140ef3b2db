//! Group commit of new jobs: one thread takes every waiting submission, fsyncs the spool
//! directory once, and inserts them all in one transaction. Each submitter is answered only
//! after that commit, so "durable before yes" costs one directory fsync and one database
//! commit per batch instead of per job.

use std::path::PathBuf;

use tokio::sync::{mpsc, oneshot};

use super::{store, SpoolError};
use crate::audit::{self, Event};
use crate::db::models::{documents, jobs};
use crate::db::{self, Conn, Db};
use crate::metrics::METRICS;

/// The most jobs committed together.
const MAX_BATCH: usize = 256;

/// A job to insert, with its first document if it came with one (Print-Job).
pub struct Intake {
    pub job: jobs::NewJob,
    pub document: Option<store::StoredDocument>,
    pub reply: oneshot::Sender<Result<i64, SpoolError>>,
}

/// Starts the committer thread; it ends when every sender is dropped.
pub fn start(db: Db, spool_dir: PathBuf) -> Result<mpsc::Sender<Intake>, SpoolError> {
    let (tx, mut rx) = mpsc::channel::<Intake>(4 * MAX_BATCH);
    std::thread::Builder::new()
        .name("folio-commit".into())
        .spawn(move || {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while let Some(first) = rx.blocking_recv() {
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                commit_batch(&db, &spool_dir, &mut batch);
            }
        })?;
    Ok(tx)
}

fn commit_batch(db: &Db, spool_dir: &std::path::Path, batch: &mut Vec<Intake>) {
    METRICS.commit_batch.observe(batch.len() as f64);
    // Without durable directory entries nothing may be acknowledged: fail the whole batch.
    if batch.iter().any(|i| i.document.is_some()) {
        if let Err(e) = store::make_durable(spool_dir) {
            tracing::error!(error = %e, jobs = batch.len(), "spool directory fsync failed; batch refused");
            for intake in batch.drain(..) {
                let _ = intake
                    .reply
                    .send(Err(SpoolError::Storage(std::io::Error::new(
                        e.kind(),
                        e.to_string(),
                    ))));
            }
            return;
        }
    }
    let outcome = db.get().map_err(SpoolError::from).and_then(|mut conn| {
        db::write_tx(&mut conn, |conn| {
            batch
                .iter()
                .map(|intake| insert_one(conn, intake))
                .collect::<Result<Vec<_>, _>>()
        })
    });
    match outcome {
        Ok(ids) => {
            for (intake, id) in batch.drain(..).zip(ids) {
                let _ = intake.reply.send(Ok(id));
            }
        }
        Err(batch_error) => {
            // One bad job must not fail its neighbours: retry them one by one. A retried job
            // whose row exists already (the failed commit did land) is answered with that row.
            tracing::warn!(error = %batch_error, jobs = batch.len(), "group commit failed, retrying jobs one by one");
            for intake in batch.drain(..) {
                let result = db.get().map_err(SpoolError::from).and_then(|mut conn| {
                    db::write_tx(&mut conn, |conn| {
                        match jobs::id_by_uuid(conn, &intake.job.uuid)? {
                            Some(id) => Ok(id),
                            None => insert_one(conn, &intake),
                        }
                    })
                });
                let _ = intake.reply.send(result);
            }
        }
    }
}

fn insert_one(conn: &mut Conn, intake: &Intake) -> Result<i64, SpoolError> {
    let id = jobs::insert(conn, &intake.job)?;
    let mut detail = serde_json::json!({
        "sides": crate::domain::Sides::from_code(intake.job.sides).keyword(),
        "print-color-mode": crate::domain::ColorMode::from_code(intake.job.color_mode).keyword(),
        "copies": intake.job.copies,
    });
    if let Some(doc) = &intake.document {
        documents::insert(conn, &super::new_document_row(id, doc))?;
        detail["format"] = doc.analysis.format.mime().into();
        detail["pages"] = doc.analysis.pages.into();
        detail["sha256"] = doc.sha256.clone().into();
    }
    audit::append(
        conn,
        Event {
            actor: &intake.job.owner,
            action: "job.submitted",
            object: &format!("job:{id}"),
            detail: detail.to_string(),
            ..Default::default()
        },
    )?;
    Ok(id)
}
