//! The `audit_events` table: append-only, each row chained to the previous by its hash.

use diesel::prelude::*;

use crate::db::schema::audit_events;
use crate::db::Conn;

/// An audit event row.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = audit_events)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
    pub seq: i64,
    pub device: String,
    pub outcome: String,
}

/// A new audit event.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewAuditEvent {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
    pub seq: i64,
    pub device: String,
    pub outcome: String,
}

/// Sequence number and hash of the newest event, if any.
pub fn last(conn: &mut Conn) -> QueryResult<Option<(i64, String)>> {
    audit_events::table
        .order(audit_events::seq.desc())
        .select((audit_events::seq, audit_events::hash))
        .first(conn)
        .optional()
}

/// Appends an event.
pub fn insert(conn: &mut Conn, event: &NewAuditEvent) -> QueryResult<usize> {
    diesel::insert_into(audit_events::table)
        .values(event)
        .execute(conn)
}

/// Events in order, from sequence number `after` (exclusive), at most `limit`.
pub fn list_after(conn: &mut Conn, after: i64, limit: i64) -> QueryResult<Vec<AuditRow>> {
    audit_events::table
        .filter(audit_events::seq.gt(after))
        .order(audit_events::seq.asc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}

/// The events about any of `objects` (`scan:7`, `scan-document:12`), in order.
pub fn about(conn: &mut Conn, objects: &[String], limit: i64) -> QueryResult<Vec<AuditRow>> {
    audit_events::table
        .filter(audit_events::object.eq_any(objects))
        .order(audit_events::seq.asc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}

/// What the audit page asks for.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Exactly this actor.
    pub actor: Option<String>,
    /// Actions starting with this (`job.`, `policy.rule_created`).
    pub action_prefix: Option<String>,
    /// From this time (ms), inclusive.
    pub from: Option<i64>,
    /// Before this time (ms).
    pub until: Option<i64>,
    /// Older than this event id (paging).
    pub before_id: Option<i64>,
}

/// Events matching `q`, newest first, at most `limit`.
pub fn search(conn: &mut Conn, q: &AuditQuery, limit: i64) -> QueryResult<Vec<AuditRow>> {
    let mut query = audit_events::table.into_boxed();
    if let Some(a) = &q.actor {
        query = query.filter(audit_events::actor.eq(a.clone()));
    }
    if let Some(p) = &q.action_prefix {
        // LIKE with the prefix's own wildcards escaped.
        let escaped = p
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query = query.filter(
            audit_events::action
                .like(format!("{escaped}%"))
                .escape('\\'),
        );
    }
    if let Some(f) = q.from {
        query = query.filter(audit_events::at.ge(f));
    }
    if let Some(u) = q.until {
        query = query.filter(audit_events::at.lt(u));
    }
    if let Some(b) = q.before_id {
        query = query.filter(audit_events::id.lt(b));
    }
    query
        .order(audit_events::id.desc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}

/// How far the forwarder `name` has sent the trail (0: nothing yet).
pub fn cursor(conn: &mut Conn, name: &str) -> QueryResult<i64> {
    use crate::db::schema::audit_cursors;
    audit_cursors::table
        .find(name)
        .select(audit_cursors::seq)
        .first(conn)
        .optional()
        .map(|s| s.unwrap_or(0))
}

/// Moves the forwarder `name` from `from` to `to`; false when another node moved it first.
pub fn advance_cursor(conn: &mut Conn, name: &str, from: i64, to: i64) -> QueryResult<bool> {
    use crate::db::schema::audit_cursors;
    let exists = audit_cursors::table
        .find(name)
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if from == 0 && !exists {
        use diesel::result::{DatabaseErrorKind, Error};
        return match diesel::insert_into(audit_cursors::table)
            .values((audit_cursors::name.eq(name), audit_cursors::seq.eq(to)))
            .execute(conn)
        {
            Ok(_) => Ok(true),
            // Another node made the cursor first.
            Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
            Err(e) => Err(e),
        };
    }
    let moved = diesel::update(
        audit_cursors::table
            .filter(audit_cursors::name.eq(name))
            .filter(audit_cursors::seq.eq(from)),
    )
    .set(audit_cursors::seq.eq(to))
    .execute(conn)?;
    Ok(moved == 1)
}
