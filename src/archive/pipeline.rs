//! The workers of the archive pipeline: take a due capture with a lease, run its stage, commit
//! where it goes next with its audit event. A worker that dies leaves its lease to run out;
//! the capture is then taken again and its stage run again (every stage can run twice safely:
//! it writes nothing outside the transaction that moves the capture on).

use std::time::Duration;

use super::{validate, Stage};
use crate::audit::{self, Event, Outcome};
use crate::capture::{store, CaptureService};
use crate::db::models::scan_captures::{self as rows, CaptureRow, StageChange};
use crate::db::{self, DbError};
use crate::metrics::METRICS;

/// How long a worker holds a capture before another may take it.
const LEASE: Duration = Duration::from_secs(300);
/// How long an idle worker waits before looking again.
const IDLE: Duration = Duration::from_millis(500);

/// What running a stage decided.
#[derive(Debug)]
enum Verdict {
    /// Go on to the next stage; details for the audit event.
    Next(serde_json::Value, Option<(String, i32)>),
    /// Something is wrong with the scan: an operator decides.
    Quarantine(String),
    /// Something passing went wrong (disk, database): try again later.
    Retry(String),
}

/// The pipeline of this node.
#[derive(Clone)]
pub struct Pipeline {
    capture: CaptureService,
    node: String,
}

impl Pipeline {
    pub fn new(capture: CaptureService, node: String) -> Pipeline {
        Pipeline { capture, node }
    }

    /// Starts the workers; they run until the returned tasks are aborted.
    pub fn spawn(self) -> Vec<tokio::task::JoinHandle<()>> {
        (0..self.capture.settings().workers.max(1))
            .map(|_| {
                let me = self.clone();
                tokio::spawn(async move {
                    loop {
                        match me.step().await {
                            Ok(true) => {}
                            Ok(false) => tokio::time::sleep(IDLE).await,
                            Err(e) => {
                                tracing::warn!(error = %e, "archive pipeline: cannot take work");
                                tokio::time::sleep(IDLE * 4).await;
                            }
                        }
                    }
                })
            })
            .collect()
    }

    /// Runs one due stage, if any; true when it did.
    pub async fn step(&self) -> Result<bool, DbError> {
        let node = self.node.clone();
        let stages: Vec<&'static str> = Stage::RUNNABLE.iter().map(|s| s.as_str()).collect();
        let claimed = self
            .capture
            .db()
            .run(move |conn| {
                let now = db::now_ms();
                Ok::<_, DbError>(rows::claim(
                    conn,
                    &stages,
                    &node,
                    now,
                    now + LEASE.as_millis() as i64,
                )?)
            })
            .await?;
        let Some(row) = claimed else {
            return Ok(false);
        };
        let Some(stage) = Stage::parse(&row.stage) else {
            return Ok(false);
        };
        let started = std::time::Instant::now();
        let verdict = self.run(stage, &row).await;
        METRICS
            .scan_stage_duration
            .with_label_values(&[stage.as_str()])
            .observe(started.elapsed().as_secs_f64());
        self.conclude(stage, row, verdict).await?;
        Ok(true)
    }

    async fn run(&self, stage: Stage, row: &CaptureRow) -> Verdict {
        match stage {
            Stage::Validate => self.validate(row).await,
            other => Verdict::Retry(format!("the {} stage does not run yet", other.as_str())),
        }
    }

    async fn validate(&self, row: &CaptureRow) -> Verdict {
        let capture = self.capture.clone();
        let (file, key, sha) = (
            row.master_file.clone(),
            row.wrapped_key.clone(),
            row.sha256.clone(),
        );
        let min_dpi = capture.settings().min_dpi;
        let measured = tokio::task::spawn_blocking(move || {
            let bytes =
                store::read_checked(capture.dir(), capture.spool().master(), &file, &key, &sha)
                    .map_err(|e| Err(e.to_string()))?;
            let m = validate::measure(&bytes).map_err(Ok)?;
            validate::check(&m, min_dpi).map_err(Ok)?;
            Ok::<_, Result<String, String>>(m)
        })
        .await;
        match measured {
            Ok(Ok(m)) => Verdict::Next(
                serde_json::json!({ "format": m.format, "pages": m.pages, "dpi": m.dpi }),
                Some((m.format.to_owned(), m.pages as i32)),
            ),
            // The scan is wrong: an operator looks.
            Ok(Err(Ok(reason))) => Verdict::Quarantine(reason),
            // The master could not be read: storage, not the scan.
            Ok(Err(Err(e))) => Verdict::Retry(e),
            Err(_) => Verdict::Retry("validation was interrupted".into()),
        }
    }

    /// Commits where the capture goes, with its audit event, and gives the lease back.
    async fn conclude(
        &self,
        stage: Stage,
        row: CaptureRow,
        verdict: Verdict,
    ) -> Result<(), DbError> {
        let max_attempts = self.capture.settings().max_attempts;
        let now = db::now_ms();
        let (change, action, outcome, detail, measured) = match verdict {
            Verdict::Next(detail, measured) => (
                StageChange {
                    stage: stage.next().as_str().to_owned(),
                    attempts: 0,
                    next_attempt_at: now,
                    lease_node: None,
                    lease_until: None,
                    quarantine_reason: None,
                    quarantine_stage: None,
                    updated_at: now,
                },
                "scan.stage",
                Outcome::Success,
                serde_json::json!({ "from": stage.as_str(), "to": stage.next().as_str(), "result": detail }),
                measured,
            ),
            Verdict::Retry(error) if row.attempts + 1 < max_attempts => {
                // 2 s, 4 s, 8 s … up to 10 minutes.
                let backoff = 2_000i64
                    .saturating_mul(1 << row.attempts.clamp(0, 9))
                    .min(600_000);
                tracing::warn!(scan_id = row.id, stage = stage.as_str(), error = %error, "scan stage failed; trying again");
                (
                    StageChange {
                        stage: stage.as_str().to_owned(),
                        attempts: row.attempts + 1,
                        next_attempt_at: now + backoff,
                        lease_node: None,
                        lease_until: None,
                        quarantine_reason: None,
                        quarantine_stage: None,
                        updated_at: now,
                    },
                    "scan.retry",
                    Outcome::Failure,
                    serde_json::json!({ "stage": stage.as_str(), "error": error, "attempt": row.attempts + 1 }),
                    None,
                )
            }
            Verdict::Retry(reason) | Verdict::Quarantine(reason) => (
                StageChange {
                    stage: Stage::Quarantined.as_str().to_owned(),
                    attempts: row.attempts,
                    next_attempt_at: now,
                    lease_node: None,
                    lease_until: None,
                    quarantine_reason: Some(format!("{}: {reason}", stage.as_str())),
                    quarantine_stage: Some(stage.as_str().to_owned()),
                    updated_at: now,
                },
                "scan.quarantined",
                Outcome::Failure,
                serde_json::json!({ "stage": stage.as_str(), "reason": reason }),
                None,
            ),
        };
        let to = change.stage.clone();
        let (id, device, actor) = (
            row.id,
            row.device_name.clone(),
            row.uid.clone().unwrap_or_else(|| "folio".into()),
        );
        let from = row.stage.clone();
        let moved = self
            .capture
            .db()
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    if !rows::set_stage(conn, id, &from, &change)? {
                        // Taken over by another worker after our lease ran out: its word counts.
                        return Ok(false);
                    }
                    if let Some((format, pages)) = &measured {
                        rows::set_format(conn, id, format, *pages)?;
                    }
                    audit::append(
                        conn,
                        Event {
                            actor: if action == "scan.stage" {
                                "folio"
                            } else {
                                &actor
                            },
                            action,
                            object: &format!("scan:{id}"),
                            device: Some(device.as_str()).filter(|d| !d.is_empty()),
                            outcome,
                            detail: detail.to_string(),
                        },
                    )?;
                    Ok::<_, diesel::result::Error>(true)
                })
                .map_err(DbError::from)
            })
            .await?;
        if moved {
            METRICS
                .scan_transitions
                .with_label_values(&[stage.as_str(), &to])
                .inc();
            if to == Stage::Quarantined.as_str() {
                METRICS
                    .scan_quarantined
                    .with_label_values(&[stage.as_str()])
                    .inc();
            }
            tracing::info!(scan_id = id, from = stage.as_str(), to = %to, "scan moved");
        }
        Ok(())
    }
}
