//! The audit trail: append-only events (who, what, which object, when), each carrying the
//! hash of the previous one so that an edited, deleted or reordered row is detected by
//! [`verify`]. Audit events are records for IT and auditors, not log lines.

use sha2::{Digest, Sha256};

use crate::db::models::audit_events::{self, AuditRow, NewAuditEvent};
use crate::db::{self, Conn};

/// The hash of the chain's first link.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event to record.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// Who acted: a user name, `system`, or a device.
    pub actor: &'a str,
    /// What happened, as a dotted verb (`job.submitted`, `job.state`).
    pub action: &'a str,
    /// What it happened to (`job:42`).
    pub object: &'a str,
    /// Details as compact JSON.
    pub detail: String,
}

fn link_hash(prev: &str, at: i64, actor: &str, action: &str, object: &str, detail: &str) -> String {
    let mut h = Sha256::new();
    for part in [prev, &at.to_string(), actor, action, object, detail] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends `event` to the chain. Call inside the write transaction of the change it records,
/// so the event and the change commit together.
pub fn append(conn: &mut Conn, event: Event<'_>) -> diesel::QueryResult<()> {
    db::lock_audit_chain(conn)?;
    let prev = audit_events::last_hash(conn)?.unwrap_or_else(|| GENESIS.to_owned());
    let at = db::now_ms();
    let hash = link_hash(
        &prev,
        at,
        event.actor,
        event.action,
        event.object,
        &event.detail,
    );
    audit_events::insert(
        conn,
        &NewAuditEvent {
            at,
            actor: event.actor.to_owned(),
            action: event.action.to_owned(),
            object: event.object.to_owned(),
            detail: event.detail,
            prev_hash: prev,
            hash,
        },
    )?;
    Ok(())
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every event links to the one before and its hash matches its content.
    Intact { events: u64 },
    /// The first event that does not fit, and why.
    Broken { id: i64, reason: String },
}

/// Walks the whole chain in id order and checks every link.
pub fn verify(conn: &mut Conn) -> diesel::QueryResult<Verdict> {
    let mut prev = GENESIS.to_owned();
    let mut after = 0;
    let mut count = 0;
    loop {
        let page = audit_events::list_after(conn, after, 1000)?;
        if page.is_empty() {
            return Ok(Verdict::Intact { events: count });
        }
        for row in page {
            if let Some(reason) = check_link(&prev, &row) {
                return Ok(Verdict::Broken { id: row.id, reason });
            }
            prev = row.hash.clone();
            after = row.id;
            count += 1;
        }
    }
}

fn check_link(prev: &str, row: &AuditRow) -> Option<String> {
    if row.prev_hash != prev {
        return Some("does not follow the previous event (deleted or reordered)".into());
    }
    let expected = link_hash(
        &row.prev_hash,
        row.at,
        &row.actor,
        &row.action,
        &row.object,
        &row.detail,
    );
    (expected != row.hash).then(|| "content does not match its hash (modified)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, prev: &str, detail: &str) -> AuditRow {
        let hash = link_hash(prev, 1, "alice", "job.submitted", "job:1", detail);
        AuditRow {
            id,
            at: 1,
            actor: "alice".into(),
            action: "job.submitted".into(),
            object: "job:1".into(),
            detail: detail.into(),
            prev_hash: prev.into(),
            hash,
        }
    }

    #[test]
    fn a_link_that_matches_passes() {
        assert_eq!(check_link(GENESIS, &row(1, GENESIS, "{}")), None);
    }

    #[test]
    fn a_modified_event_is_detected() {
        let mut r = row(1, GENESIS, "{}");
        r.detail = "{\"pages\":2}".into();
        assert!(check_link(GENESIS, &r).unwrap().contains("modified"));
    }

    #[test]
    fn a_missing_predecessor_is_detected() {
        let r = row(2, "abc", "{}");
        assert!(check_link(GENESIS, &r).unwrap().contains("deleted"));
    }
}
