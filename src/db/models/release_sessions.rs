//! The `release_sessions` table.

use diesel::prelude::*;

use crate::db::schema::release_sessions;
use crate::db::Conn;

/// A badge session row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq)]
#[diesel(table_name = release_sessions)]
pub struct SessionRow {
    pub id: String,
    pub uid: String,
    pub device_id: i64,
    pub degraded: i16,
    pub created_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
}

pub fn insert(conn: &mut Conn, row: &SessionRow) -> QueryResult<usize> {
    diesel::insert_into(release_sessions::table)
        .values(row)
        .execute(conn)
}

/// The open session `id` of device `device_id` (not ended, not expired at `now`).
pub fn open(
    conn: &mut Conn,
    id: &str,
    device_id: i64,
    now: i64,
) -> QueryResult<Option<SessionRow>> {
    release_sessions::table
        .find(id)
        .filter(release_sessions::device_id.eq(device_id))
        .filter(release_sessions::ended_at.is_null())
        .filter(release_sessions::expires_at.gt(now))
        .select(SessionRow::as_select())
        .first(conn)
        .optional()
}

/// Pushes the idle expiry of session `id` to `expires_at`.
pub fn touch(conn: &mut Conn, id: &str, expires_at: i64) -> QueryResult<usize> {
    diesel::update(release_sessions::table.find(id))
        .set(release_sessions::expires_at.eq(expires_at))
        .execute(conn)
}

/// Ends session `id`; false when it was already ended.
pub fn end(conn: &mut Conn, id: &str, now: i64) -> QueryResult<bool> {
    let n = diesel::update(
        release_sessions::table
            .find(id)
            .filter(release_sessions::ended_at.is_null()),
    )
    .set(release_sessions::ended_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}
