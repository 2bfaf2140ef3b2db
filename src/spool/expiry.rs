//! The background task that expires unreleased jobs and keeps the held-jobs gauge true.

use std::time::Duration;

use super::Spool;
use crate::db::models::jobs;
use crate::domain::JobState;
use crate::metrics::METRICS;

/// Every `interval`, expires due jobs and refreshes the held-jobs gauge from the database
/// (other nodes may share it).
pub fn spawn_expiry(spool: Spool, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            match spool.expire_due().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "expired unreleased jobs"),
                Err(e) => tracing::error!(error = %e, "expiring jobs failed; will retry"),
            }
            let held = spool
                .db()
                .run(|conn| {
                    jobs::count_in_state(conn, JobState::PendingHeld.code())
                        .map_err(crate::db::DbError::from)
                })
                .await;
            if let Ok(held) = held {
                METRICS.jobs_held.set(held);
            }
        }
    })
}
