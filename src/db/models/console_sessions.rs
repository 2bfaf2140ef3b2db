//! The `console_sessions` table.

use diesel::prelude::*;

use crate::db::schema::console_sessions;
use crate::db::Conn;

/// A console session row (`id` is the SHA-256 of the cookie's token).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq)]
#[diesel(table_name = console_sessions)]
pub struct ConsoleSessionRow {
    pub id: String,
    pub uid: String,
    /// JSON list of role names.
    pub roles: String,
    pub csrf: String,
    pub address: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ended_at: Option<i64>,
}

pub fn insert(conn: &mut Conn, row: &ConsoleSessionRow) -> QueryResult<usize> {
    diesel::insert_into(console_sessions::table)
        .values(row)
        .execute(conn)
}

/// The session `id` if it is still open: not ended, seen after `idle_since`, created after
/// `created_since`.
pub fn open(
    conn: &mut Conn,
    id: &str,
    idle_since: i64,
    created_since: i64,
) -> QueryResult<Option<ConsoleSessionRow>> {
    console_sessions::table
        .find(id)
        .filter(console_sessions::ended_at.is_null())
        .filter(console_sessions::last_seen_at.gt(idle_since))
        .filter(console_sessions::created_at.gt(created_since))
        .select(ConsoleSessionRow::as_select())
        .first(conn)
        .optional()
}

pub fn touch(conn: &mut Conn, id: &str, now: i64) -> QueryResult<usize> {
    diesel::update(console_sessions::table.find(id))
        .set(console_sessions::last_seen_at.eq(now))
        .execute(conn)
}

pub fn end(conn: &mut Conn, id: &str, now: i64) -> QueryResult<usize> {
    diesel::update(console_sessions::table.find(id))
        .set(console_sessions::ended_at.eq(now))
        .execute(conn)
}
