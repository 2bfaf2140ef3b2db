//! After a stop in the middle of a release (crash, kill, restart), the deliveries that never
//! ended belong to jobs that may or may not have printed: bytes may have reached the copier.
//! They become `processing-stopped` ("needs decision"), never resent automatically; the user
//! decides at the next session.
//!
//! - At start, a node recovers **its own** open deliveries (by `node_name`), so a node starting
//!   does not touch the jobs another node is sending.
//! - Every few minutes, any node recovers deliveries open for longer than a release can last
//!   (a node that never came back, or came back under another name).

use std::time::Duration;

use super::{ReleaseError, ReleaseService};
use crate::db::models::deliveries::{self, DeliveryRow};
use crate::db::models::devices;
use crate::db::{self, DbError};
use crate::domain::{JobState, JobStateReason};
use crate::spool::SpoolError;

/// Longer than any release lasts: a copier's job is followed 30 minutes at most.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(45 * 60);

impl ReleaseService {
    /// Marks the jobs this node was sending when it stopped; returns how many.
    pub async fn recover_interrupted(&self) -> Result<usize, ReleaseError> {
        let node = self.inner.node.clone();
        let open = self
            .inner
            .db
            .run(move |conn| Ok::<_, DbError>(deliveries::open_of(conn, &node)?))
            .await?;
        self.mark(open).await
    }

    /// Marks the jobs of deliveries open longer than [`ABANDONED_AFTER`], whoever started
    /// them; returns how many.
    pub async fn recover_abandoned(&self) -> Result<usize, ReleaseError> {
        let cutoff = db::now_ms() - ABANDONED_AFTER.as_millis() as i64;
        let open = self
            .inner
            .db
            .run(move |conn| Ok::<_, DbError>(deliveries::open_before(conn, cutoff)?))
            .await?;
        self.mark(open).await
    }

    async fn mark(&self, open: Vec<DeliveryRow>) -> Result<usize, ReleaseError> {
        let mut marked = 0;
        for delivery in open {
            let device_id = delivery.device_id;
            let device_name = self
                .inner
                .db
                .run(move |conn| {
                    Ok::<_, DbError>(devices::by_id_any(conn, device_id)?.map(|r| r.name))
                })
                .await?
                .unwrap_or_else(|| format!("device {device_id}"));
            let message = format!(
                "Folio stopped while sending this job to {device_name}: it may or may not have \
                 printed. Check the output tray, then print it again or cancel"
            );
            let job_id = delivery.job_id;
            let end = move |conn: &mut db::Conn, _: &crate::spool::Transitioned| {
                deliveries::finish(conn, job_id, "interrupted", None, db::now_ms())?;
                Ok(())
            };
            match self
                .inner
                .spool
                .transition_then(
                    job_id,
                    JobState::ProcessingStopped,
                    JobStateReason::JobPrinting,
                    Some(message),
                    ("folio".into(), Some(device_name.clone())),
                    end,
                )
                .await
            {
                Ok(_) => {
                    marked += 1;
                    tracing::warn!(
                        job_id,
                        device = %device_name,
                        node = %delivery.node,
                        "a release was interrupted: the job awaits its owner's decision"
                    );
                }
                // The job moved on (canceled, expired): only the delivery row is left to close.
                Err(SpoolError::NotPossible(_) | SpoolError::NotFound) => {
                    self.inner
                        .db
                        .run(move |conn| {
                            Ok::<_, DbError>(deliveries::finish(
                                conn,
                                job_id,
                                "interrupted",
                                None,
                                db::now_ms(),
                            )?)
                        })
                        .await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(marked)
    }
}
