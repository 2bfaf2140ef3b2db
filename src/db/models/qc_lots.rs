//! The `qc_lots` table and the QC columns of `scan_documents`: lots per copier and day, a
//! sample drawn with a recorded seed, reviewers' decisions.

use diesel::prelude::*;

use crate::db::schema::{qc_lots, scan_documents};
use crate::db::Conn;

/// A lot.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = qc_lots)]
pub struct LotRow {
    pub lot: String,
    pub state: String,
    pub seed: Option<i64>,
    pub size: Option<i32>,
    pub sample: Option<i32>,
    pub last_added_at: i64,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
}

pub fn find(conn: &mut Conn, lot: &str) -> QueryResult<Option<LotRow>> {
    qc_lots::table
        .find(lot)
        .select(LotRow::as_select())
        .first(conn)
        .optional()
}

/// Puts document `id` in the open lot of `base` (`device|day`, then `device|day#2`… once a
/// lot is closed), opening one if needed; returns the lot's name.
pub fn join(conn: &mut Conn, id: i64, base: &str, now: i64) -> QueryResult<String> {
    let mut n = 1;
    let lot = loop {
        let name = if n == 1 {
            base.to_owned()
        } else {
            format!("{base}#{n}")
        };
        match find(conn, &name)? {
            Some(l) if l.state == "open" => break name,
            Some(_) => n += 1,
            None => {
                diesel::insert_into(qc_lots::table)
                    .values((
                        qc_lots::lot.eq(&name),
                        qc_lots::state.eq("open"),
                        qc_lots::last_added_at.eq(now),
                    ))
                    .execute(conn)?;
                break name;
            }
        }
    };
    diesel::update(qc_lots::table.find(&lot))
        .set(qc_lots::last_added_at.eq(now))
        .execute(conn)?;
    diesel::update(scan_documents::table.find(id))
        .set(scan_documents::qc_lot.eq(&lot))
        .execute(conn)?;
    Ok(lot)
}

/// The documents of a lot, by id.
pub fn members(conn: &mut Conn, lot: &str) -> QueryResult<Vec<(i64, i16, Option<String>)>> {
    scan_documents::table
        .filter(scan_documents::qc_lot.eq(lot))
        .order(scan_documents::id.asc())
        .select((
            scan_documents::id,
            scan_documents::qc_sampled,
            scan_documents::qc_decision,
        ))
        .load(conn)
}

/// Closes an open lot with its sample: `sampled` documents marked, the seed recorded.
pub fn close(
    conn: &mut Conn,
    lot: &str,
    seed: i64,
    size: i32,
    sampled: &[i64],
) -> QueryResult<bool> {
    let n = diesel::update(qc_lots::table.find(lot).filter(qc_lots::state.eq("open")))
        .set((
            qc_lots::state.eq(if sampled.is_empty() {
                "passed"
            } else {
                "review"
            }),
            qc_lots::seed.eq(seed),
            qc_lots::size.eq(size),
            qc_lots::sample.eq(sampled.len() as i32),
        ))
        .execute(conn)?;
    if n == 1 {
        diesel::update(scan_documents::table.filter(scan_documents::id.eq_any(sampled)))
            .set(scan_documents::qc_sampled.eq(1))
            .execute(conn)?;
    }
    Ok(n == 1)
}

/// Ends a lot's review.
pub fn decide(conn: &mut Conn, lot: &str, passed: bool, by: &str, now: i64) -> QueryResult<bool> {
    let n = diesel::update(qc_lots::table.find(lot).filter(qc_lots::state.eq("review")))
        .set((
            qc_lots::state.eq(if passed { "passed" } else { "failed" }),
            qc_lots::decided_at.eq(now),
            qc_lots::decided_by.eq(by),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// A reviewer's decision on a sampled document.
pub fn review(conn: &mut Conn, id: i64, decision: &str, reviewer: &str) -> QueryResult<bool> {
    let n = diesel::update(
        scan_documents::table
            .find(id)
            .filter(scan_documents::qc_sampled.eq(1)),
    )
    .set((
        scan_documents::qc_decision.eq(decision),
        scan_documents::qc_reviewer.eq(reviewer),
    ))
    .execute(conn)?;
    Ok(n == 1)
}
