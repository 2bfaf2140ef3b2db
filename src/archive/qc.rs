//! QC sampling: a copier's documents of one day form a lot; once no document has joined it for
//! `qc_close_secs`, a sample is drawn from it at `qc_rate` (at least one), with a seed recorded
//! so the draw can be repeated. Reviewers accept or reject each sampled document; the lot goes
//! on to sealing only when every sampled one was accepted, and a rejection sends the whole lot
//! to quarantine (scan it again).

use rand::seq::SliceRandom;
use rand::SeedableRng;

/// The sampled documents of a lot of `ids` (sorted), drawn with `seed`.
pub fn draw(ids: &[i64], rate: f64, seed: u64) -> Vec<i64> {
    if ids.is_empty() || rate <= 0.0 {
        return Vec::new();
    }
    let n = ((ids.len() as f64 * rate.min(1.0)).ceil() as usize).clamp(1, ids.len());
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut sample: Vec<i64> = ids.choose_multiple(&mut rng, n).copied().collect();
    sample.sort_unstable();
    sample
}

/// The lot of a copier's day: `device|YYYY-MM-DD` (UTC).
pub fn lot_of(device: &str, received_at: i64) -> String {
    let day = chrono::DateTime::from_timestamp_millis(received_at)
        .unwrap_or_default()
        .format("%Y-%m-%d");
    let device = if device.is_empty() { "folder" } else { device };
    format!("{device}|{day}")
}

/// Records a reviewer's decision (`accept` or `reject`) on sampled document `id`, with its
/// audit event; false when `id` is not a sampled document.
pub async fn review(
    db: &crate::db::Db,
    id: i64,
    decision: String,
    reason: String,
    reviewer: String,
) -> Result<bool, crate::db::DbError> {
    use crate::audit::{self, Event, Outcome};
    use crate::db::models::qc_lots;
    db.run(move |conn| {
        crate::db::write_tx(conn, |conn| {
            if !qc_lots::review(conn, id, &decision, &reviewer)? {
                return Ok(false);
            }
            audit::append(
                conn,
                Event {
                    actor: &reviewer,
                    action: "scan.qc_review",
                    object: &format!("scan-document:{id}"),
                    outcome: if decision == "accept" {
                        Outcome::Success
                    } else {
                        Outcome::Failure
                    },
                    detail: serde_json::json!({ "decision": decision, "reason": reason })
                        .to_string(),
                    ..Default::default()
                },
            )?;
            Ok::<_, diesel::result::Error>(true)
        })
        .map_err(crate::db::DbError::from)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_sample() {
        let ids: Vec<i64> = (1..=40).collect();
        let a = draw(&ids, 0.05, 42);
        assert_eq!(a.len(), 2);
        assert_eq!(a, draw(&ids, 0.05, 42));
        assert_eq!(draw(&ids[..3], 0.05, 7).len(), 1, "at least one");
        assert_eq!(draw(&ids, 1.0, 7), ids);
        assert!(draw(&ids, 0.0, 7).is_empty());
        assert_eq!(lot_of("copier", 0), "copier|1970-01-01");
    }
}
