//! The audit trail: append-only events (who, what, which object, when), each carrying the
//! hash of the previous one so that an edited, deleted or reordered row is detected by
//! [`verify`]. Audit events are records for IT and auditors, not log lines.

use sha2::{Digest, Sha256};

use crate::db::models::audit_events::{self, AuditRow, NewAuditEvent};
use crate::db::{self, Conn};

pub mod export;
pub mod syslog;

/// The hash of the chain's first link.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How an audited action ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Outcome {
    /// It happened.
    #[default]
    Success,
    /// It was attempted and failed (a wrong password, a copier error, a job aborted).
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// An event to record.
#[derive(Debug, Clone, Default)]
pub struct Event<'a> {
    /// Who acted: a user name, `system`, or a device.
    pub actor: &'a str,
    /// What happened, as a dotted verb (`job.submitted`, `job.state`).
    pub action: &'a str,
    /// What it happened to (`job:42`).
    pub object: &'a str,
    /// The device involved (the copier a job was released to), if any.
    pub device: Option<&'a str>,
    /// How it ended.
    pub outcome: Outcome,
    /// Details as compact JSON. Never document content; document names only here, behind the
    /// audit page's access control.
    pub detail: String,
}

/// The actor of a failed sign-in whose login names nobody the directory knows (what was typed
/// is not kept: it is sometimes a password).
pub const UNKNOWN_LOGIN: &str = "(unknown login)";

/// `typed` when it looks like a login or a device name (letters, digits, `._@-`, at most 64),
/// else [`UNKNOWN_LOGIN`]: a typed value that looks like anything else (a password, a card
/// number with spaces) never reaches the trail.
pub fn plausible_name(typed: &str) -> String {
    let t = typed.trim();
    let plausible = !t.is_empty()
        && t.len() <= 64
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if plausible {
        t.to_owned()
    } else {
        UNKNOWN_LOGIN.to_owned()
    }
}

/// An event recorded on its own, outside any other change (a refused sign-in, a card nobody
/// holds).
#[derive(Debug, Clone)]
pub struct Record {
    pub actor: String,
    pub action: &'static str,
    pub object: String,
    pub device: Option<String>,
    pub outcome: Outcome,
    pub detail: serde_json::Value,
}

/// Appends `record` in its own transaction. A failure is logged, not returned: the refusal it
/// records has already been answered.
pub async fn record(db: &db::Db, record: Record) {
    let action = record.action;
    let stored = db
        .run(move |conn| {
            db::write_tx(conn, |conn| {
                append(
                    conn,
                    Event {
                        actor: &record.actor,
                        action: record.action,
                        object: &record.object,
                        device: record.device.as_deref(),
                        outcome: record.outcome,
                        detail: record.detail.to_string(),
                    },
                )
            })
            .map_err(db::DbError::from)
        })
        .await;
    if let Err(e) = stored {
        tracing::error!(error = %e, action, "cannot record an audit event");
    }
}

/// The fields a link's hash covers, in order.
struct Link<'a> {
    prev: &'a str,
    seq: i64,
    at: i64,
    actor: &'a str,
    action: &'a str,
    object: &'a str,
    device: &'a str,
    outcome: &'a str,
    detail: &'a str,
}

impl Link<'_> {
    /// Every field length-prefixed, so that no two different events hash alike.
    fn hash(&self) -> String {
        let mut h = Sha256::new();
        let seq = self.seq.to_string();
        let at = self.at.to_string();
        let parts = [
            "folio-audit-v2",
            self.prev,
            &seq,
            &at,
            self.actor,
            self.action,
            self.object,
            self.device,
            self.outcome,
            self.detail,
        ];
        for part in parts {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// The hash of events written before sequence, device and outcome were recorded
    /// (migration 000012); accepted only for the oldest stretch of the chain.
    fn legacy_hash(&self) -> String {
        let mut h = Sha256::new();
        let at = self.at.to_string();
        for part in [
            self.prev,
            &at,
            self.actor,
            self.action,
            self.object,
            self.detail,
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        hex::encode(h.finalize())
    }

    fn of(row: &AuditRow) -> Link<'_> {
        Link {
            prev: &row.prev_hash,
            seq: row.seq,
            at: row.at,
            actor: &row.actor,
            action: &row.action,
            object: &row.object,
            device: &row.device,
            outcome: &row.outcome,
            detail: &row.detail,
        }
    }
}

/// Appends `event` to the chain. Call inside the write transaction of the change it records,
/// so the event and the change commit together.
pub fn append(conn: &mut Conn, event: Event<'_>) -> diesel::QueryResult<()> {
    db::lock_audit_chain(conn)?;
    let (last_seq, prev) = audit_events::last(conn)?.unwrap_or((0, GENESIS.to_owned()));
    let seq = last_seq + 1;
    let at = db::now_ms();
    let device = event.device.unwrap_or("");
    let hash = Link {
        prev: &prev,
        seq,
        at,
        actor: event.actor,
        action: event.action,
        object: event.object,
        device,
        outcome: event.outcome.as_str(),
        detail: &event.detail,
    }
    .hash();
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
            seq,
            device: device.to_owned(),
            outcome: event.outcome.as_str().to_owned(),
        },
    )?;
    Ok(())
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every event links to the one before and its hash matches its content. `head` is the
    /// newest event's sequence number and hash: kept elsewhere (the syslog copy, a printout),
    /// it shows later that no event was removed from the end.
    Intact {
        events: u64,
        head: Option<(i64, String)>,
    },
    /// The first event that does not fit (by sequence number), and why.
    Broken { seq: i64, reason: String },
}

/// Walks the whole chain in sequence order and checks every link.
pub fn verify(conn: &mut Conn) -> diesel::QueryResult<Verdict> {
    let mut chain = Chain::default();
    loop {
        let page = audit_events::list_after(conn, chain.last_seq, 1000)?;
        if page.is_empty() {
            return Ok(Verdict::Intact {
                events: chain.count,
                head: (chain.count > 0).then(|| (chain.last_seq, chain.prev.clone())),
            });
        }
        for row in page {
            if let Some(reason) = chain.check(&row) {
                return Ok(Verdict::Broken {
                    seq: row.seq,
                    reason,
                });
            }
        }
    }
}

/// The state of a walk along the chain.
struct Chain {
    prev: String,
    last_seq: i64,
    count: u64,
    /// Still in the stretch written before migration 000012.
    legacy: bool,
}

impl Default for Chain {
    fn default() -> Chain {
        Chain {
            prev: GENESIS.to_owned(),
            last_seq: 0,
            count: 0,
            legacy: true,
        }
    }
}

impl Chain {
    /// Checks `row` as the next link; on success it becomes the chain's end.
    fn check(&mut self, row: &AuditRow) -> Option<String> {
        if row.seq != self.last_seq + 1 {
            return Some(format!(
                "comes after event {} (events deleted or renumbered)",
                self.last_seq
            ));
        }
        if row.prev_hash != self.prev {
            return Some("does not follow the previous event (deleted or reordered)".into());
        }
        let link = Link::of(row);
        if link.hash() == row.hash {
            self.legacy = false;
        } else if !(self.legacy && link.legacy_hash() == row.hash) {
            return Some("content does not match its hash (modified)".into());
        }
        self.prev = row.hash.clone();
        self.last_seq = row.seq;
        self.count += 1;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, prev: &str, detail: &str) -> AuditRow {
        let mut r = AuditRow {
            id: seq,
            at: 1,
            actor: "alice".into(),
            action: "job.submitted".into(),
            object: "job:1".into(),
            detail: detail.into(),
            prev_hash: prev.into(),
            hash: String::new(),
            seq,
            device: "copier-2".into(),
            outcome: "success".into(),
        };
        r.hash = Link::of(&r).hash();
        r
    }

    #[test]
    fn links_that_match_pass() {
        let mut chain = Chain::default();
        let first = row(1, GENESIS, "{}");
        assert_eq!(chain.check(&first), None);
        assert_eq!(chain.check(&row(2, &first.hash, "{}")), None);
        assert_eq!(chain.count, 2);
    }

    #[test]
    fn a_modified_field_is_detected() {
        for edit in [
            (|r: &mut AuditRow| r.detail = "{\"pages\":2}".into()) as fn(&mut AuditRow),
            |r| r.device = "copier-9".into(),
            |r| r.outcome = "failure".into(),
            |r| r.actor = "mallory".into(),
            |r| r.at = 2,
        ] {
            let mut r = row(1, GENESIS, "{}");
            edit(&mut r);
            assert!(Chain::default().check(&r).unwrap().contains("modified"));
        }
    }

    #[test]
    fn a_missing_or_reordered_event_is_detected() {
        let first = row(1, GENESIS, "{}");
        let second = row(2, &first.hash, "{}");
        let mut chain = Chain::default();
        chain.check(&first);
        let third = row(3, &second.hash, "{}");
        assert!(chain.check(&third).unwrap().contains("deleted"));
        let mut chain = Chain::default();
        assert!(chain.check(&second).unwrap().contains("deleted"));
    }

    #[test]
    fn legacy_links_are_accepted_only_before_the_first_new_one() {
        let mut old = row(1, GENESIS, "{}");
        old.device.clear();
        old.hash = Link::of(&old).legacy_hash();
        let mut chain = Chain::default();
        assert_eq!(chain.check(&old), None);
        let new = row(2, &old.hash, "{}");
        assert_eq!(chain.check(&new), None);
        let mut late = row(3, &new.hash, "{}");
        late.hash = Link::of(&late).legacy_hash();
        assert!(chain.check(&late).unwrap().contains("modified"));
    }
}
