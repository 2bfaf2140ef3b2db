//! The `policy_rules` table.

use diesel::prelude::*;

use crate::db::schema::policy_rules;
use crate::db::Conn;

/// A rule row (conditions and actions as JSON).
#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = policy_rules)]
pub struct RuleRow {
    pub id: i64,
    pub position: i32,
    pub name: String,
    pub enabled: i16,
    pub conditions: String,
    pub actions: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub updated_by: String,
}

/// A new rule.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = policy_rules)]
pub struct NewRule {
    pub position: i32,
    pub name: String,
    pub enabled: i16,
    pub conditions: String,
    pub actions: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub updated_by: String,
}

/// Every rule, in order.
pub fn all(conn: &mut Conn) -> QueryResult<Vec<RuleRow>> {
    policy_rules::table
        .order((policy_rules::position.asc(), policy_rules::id.asc()))
        .select(RuleRow::as_select())
        .load(conn)
}

/// Inserts a rule; returns its id (the newest row).
pub fn insert(conn: &mut Conn, row: &NewRule) -> QueryResult<i64> {
    diesel::insert_into(policy_rules::table)
        .values(row)
        .execute(conn)?;
    policy_rules::table
        .select(policy_rules::id)
        .order(policy_rules::id.desc())
        .first(conn)
}

/// New name, state, conditions and actions of a rule.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = policy_rules)]
pub struct RuleChange<'a> {
    pub name: &'a str,
    pub enabled: i16,
    pub conditions: &'a str,
    pub actions: &'a str,
    pub updated_by: &'a str,
    pub updated_at: i64,
}

/// Replaces a rule's name, state, conditions and actions; the rows changed.
pub fn update(conn: &mut Conn, id: i64, change: &RuleChange<'_>) -> QueryResult<usize> {
    diesel::update(policy_rules::table.find(id))
        .set(change)
        .execute(conn)
}

/// Sets a rule's position.
pub fn set_position(conn: &mut Conn, id: i64, position: i32) -> QueryResult<usize> {
    diesel::update(policy_rules::table.find(id))
        .set(policy_rules::position.eq(position))
        .execute(conn)
}

pub fn delete(conn: &mut Conn, id: i64) -> QueryResult<usize> {
    diesel::delete(policy_rules::table.find(id)).execute(conn)
}
