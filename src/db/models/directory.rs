//! The directory cache (`directory_users`, `directory_badges`), self-registered badges
//! (`badge_registrations`) and PINs (`user_pins`).

use diesel::prelude::*;

use crate::db::schema::{badge_registrations, directory_badges, directory_users, user_pins};
use crate::db::Conn;
use crate::directory::DirectoryUser;

/// A cached user and when the directory last described them.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedUser {
    pub user: DirectoryUser,
    pub fetched_at: i64,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = directory_users)]
struct UserRow {
    uid_key: String,
    uid: String,
    dn: String,
    display_name: String,
    mail: String,
    department: String,
    cost_centre: String,
    groups: String,
    badges: String,
    fetched_at: i64,
}

impl UserRow {
    fn into_cached(self) -> CachedUser {
        CachedUser {
            user: DirectoryUser {
                uid: self.uid,
                dn: self.dn,
                display_name: self.display_name,
                mail: self.mail,
                department: self.department,
                cost_centre: self.cost_centre,
                groups: serde_json::from_str(&self.groups).unwrap_or_default(),
                badges: serde_json::from_str(&self.badges).unwrap_or_default(),
            },
            fetched_at: self.fetched_at,
        }
    }
}

/// Replaces the cached copy of `user` and its normalised card numbers. Call inside a
/// transaction.
pub fn store_user(
    conn: &mut Conn,
    user: &DirectoryUser,
    canonical_badges: &[String],
    now: i64,
) -> QueryResult<()> {
    let key = user.key();
    forget_user(conn, &key)?;
    diesel::insert_into(directory_users::table)
        .values(UserRow {
            uid_key: key.clone(),
            uid: user.uid.clone(),
            dn: user.dn.clone(),
            display_name: user.display_name.clone(),
            mail: user.mail.clone(),
            department: user.department.clone(),
            cost_centre: user.cost_centre.clone(),
            groups: serde_json::to_string(&user.groups).unwrap_or_else(|_| "[]".into()),
            badges: serde_json::to_string(&user.badges).unwrap_or_else(|_| "[]".into()),
            fetched_at: now,
        })
        .execute(conn)?;
    let mut badges: Vec<&String> = canonical_badges.iter().collect();
    badges.sort();
    badges.dedup();
    for badge in badges {
        diesel::insert_into(directory_badges::table)
            .values((
                directory_badges::badge.eq(badge),
                directory_badges::uid_key.eq(&key),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Removes a user (gone from the directory) from the cache.
pub fn forget_user(conn: &mut Conn, key: &str) -> QueryResult<()> {
    diesel::delete(directory_badges::table.filter(directory_badges::uid_key.eq(key)))
        .execute(conn)?;
    diesel::delete(directory_users::table.filter(directory_users::uid_key.eq(key)))
        .execute(conn)?;
    Ok(())
}

/// The cached user with login key `key`.
pub fn cached_user(conn: &mut Conn, key: &str) -> QueryResult<Option<CachedUser>> {
    Ok(directory_users::table
        .find(key)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(UserRow::into_cached))
}

/// Cached users holding one of the normalised card numbers `badges`.
pub fn cached_by_badges(conn: &mut Conn, badges: &[String]) -> QueryResult<Vec<CachedUser>> {
    let keys: Vec<String> = directory_badges::table
        .filter(directory_badges::badge.eq_any(badges))
        .select(directory_badges::uid_key)
        .distinct()
        .load(conn)?;
    Ok(directory_users::table
        .filter(directory_users::uid_key.eq_any(keys))
        .select(UserRow::as_select())
        .load(conn)?
        .into_iter()
        .map(UserRow::into_cached)
        .collect())
}

/// Cached users by login name, at most `limit`.
pub fn list_cached(conn: &mut Conn, limit: i64) -> QueryResult<Vec<CachedUser>> {
    Ok(directory_users::table
        .order(directory_users::uid_key.asc())
        .limit(limit)
        .select(UserRow::as_select())
        .load(conn)?
        .into_iter()
        .map(UserRow::into_cached)
        .collect())
}

/// A card linked to a user in Folio.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = badge_registrations)]
pub struct RegistrationRow {
    pub id: i64,
    pub badge: String,
    pub uid: String,
    pub uid_key: String,
    pub created_at: i64,
    pub created_by: String,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
}

/// Links `badge` (normalised) to `uid`; returns the registration id. Fails on the unique index
/// when the card is already registered.
pub fn register(conn: &mut Conn, badge: &str, uid: &str, by: &str, now: i64) -> QueryResult<i64> {
    diesel::insert_into(badge_registrations::table)
        .values((
            badge_registrations::badge.eq(badge),
            badge_registrations::uid.eq(uid),
            badge_registrations::uid_key.eq(DirectoryUser::key_of(uid)),
            badge_registrations::created_at.eq(now),
            badge_registrations::created_by.eq(by),
        ))
        .execute(conn)?;
    badge_registrations::table
        .filter(badge_registrations::badge.eq(badge))
        .filter(badge_registrations::revoked_at.is_null())
        .select(badge_registrations::id)
        .first(conn)
}

/// Active registrations of any of `badges`.
pub fn active_for_badges(conn: &mut Conn, badges: &[String]) -> QueryResult<Vec<RegistrationRow>> {
    badge_registrations::table
        .filter(badge_registrations::badge.eq_any(badges))
        .filter(badge_registrations::revoked_at.is_null())
        .select(RegistrationRow::as_select())
        .load(conn)
}

/// Registrations (active and revoked), of one user when `key` is given, newest first.
pub fn list_registrations(
    conn: &mut Conn,
    key: Option<&str>,
    include_revoked: bool,
) -> QueryResult<Vec<RegistrationRow>> {
    let mut q = badge_registrations::table
        .select(RegistrationRow::as_select())
        .order(badge_registrations::id.desc())
        .into_boxed();
    if let Some(key) = key {
        q = q.filter(badge_registrations::uid_key.eq(key.to_owned()));
    }
    if !include_revoked {
        q = q.filter(badge_registrations::revoked_at.is_null());
    }
    q.load(conn)
}

/// One registration by id.
pub fn registration(conn: &mut Conn, id: i64) -> QueryResult<Option<RegistrationRow>> {
    badge_registrations::table
        .find(id)
        .select(RegistrationRow::as_select())
        .first(conn)
        .optional()
}

/// Revokes an active registration; false when there was none.
pub fn revoke(conn: &mut Conn, id: i64, by: &str, now: i64) -> QueryResult<bool> {
    let n = diesel::update(
        badge_registrations::table
            .find(id)
            .filter(badge_registrations::revoked_at.is_null()),
    )
    .set((
        badge_registrations::revoked_at.eq(now),
        badge_registrations::revoked_by.eq(by),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// The PIN hash of a user, if they set one.
pub fn pin_hash(conn: &mut Conn, key: &str) -> QueryResult<Option<String>> {
    user_pins::table
        .find(key)
        .select(user_pins::pin_hash)
        .first(conn)
        .optional()
}

/// Sets (or replaces) a user's PIN hash; `None` removes the PIN.
pub fn set_pin(conn: &mut Conn, key: &str, hash: Option<&str>, now: i64) -> QueryResult<()> {
    diesel::delete(user_pins::table.find(key)).execute(conn)?;
    if let Some(hash) = hash {
        diesel::insert_into(user_pins::table)
            .values((
                user_pins::uid_key.eq(key),
                user_pins::pin_hash.eq(hash),
                user_pins::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
