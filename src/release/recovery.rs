//! After a stop in the middle of a release (crash, kill, restart), this node's deliveries that
//! never ended belong to jobs that may or may not have printed: bytes may have reached the
//! copier. They become `processing-stopped` ("needs decision"), never resent automatically; the
//! user decides at the next session. Each node recovers only its own deliveries (by
//! `node_name`), so a node starting does not touch the jobs another node is sending.

use super::{ReleaseError, ReleaseService};
use crate::db::models::{deliveries, devices};
use crate::db::{self, DbError};
use crate::domain::{JobState, JobStateReason};
use crate::spool::SpoolError;

impl ReleaseService {
    /// Marks the jobs this node was sending when it stopped; returns how many.
    pub async fn recover_interrupted(&self) -> Result<usize, ReleaseError> {
        let node = self.inner.node.clone();
        let open = self
            .inner
            .db
            .run(move |conn| {
                let open = deliveries::open_of(conn, &node)?;
                let mut out = Vec::new();
                for d in open {
                    let name = devices::by_id_any(conn, d.device_id)?
                        .map(|r| r.name)
                        .unwrap_or_else(|| format!("device {}", d.device_id));
                    out.push((d, name));
                }
                Ok::<_, DbError>(out)
            })
            .await?;
        let mut marked = 0;
        for (delivery, device_name) in open {
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
                    "folio".into(),
                    end,
                )
                .await
            {
                Ok(_) => {
                    marked += 1;
                    tracing::warn!(
                        job_id,
                        device = %device_name,
                        "a release was interrupted by a stop: the job awaits its owner's decision"
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
