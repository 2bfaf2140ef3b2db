//! The `delegations` table. Owners and delegates (user names and group names) are stored
//! lower-cased: the directory compares them ignoring case.

use diesel::prelude::*;

use crate::db::schema::delegations;
use crate::db::Conn;

/// `delegate_kind` of a delegation to one user.
pub const TO_USER: i16 = 1;
/// `delegate_kind` of a delegation to a directory group.
pub const TO_GROUP: i16 = 2;

/// A delegation row.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq, serde::Serialize)]
#[diesel(table_name = delegations)]
pub struct DelegationRow {
    pub id: i64,
    pub owner_uid: String,
    pub delegate_kind: i16,
    pub delegate: String,
    pub until_at: Option<i64>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Records a delegation; returns its id.
pub fn insert(
    conn: &mut Conn,
    owner: &str,
    kind: i16,
    delegate: &str,
    until: Option<i64>,
    now: i64,
) -> QueryResult<i64> {
    diesel::insert_into(delegations::table)
        .values((
            delegations::owner_uid.eq(owner),
            delegations::delegate_kind.eq(kind),
            delegations::delegate.eq(delegate),
            delegations::until_at.eq(until),
            delegations::created_at.eq(now),
        ))
        .execute(conn)?;
    delegations::table
        .filter(delegations::owner_uid.eq(owner))
        .order(delegations::id.desc())
        .select(delegations::id)
        .first(conn)
}

/// Delegations given by `owner` (active ones unless `all`).
pub fn given_by(
    conn: &mut Conn,
    owner: &str,
    now: i64,
    all: bool,
) -> QueryResult<Vec<DelegationRow>> {
    let mut q = delegations::table
        .filter(delegations::owner_uid.eq(owner.to_owned()))
        .select(DelegationRow::as_select())
        .order(delegations::id.desc())
        .into_boxed();
    if !all {
        q = q.filter(delegations::revoked_at.is_null()).filter(
            delegations::until_at
                .is_null()
                .or(delegations::until_at.gt(now)),
        );
    }
    q.load(conn)
}

/// Active delegations to user `uid` or to any of `groups` (all lower-cased).
pub fn received_by(
    conn: &mut Conn,
    uid: &str,
    groups: &[String],
    now: i64,
) -> QueryResult<Vec<DelegationRow>> {
    delegations::table
        .filter(delegations::revoked_at.is_null())
        .filter(
            delegations::until_at
                .is_null()
                .or(delegations::until_at.gt(now)),
        )
        .filter(
            delegations::delegate_kind
                .eq(TO_USER)
                .and(delegations::delegate.eq(uid))
                .or(delegations::delegate_kind
                    .eq(TO_GROUP)
                    .and(delegations::delegate.eq_any(groups))),
        )
        .select(DelegationRow::as_select())
        .load(conn)
}

/// Revokes delegation `id` of `owner`; false when there was no such active delegation.
pub fn revoke(conn: &mut Conn, id: i64, owner: &str, now: i64) -> QueryResult<bool> {
    let n = diesel::update(
        delegations::table
            .find(id)
            .filter(delegations::owner_uid.eq(owner))
            .filter(delegations::revoked_at.is_null()),
    )
    .set(delegations::revoked_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}
