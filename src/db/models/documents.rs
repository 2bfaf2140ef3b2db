//! The `documents` table: one encrypted spool file per row.

use diesel::prelude::*;

use crate::db::schema::{documents, jobs};
use crate::db::Conn;

/// A document row. `wrapped_key` is `None` once purged: the document cannot be read again.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = documents)]
pub struct DocumentRow {
    pub id: i64,
    pub job_id: i64,
    pub file_name: String,
    pub wrapped_key: Option<Vec<u8>>,
    pub format: i16,
    pub name: Option<String>,
    pub size_bytes: i64,
    pub sha256: String,
    pub pages: Option<i32>,
    pub created_at: i64,
    pub purged_at: Option<i64>,
    /// Whether the pages carry colour (`None`: could not be told).
    pub color_used: Option<bool>,
}

/// A new document.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = documents)]
pub struct NewDocument {
    pub job_id: i64,
    pub file_name: String,
    pub wrapped_key: Option<Vec<u8>>,
    pub format: i16,
    pub name: Option<String>,
    pub size_bytes: i64,
    pub sha256: String,
    pub pages: Option<i32>,
    pub created_at: i64,
    pub color_used: Option<bool>,
}

/// Inserts a document.
pub fn insert(conn: &mut Conn, doc: &NewDocument) -> QueryResult<usize> {
    diesel::insert_into(documents::table)
        .values(doc)
        .execute(conn)
}

/// The documents of a job, in submission order.
pub fn of_job(conn: &mut Conn, job_id: i64) -> QueryResult<Vec<DocumentRow>> {
    documents::table
        .filter(documents::job_id.eq(job_id))
        .order(documents::id.asc())
        .select(DocumentRow::as_select())
        .load(conn)
}

/// Number of documents of a job.
pub fn count_of_job(conn: &mut Conn, job_id: i64) -> QueryResult<i64> {
    documents::table
        .filter(documents::job_id.eq(job_id))
        .count()
        .get_result(conn)
}

/// Forgets the data key of every document of a job: from then on its file is unreadable
/// noise even if the file deletion did not happen.
pub fn purge_job(conn: &mut Conn, job_id: i64, now: i64) -> QueryResult<Vec<String>> {
    let files: Vec<String> = documents::table
        .filter(documents::job_id.eq(job_id))
        .filter(documents::purged_at.is_null())
        .select(documents::file_name)
        .load(conn)?;
    diesel::update(documents::table.filter(documents::job_id.eq(job_id)))
        .set((
            documents::wrapped_key.eq(None::<Vec<u8>>),
            documents::purged_at.eq(Some(now)),
        ))
        .execute(conn)?;
    Ok(files)
}

/// File names of documents that are not purged (start-up reconciliation with the spool).
pub fn live_file_names(conn: &mut Conn) -> QueryResult<Vec<String>> {
    documents::table
        .filter(documents::purged_at.is_null())
        .select(documents::file_name)
        .load(conn)
}

/// Every document that is not purged, in id order.
pub fn all_live(conn: &mut Conn) -> QueryResult<Vec<DocumentRow>> {
    documents::table
        .filter(documents::purged_at.is_null())
        .order(documents::id.asc())
        .select(DocumentRow::as_select())
        .load(conn)
}

/// How many documents are not purged.
pub fn count_live(conn: &mut Conn) -> QueryResult<i64> {
    documents::table
        .filter(documents::purged_at.is_null())
        .count()
        .get_result(conn)
}

/// A live document of a job that is not finished: (job id, file name, job state, job state
/// reason), for the start-up check that every such document still has its file.
pub fn live_of_open_jobs(conn: &mut Conn, open_states: &[i16]) -> QueryResult<Vec<OpenDocument>> {
    documents::table
        .inner_join(jobs::table)
        .filter(documents::purged_at.is_null())
        .filter(jobs::state.eq_any(open_states))
        .order(documents::id.asc())
        .select((
            documents::job_id,
            documents::file_name,
            jobs::state,
            jobs::state_reason,
        ))
        .load(conn)
}

/// One row of [`live_of_open_jobs`].
pub type OpenDocument = (i64, String, i16, i16);
