//! The `scan_documents` table: the documents a capture is split into, each on its way through
//! identify, classify, QC, seal and deliver.

use diesel::prelude::*;

use crate::db::schema::scan_documents;
use crate::db::Conn;

/// A document row.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = scan_documents)]
pub struct DocumentRow {
    pub id: i64,
    pub uuid: String,
    pub capture_id: i64,
    pub part: i32,
    pub pages: String,
    pub cover_page: Option<i32>,
    pub patient: Option<String>,
    pub encounter: Option<String>,
    pub category: Option<String>,
    pub identity: Option<String>,
    pub category_label: Option<String>,
    pub retention: Option<String>,
    pub stage: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub lease_node: Option<String>,
    pub lease_until: Option<i64>,
    pub quarantine_reason: Option<String>,
    pub quarantine_stage: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A new document.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = scan_documents)]
pub struct NewDocument {
    pub uuid: String,
    pub capture_id: i64,
    pub part: i32,
    pub pages: String,
    pub cover_page: Option<i32>,
    pub patient: Option<String>,
    pub encounter: Option<String>,
    pub category: Option<String>,
    pub stage: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub quarantine_reason: Option<String>,
    pub quarantine_stage: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub fn insert(conn: &mut Conn, row: &NewDocument) -> QueryResult<i64> {
    diesel::insert_into(scan_documents::table)
        .values(row)
        .execute(conn)?;
    scan_documents::table
        .filter(scan_documents::uuid.eq(&row.uuid))
        .select(scan_documents::id)
        .first(conn)
}

pub fn find(conn: &mut Conn, id: i64) -> QueryResult<Option<DocumentRow>> {
    scan_documents::table
        .find(id)
        .select(DocumentRow::as_select())
        .first(conn)
        .optional()
}

/// The documents of a capture, in page order.
pub fn of_capture(conn: &mut Conn, capture_id: i64) -> QueryResult<Vec<DocumentRow>> {
    scan_documents::table
        .filter(scan_documents::capture_id.eq(capture_id))
        .order(scan_documents::part.asc())
        .select(DocumentRow::as_select())
        .load(conn)
}

crate::pipeline_queries!(scan_documents, DocumentRow);

/// Records what the identity service said.
pub fn set_identity(conn: &mut Conn, id: i64, identity: &str) -> QueryResult<usize> {
    diesel::update(scan_documents::table.find(id))
        .set(scan_documents::identity.eq(identity))
        .execute(conn)
}

/// Records the category with its label and retention rule.
pub fn set_category(
    conn: &mut Conn,
    id: i64,
    code: &str,
    label: &str,
    retention: &str,
) -> QueryResult<usize> {
    diesel::update(scan_documents::table.find(id))
        .set((
            scan_documents::category.eq(code),
            scan_documents::category_label.eq(label),
            scan_documents::retention.eq(retention),
        ))
        .execute(conn)
}
