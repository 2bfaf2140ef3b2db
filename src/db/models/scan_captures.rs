//! The `scan_captures` table: one row per scan received, its encrypted master and its place in
//! the archive pipeline.

use diesel::prelude::*;

use crate::db::schema::{release_sessions, scan_captures};
use crate::db::Conn;

/// A capture row.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = scan_captures)]
pub struct CaptureRow {
    pub id: i64,
    pub uuid: String,
    pub channel: String,
    pub device_id: Option<i64>,
    pub device_name: String,
    pub received_at: i64,
    pub file_name: String,
    pub master_file: String,
    pub wrapped_key: Vec<u8>,
    pub size_bytes: i64,
    pub sha256: String,
    pub duplicate_of: Option<i64>,
    pub sidecar: Option<String>,
    pub uid: Option<String>,
    pub attribution_method: String,
    pub attribution_strength: String,
    pub attributes: String,
    pub format: Option<String>,
    pub pages: Option<i32>,
    pub stage: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub lease_node: Option<String>,
    pub lease_until: Option<i64>,
    pub quarantine_reason: Option<String>,
    pub quarantine_stage: Option<String>,
    pub updated_at: i64,
}

/// A new capture.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = scan_captures)]
pub struct NewCapture {
    pub uuid: String,
    pub channel: String,
    pub device_id: Option<i64>,
    pub device_name: String,
    pub received_at: i64,
    pub file_name: String,
    pub master_file: String,
    pub wrapped_key: Vec<u8>,
    pub size_bytes: i64,
    pub sha256: String,
    pub duplicate_of: Option<i64>,
    pub sidecar: Option<String>,
    pub uid: Option<String>,
    pub attribution_method: String,
    pub attribution_strength: String,
    pub attributes: String,
    pub stage: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub quarantine_reason: Option<String>,
    pub quarantine_stage: Option<String>,
    pub updated_at: i64,
}

pub fn insert(conn: &mut Conn, row: &NewCapture) -> QueryResult<i64> {
    diesel::insert_into(scan_captures::table)
        .values(row)
        .execute(conn)?;
    scan_captures::table
        .filter(scan_captures::uuid.eq(&row.uuid))
        .select(scan_captures::id)
        .first(conn)
}

pub fn find(conn: &mut Conn, id: i64) -> QueryResult<Option<CaptureRow>> {
    scan_captures::table
        .find(id)
        .select(CaptureRow::as_select())
        .first(conn)
        .optional()
}

/// When scans arrived, from `since` (ms).
pub fn received_since(conn: &mut Conn, since: i64) -> QueryResult<Vec<i64>> {
    scan_captures::table
        .filter(scan_captures::received_at.ge(since))
        .select(scan_captures::received_at)
        .load(conn)
}

/// The first capture with these bytes, if any.
pub fn first_with_hash(conn: &mut Conn, sha256: &str) -> QueryResult<Option<i64>> {
    scan_captures::table
        .filter(scan_captures::sha256.eq(sha256))
        .filter(scan_captures::duplicate_of.is_null())
        .order(scan_captures::id.asc())
        .select(scan_captures::id)
        .first(conn)
        .optional()
}

crate::pipeline_queries!(scan_captures, CaptureRow);

/// Records what validation measured.
pub fn set_format(conn: &mut Conn, id: i64, format: &str, pages: i32) -> QueryResult<usize> {
    diesel::update(scan_captures::table.find(id))
        .set((
            scan_captures::format.eq(format),
            scan_captures::pages.eq(pages),
        ))
        .execute(conn)
}

/// Sets who scanned (an operator's re-attribution).
pub fn set_attribution(
    conn: &mut Conn,
    id: i64,
    uid: &str,
    method: &str,
    strength: &str,
    attributes: &str,
) -> QueryResult<usize> {
    diesel::update(scan_captures::table.find(id))
        .set((
            scan_captures::uid.eq(uid),
            scan_captures::attribution_method.eq(method),
            scan_captures::attribution_strength.eq(strength),
            scan_captures::attributes.eq(attributes),
        ))
        .execute(conn)
}

/// Users with a badge session at `device_id` that was open at some time in
/// `[from, until]`, newest session first: (uid, created_at, ended or expired at).
pub fn sessions_around(
    conn: &mut Conn,
    device_id: i64,
    from: i64,
    until: i64,
) -> QueryResult<Vec<(String, i64, i64)>> {
    let rows: Vec<(String, i64, i64, Option<i64>)> = release_sessions::table
        .filter(release_sessions::device_id.eq(device_id))
        .filter(release_sessions::created_at.le(until))
        .filter(release_sessions::expires_at.ge(from))
        .order(release_sessions::created_at.desc())
        .select((
            release_sessions::uid,
            release_sessions::created_at,
            release_sessions::expires_at,
            release_sessions::ended_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(uid, created, expires, ended)| (uid, created, ended.unwrap_or(expires).min(expires)))
        .filter(|(_, _, end)| *end >= from)
        .collect())
}

/// Captures from id `after` (exclusive), at most `limit`, in id order.
pub fn after(conn: &mut Conn, after: i64, limit: i64) -> QueryResult<Vec<CaptureRow>> {
    scan_captures::table
        .filter(scan_captures::id.gt(after))
        .order(scan_captures::id.asc())
        .limit(limit)
        .select(CaptureRow::as_select())
        .load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(stage: &str, due: i64) -> NewCapture {
        NewCapture {
            uuid: uuid::Uuid::new_v4().to_string(),
            channel: "http".into(),
            device_id: None,
            device_name: String::new(),
            received_at: 0,
            file_name: String::new(),
            master_file: String::new(),
            wrapped_key: Vec::new(),
            size_bytes: 1,
            sha256: String::new(),
            duplicate_of: None,
            sidecar: None,
            uid: None,
            attribution_method: "none".into(),
            attribution_strength: "none".into(),
            attributes: "{}".into(),
            stage: stage.into(),
            attempts: 0,
            next_attempt_at: due,
            quarantine_reason: None,
            quarantine_stage: None,
            updated_at: 0,
        }
    }

    /// A worker that read a row as a candidate must not take it once another worker moved it
    /// on: not to quarantine or done, not before a retry is due.
    #[test]
    fn a_row_is_taken_only_at_its_stage_when_due_and_free() {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("t.db").display().to_string();
        let db = crate::db::Db::connect(&url, 1).unwrap();
        let mut conn = db.get().unwrap();
        let stages = ["validate", "split"];
        let ready = insert(&mut conn, &capture("validate", 0)).unwrap();
        let held = insert(&mut conn, &capture("quarantined", 0)).unwrap();
        let later = insert(&mut conn, &capture("validate", 5_000)).unwrap();
        assert!(take(&mut conn, held, &stages, "a", 1_000, 2_000)
            .unwrap()
            .is_none());
        assert!(take(&mut conn, later, &stages, "a", 1_000, 2_000)
            .unwrap()
            .is_none());
        let got = take(&mut conn, ready, &stages, "a", 1_000, 2_000).unwrap();
        assert_eq!(got.unwrap().lease_node.as_deref(), Some("a"));
        assert!(
            take(&mut conn, ready, &stages, "b", 1_500, 2_500)
                .unwrap()
                .is_none(),
            "leased to a"
        );
        // Its lease ran out: another worker takes it over.
        assert!(take(&mut conn, ready, &stages, "b", 2_001, 3_000)
            .unwrap()
            .is_some());
    }
}
