//! The `jobs` table.

use diesel::prelude::*;

use crate::db::schema::jobs;
use crate::db::Conn;

/// A job row.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = jobs)]
pub struct JobRow {
    pub id: i64,
    pub uuid: String,
    pub owner: String,
    pub name: String,
    pub state: i16,
    pub state_reason: i16,
    pub state_message: Option<String>,
    pub originating_host: Option<String>,
    pub requested_sides: Option<i16>,
    pub requested_color_mode: Option<i16>,
    pub sides: i16,
    pub color_mode: i16,
    pub copies: i32,
    pub media: Option<String>,
    pub impressions: Option<i32>,
    pub created_at: i64,
    pub processing_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub expires_at: i64,
}

/// A new job.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = jobs)]
pub struct NewJob {
    pub uuid: String,
    pub owner: String,
    pub name: String,
    pub state: i16,
    pub state_reason: i16,
    pub originating_host: Option<String>,
    pub requested_sides: Option<i16>,
    pub requested_color_mode: Option<i16>,
    pub sides: i16,
    pub color_mode: i16,
    pub copies: i32,
    pub media: Option<String>,
    pub impressions: Option<i32>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Inserts a job and returns its id (looked up by uuid: portable across both backends).
pub fn insert(conn: &mut Conn, job: &NewJob) -> QueryResult<i64> {
    diesel::insert_into(jobs::table).values(job).execute(conn)?;
    jobs::table
        .filter(jobs::uuid.eq(&job.uuid))
        .select(jobs::id)
        .first(conn)
}

/// One job by id.
pub fn find(conn: &mut Conn, id: i64) -> QueryResult<Option<JobRow>> {
    jobs::table
        .find(id)
        .select(JobRow::as_select())
        .first(conn)
        .optional()
}

/// Which jobs a listing wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Not yet terminal.
    NotCompleted,
    /// Terminal (canceled, aborted, completed).
    Completed,
    /// Every job.
    All,
}

/// Jobs by `which`, optionally of one owner, newest first for terminal listings and oldest
/// first otherwise (as IPP's Get-Jobs does), at most `limit`.
pub fn list(
    conn: &mut Conn,
    which: Which,
    owner: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<JobRow>> {
    let terminal = [7i16, 8, 9];
    let mut query = jobs::table.select(JobRow::as_select()).into_boxed();
    if let Some(owner) = owner {
        query = query.filter(jobs::owner.eq(owner.to_owned()));
    }
    query = match which {
        Which::NotCompleted => query
            .filter(jobs::state.ne_all(terminal))
            .order(jobs::id.asc()),
        Which::Completed => query
            .filter(jobs::state.eq_any(terminal))
            .order(jobs::id.desc()),
        Which::All => query.order(jobs::id.asc()),
    };
    query.limit(limit).load(conn)
}

/// Non-terminal jobs of `owner` (for Cancel-My-Jobs).
pub fn active_ids_of(conn: &mut Conn, owner: &str) -> QueryResult<Vec<i64>> {
    jobs::table
        .filter(jobs::owner.eq(owner))
        .filter(jobs::state.ne_all([7i16, 8, 9]))
        .select(jobs::id)
        .order(jobs::id.asc())
        .load(conn)
}

/// Ids of held or incoming jobs whose hold has expired at `now`, at most `limit`.
pub fn expired_ids(conn: &mut Conn, now: i64, limit: i64) -> QueryResult<Vec<i64>> {
    jobs::table
        // Held, pending, and awaiting the owner's decision: none may stay forever.
        .filter(jobs::state.eq_any([3i16, 4, 6]))
        .filter(jobs::expires_at.le(now))
        .select(jobs::id)
        .order(jobs::id.asc())
        .limit(limit)
        .load(conn)
}

/// Writes a new state, reason and message (and `completed_at` for terminal states) if the job
/// is still in state `from`; returns the rows changed (0: someone else changed it first).
pub fn set_state(
    conn: &mut Conn,
    id: i64,
    from: i16,
    state: i16,
    reason: i16,
    message: Option<&str>,
    completed_at: Option<i64>,
) -> QueryResult<usize> {
    diesel::update(jobs::table.find(id).filter(jobs::state.eq(from)))
        .set((
            jobs::state.eq(state),
            jobs::state_reason.eq(reason),
            jobs::state_message.eq(message),
            jobs::completed_at.eq(completed_at),
        ))
        .execute(conn)
}

/// Locks the job's row until the end of the transaction (PostgreSQL: a row lock taken by a
/// no-op update; SQLite: the write transaction already excludes other writers), so that a
/// read-check-write sequence on the job cannot interleave with another one.
pub fn lock(conn: &mut Conn, id: i64) -> QueryResult<usize> {
    diesel::update(jobs::table.find(id))
        .set(jobs::state.eq(jobs::state))
        .execute(conn)
}

/// The id of the job with `uuid`, if it exists.
pub fn id_by_uuid(conn: &mut Conn, uuid: &str) -> QueryResult<Option<i64>> {
    jobs::table
        .filter(jobs::uuid.eq(uuid))
        .select(jobs::id)
        .first(conn)
        .optional()
}

/// Records the page count once known (after Send-Document).
pub fn set_impressions(conn: &mut Conn, id: i64, impressions: Option<i32>) -> QueryResult<usize> {
    diesel::update(jobs::table.find(id))
        .set(jobs::impressions.eq(impressions))
        .execute(conn)
}

/// Replaces the ticket (IT's rules decided again once the document of a Create-Job arrived).
pub fn set_ticket(
    conn: &mut Conn,
    id: i64,
    sides: i16,
    color_mode: i16,
    copies: i32,
) -> QueryResult<usize> {
    diesel::update(jobs::table.find(id))
        .set((
            jobs::sides.eq(sides),
            jobs::color_mode.eq(color_mode),
            jobs::copies.eq(copies),
        ))
        .execute(conn)
}

/// Says why a held job is still held (shown to its owner at the copier).
pub fn set_held_message(conn: &mut Conn, id: i64, message: &str) -> QueryResult<usize> {
    diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::state.eq(crate::domain::JobState::PendingHeld.code())),
    )
    .set(jobs::state_message.eq(message))
    .execute(conn)
}

/// How many jobs are in `state`.
pub fn count_in_state(conn: &mut Conn, state: i16) -> QueryResult<i64> {
    jobs::table
        .filter(jobs::state.eq(state))
        .count()
        .get_result(conn)
}

/// How many jobs are not finished (IPP "queued-job-count").
pub fn count_not_completed(conn: &mut Conn) -> QueryResult<i64> {
    jobs::table
        .filter(jobs::state.ne_all([7i16, 8, 9]))
        .count()
        .get_result(conn)
}

/// Ids of jobs still waiting for their document (Create-Job without Send-Document) since
/// before `cutoff`, at most `limit`.
pub fn stale_incoming_ids(conn: &mut Conn, cutoff: i64, limit: i64) -> QueryResult<Vec<i64>> {
    jobs::table
        .filter(jobs::state.eq(4i16))
        .filter(jobs::state_reason.eq(crate::domain::JobStateReason::JobIncoming.code()))
        .filter(jobs::created_at.le(cutoff))
        .select(jobs::id)
        .order(jobs::id.asc())
        .limit(limit)
        .load(conn)
}

/// Jobs completed (printed) since `since` (ms).
pub fn completed_since(conn: &mut Conn, since: i64) -> QueryResult<i64> {
    jobs::table
        .filter(jobs::state.eq(9i16))
        .filter(jobs::completed_at.ge(since))
        .count()
        .get_result(conn)
}

/// Jobs that ended (completed, canceled, aborted) since `since` (ms), at most `limit`.
pub fn finished_since(conn: &mut Conn, since: i64, limit: i64) -> QueryResult<Vec<JobRow>> {
    jobs::table
        .filter(jobs::state.eq_any([7i16, 8, 9]))
        .filter(jobs::completed_at.ge(since))
        .order(jobs::id.desc())
        .limit(limit)
        .select(JobRow::as_select())
        .load(conn)
}

/// Pages × copies of `owner`'s jobs being printed now (colour or not): counted against budgets
/// before their usage is recorded.
pub fn in_flight_pages(conn: &mut Conn, owner: &str, color: bool) -> QueryResult<i64> {
    let rows: Vec<(Option<i32>, i32, i16)> = jobs::table
        .filter(jobs::owner.eq(owner))
        .filter(jobs::state.eq(5i16))
        .select((jobs::impressions, jobs::copies, jobs::color_mode))
        .load(conn)?;
    let color_code = crate::domain::ColorMode::Color.code();
    Ok(rows
        .into_iter()
        .filter(|(_, _, mode)| (*mode == color_code) == color)
        .map(|(pages, copies, _)| i64::from(pages.unwrap_or(1).max(1)) * i64::from(copies.max(1)))
        .sum())
}
