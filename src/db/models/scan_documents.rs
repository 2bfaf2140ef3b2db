//! The `scan_documents` table: the documents a capture is split into, each on its way through
//! identify, classify, QC, seal and deliver.

use diesel::prelude::*;

use crate::db::schema::{scan_documents, scan_seals};
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
    pub qc_lot: Option<String>,
    pub qc_sampled: i16,
    pub qc_decision: Option<String>,
    pub qc_reviewer: Option<String>,
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

/// A sealed document's rendition and time stamp.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq)]
#[diesel(table_name = scan_seals)]
pub struct SealRow {
    pub document_id: i64,
    pub rendition_file: String,
    pub rendition_key: Vec<u8>,
    pub rendition_sha256: String,
    pub rendition_size: i64,
    pub tsa_token: Vec<u8>,
    pub tsa_time: String,
    pub sealed_at: i64,
    pub delivered_at: Option<i64>,
}

/// Records a seal (again, if the stage ran twice: the last one counts).
pub fn set_seal(conn: &mut Conn, seal: &SealRow) -> QueryResult<usize> {
    diesel::delete(scan_seals::table.find(seal.document_id)).execute(conn)?;
    diesel::insert_into(scan_seals::table)
        .values(seal)
        .execute(conn)
}

pub fn seal_of(conn: &mut Conn, document_id: i64) -> QueryResult<Option<SealRow>> {
    scan_seals::table
        .find(document_id)
        .select(SealRow::as_select())
        .first(conn)
        .optional()
}

pub fn set_delivered(conn: &mut Conn, document_id: i64, at: i64) -> QueryResult<usize> {
    diesel::update(scan_seals::table.find(document_id))
        .set(scan_seals::delivered_at.eq(at))
        .execute(conn)
}

/// Every seal, from document id `after` (exclusive), at most `limit` (for verification).
pub fn seals_after(conn: &mut Conn, after: i64, limit: i64) -> QueryResult<Vec<SealRow>> {
    scan_seals::table
        .filter(scan_seals::document_id.gt(after))
        .order(scan_seals::document_id.asc())
        .limit(limit)
        .select(SealRow::as_select())
        .load(conn)
}

/// Names the patient (an operator's re-identification), sealed by the caller.
pub fn set_patient(
    conn: &mut Conn,
    id: i64,
    patient: &str,
    encounter: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(scan_documents::table.find(id))
        .set((
            scan_documents::patient.eq(patient),
            scan_documents::encounter.eq(encounter),
            scan_documents::identity.eq(None::<String>),
        ))
        .execute(conn)
}

/// Names the category code (an operator's classification); label and retention follow at the
/// classify stage.
pub fn set_category_code(conn: &mut Conn, id: i64, code: &str) -> QueryResult<usize> {
    diesel::update(scan_documents::table.find(id))
        .set(scan_documents::category.eq(code))
        .execute(conn)
}

/// Sampled documents still waiting for a reviewer, oldest first.
pub fn awaiting_review(conn: &mut Conn, limit: i64) -> QueryResult<Vec<DocumentRow>> {
    scan_documents::table
        .filter(scan_documents::stage.eq("qc"))
        .filter(scan_documents::qc_sampled.eq(1))
        .filter(scan_documents::qc_decision.is_null())
        .order(scan_documents::id.asc())
        .limit(limit)
        .select(DocumentRow::as_select())
        .load(conn)
}

/// Documents delivered since `since` (ms).
/// When documents were delivered, from `since` (ms).
pub fn delivery_times_since(conn: &mut Conn, since: i64) -> QueryResult<Vec<i64>> {
    scan_seals::table
        .filter(scan_seals::delivered_at.ge(since))
        .select(scan_seals::delivered_at.assume_not_null())
        .load(conn)
}

pub fn delivered_since(conn: &mut Conn, since: i64) -> QueryResult<i64> {
    scan_seals::table
        .filter(scan_seals::delivered_at.ge(since))
        .count()
        .get_result(conn)
}
