//! The `quotas` and `page_usage` tables.

use diesel::prelude::*;

use crate::db::schema::{page_usage, quotas};
use crate::db::Conn;

/// A monthly budget.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = quotas)]
pub struct QuotaRow {
    pub id: i64,
    /// `user` or `department`.
    pub scope: String,
    pub name: String,
    pub color: i16,
    pub monthly_pages: i32,
    pub hard: i16,
    pub created_at: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = quotas)]
pub struct NewQuota {
    pub scope: String,
    pub name: String,
    pub color: i16,
    pub monthly_pages: i32,
    pub hard: i16,
    pub created_at: i64,
    pub created_by: String,
}

/// Pages printed by one job.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = page_usage)]
pub struct NewUsage {
    pub month: String,
    pub uid: String,
    pub department: String,
    pub color: i16,
    pub pages: i32,
    pub job_id: i64,
    pub at: i64,
}

pub fn all(conn: &mut Conn) -> QueryResult<Vec<QuotaRow>> {
    quotas::table
        .order((quotas::scope.asc(), quotas::name.asc(), quotas::color.asc()))
        .select(QuotaRow::as_select())
        .load(conn)
}

/// Inserts or replaces the budget of (scope, name, colour); its id.
pub fn upsert(conn: &mut Conn, row: &NewQuota) -> QueryResult<i64> {
    diesel::delete(
        quotas::table
            .filter(quotas::scope.eq(&row.scope))
            .filter(quotas::name.eq(&row.name))
            .filter(quotas::color.eq(row.color)),
    )
    .execute(conn)?;
    diesel::insert_into(quotas::table)
        .values(row)
        .execute(conn)?;
    quotas::table
        .filter(quotas::scope.eq(&row.scope))
        .filter(quotas::name.eq(&row.name))
        .filter(quotas::color.eq(row.color))
        .select(quotas::id)
        .first(conn)
}

pub fn delete(conn: &mut Conn, id: i64) -> QueryResult<usize> {
    diesel::delete(quotas::table.find(id)).execute(conn)
}

/// Budgets that apply to a user of `department` (names compared as stored, lowercase).
pub fn applying(
    conn: &mut Conn,
    uid_key: &str,
    department_key: &str,
) -> QueryResult<Vec<QuotaRow>> {
    quotas::table
        .filter(
            quotas::scope
                .eq("user")
                .and(quotas::name.eq(uid_key))
                .or(quotas::scope
                    .eq("department")
                    .and(quotas::name.eq(department_key))),
        )
        .select(QuotaRow::as_select())
        .load(conn)
}

pub fn record(conn: &mut Conn, usage: &NewUsage) -> QueryResult<usize> {
    diesel::insert_into(page_usage::table)
        .values(usage)
        .execute(conn)
}

/// Pages of `month` (colour or not) by a user.
pub fn used_by_user(conn: &mut Conn, month: &str, uid_key: &str, color: i16) -> QueryResult<i64> {
    use diesel::dsl::sum;
    let total: Option<i64> = page_usage::table
        .filter(page_usage::month.eq(month))
        .filter(page_usage::uid.eq(uid_key))
        .filter(page_usage::color.eq(color))
        .select(sum(page_usage::pages))
        .first(conn)?;
    Ok(total.unwrap_or(0))
}

/// Pages of `month` (colour or not) by a department.
pub fn used_by_department(
    conn: &mut Conn,
    month: &str,
    department_key: &str,
    color: i16,
) -> QueryResult<i64> {
    use diesel::dsl::sum;
    let total: Option<i64> = page_usage::table
        .filter(page_usage::month.eq(month))
        .filter(page_usage::department.eq(department_key))
        .filter(page_usage::color.eq(color))
        .select(sum(page_usage::pages))
        .first(conn)?;
    Ok(total.unwrap_or(0))
}

/// A usage row as reports read it: (at, uid, department, colour, pages).
pub type UsageRow = (i64, String, String, i16, i32);

/// Usage rows since `since` (ms).
pub fn usage_since(conn: &mut Conn, since: i64, limit: i64) -> QueryResult<Vec<UsageRow>> {
    page_usage::table
        .filter(page_usage::at.ge(since))
        .order(page_usage::id.desc())
        .limit(limit)
        .select((
            page_usage::at,
            page_usage::uid,
            page_usage::department,
            page_usage::color,
            page_usage::pages,
        ))
        .load(conn)
}
