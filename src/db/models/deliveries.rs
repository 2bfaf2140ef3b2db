//! The `deliveries` table: one row per attempt to print a job at a device.

use diesel::prelude::*;

use crate::db::schema::deliveries;
use crate::db::Conn;

/// A delivery row.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub job_id: i64,
    pub device_id: i64,
    pub node: String,
    pub actor: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub outcome: Option<String>,
    pub impressions: Option<i32>,
}

/// A delivery starting.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = deliveries)]
pub struct NewDelivery {
    pub job_id: i64,
    pub device_id: i64,
    pub node: String,
    pub actor: String,
    pub started_at: i64,
}

pub fn insert(conn: &mut Conn, row: &NewDelivery) -> QueryResult<usize> {
    diesel::insert_into(deliveries::table)
        .values(row)
        .execute(conn)
}

/// Ends the open delivery of `job_id` (there is at most one: a job is released once at a time).
pub fn finish(
    conn: &mut Conn,
    job_id: i64,
    outcome: &str,
    impressions: Option<i32>,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(
        deliveries::table
            .filter(deliveries::job_id.eq(job_id))
            .filter(deliveries::ended_at.is_null()),
    )
    .set((
        deliveries::ended_at.eq(now),
        deliveries::outcome.eq(outcome),
        deliveries::impressions.eq(impressions),
    ))
    .execute(conn)
}

/// Deliveries `node` started and never ended.
pub fn open_of(conn: &mut Conn, node: &str) -> QueryResult<Vec<DeliveryRow>> {
    deliveries::table
        .filter(deliveries::node.eq(node))
        .filter(deliveries::ended_at.is_null())
        .select(DeliveryRow::as_select())
        .load(conn)
}

/// The deliveries of a job, oldest first.
pub fn of_job(conn: &mut Conn, job_id: i64) -> QueryResult<Vec<DeliveryRow>> {
    deliveries::table
        .filter(deliveries::job_id.eq(job_id))
        .order(deliveries::id.asc())
        .select(DeliveryRow::as_select())
        .load(conn)
}

/// Deliveries started before `cutoff` and never ended, whichever node started them.
pub fn open_before(conn: &mut Conn, cutoff: i64) -> QueryResult<Vec<DeliveryRow>> {
    deliveries::table
        .filter(deliveries::ended_at.is_null())
        .filter(deliveries::started_at.lt(cutoff))
        .select(DeliveryRow::as_select())
        .load(conn)
}

/// Device ids of the deliveries completed since `since` (ms), one per printed job.
pub fn completed_devices_since(conn: &mut Conn, since: i64) -> QueryResult<Vec<i64>> {
    deliveries::table
        .filter(deliveries::outcome.eq("completed"))
        .filter(deliveries::ended_at.ge(since))
        .select(deliveries::device_id)
        .load(conn)
}

/// Jobs ever sent to device `device_id`.
pub fn job_ids_at(conn: &mut Conn, device_id: i64) -> QueryResult<Vec<i64>> {
    deliveries::table
        .filter(deliveries::device_id.eq(device_id))
        .select(deliveries::job_id)
        .distinct()
        .load(conn)
}
