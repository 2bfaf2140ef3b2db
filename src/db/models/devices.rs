//! The `devices` table.

use diesel::prelude::*;

use crate::db::schema::devices;
use crate::db::Conn;

/// A device row.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = devices)]
pub struct DeviceRow {
    pub id: i64,
    pub name: String,
    pub uri: String,
    pub driver: String,
    pub site: String,
    pub building: String,
    pub floor: String,
    pub service: String,
    pub capabilities: String,
    pub token_hash: String,
    pub token_rotated_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub removed_at: Option<i64>,
    pub tls_pin: Option<String>,
}

/// A new device.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = devices)]
pub struct NewDeviceRow {
    pub name: String,
    pub uri: String,
    pub driver: String,
    pub site: String,
    pub building: String,
    pub floor: String,
    pub service: String,
    pub capabilities: String,
    pub token_hash: String,
    pub token_rotated_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub tls_pin: Option<String>,
}

/// Inserts a device; returns its id (looked up by its unique token hash).
pub fn insert(conn: &mut Conn, row: &NewDeviceRow) -> QueryResult<i64> {
    diesel::insert_into(devices::table)
        .values(row)
        .execute(conn)?;
    devices::table
        .filter(devices::token_hash.eq(&row.token_hash))
        .select(devices::id)
        .first(conn)
}

/// Devices in service, by name.
pub fn list(conn: &mut Conn) -> QueryResult<Vec<DeviceRow>> {
    devices::table
        .filter(devices::removed_at.is_null())
        .order(devices::name.asc())
        .select(DeviceRow::as_select())
        .load(conn)
}

/// A device in service by id.
pub fn by_id(conn: &mut Conn, id: i64) -> QueryResult<Option<DeviceRow>> {
    devices::table
        .find(id)
        .filter(devices::removed_at.is_null())
        .select(DeviceRow::as_select())
        .first(conn)
        .optional()
}

/// A device in service by name.
pub fn by_name(conn: &mut Conn, name: &str) -> QueryResult<Option<DeviceRow>> {
    devices::table
        .filter(devices::name.eq(name))
        .filter(devices::removed_at.is_null())
        .select(DeviceRow::as_select())
        .first(conn)
        .optional()
}

/// The device in service whose token hashes to `hash`.
pub fn by_token_hash(conn: &mut Conn, hash: &str) -> QueryResult<Option<DeviceRow>> {
    devices::table
        .filter(devices::token_hash.eq(hash))
        .filter(devices::removed_at.is_null())
        .select(DeviceRow::as_select())
        .first(conn)
        .optional()
}

/// Replaces the token hash of device `id`; false when it is not in service.
pub fn set_token_hash(conn: &mut Conn, id: i64, hash: &str, now: i64) -> QueryResult<bool> {
    let n = diesel::update(
        devices::table
            .find(id)
            .filter(devices::removed_at.is_null()),
    )
    .set((
        devices::token_hash.eq(hash),
        devices::token_rotated_at.eq(now),
        devices::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// What an edit of a device changes.
pub struct DeviceChange<'a> {
    pub name: &'a str,
    pub uri: &'a str,
    pub driver: &'a str,
    pub site: &'a str,
    pub building: &'a str,
    pub floor: &'a str,
    pub service: &'a str,
    pub capabilities: &'a str,
}

/// Edits device `id`; false when it is not in service.
pub fn update(conn: &mut Conn, id: i64, c: &DeviceChange<'_>, now: i64) -> QueryResult<bool> {
    let n = diesel::update(
        devices::table
            .find(id)
            .filter(devices::removed_at.is_null()),
    )
    .set((
        devices::name.eq(c.name),
        devices::uri.eq(c.uri),
        devices::driver.eq(c.driver),
        devices::site.eq(c.site),
        devices::building.eq(c.building),
        devices::floor.eq(c.floor),
        devices::service.eq(c.service),
        devices::capabilities.eq(c.capabilities),
        devices::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Takes device `id` out of service (its token stops working); false when it was not in service.
pub fn remove(conn: &mut Conn, id: i64, now: i64) -> QueryResult<bool> {
    let n = diesel::update(
        devices::table
            .find(id)
            .filter(devices::removed_at.is_null()),
    )
    .set((devices::removed_at.eq(now), devices::updated_at.eq(now)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Sets (or clears) the TLS pin of device `id`.
pub fn set_pin(conn: &mut Conn, id: i64, pin: Option<&str>, now: i64) -> QueryResult<usize> {
    diesel::update(devices::table.find(id))
        .set((devices::tls_pin.eq(pin), devices::updated_at.eq(now)))
        .execute(conn)
}

/// A device by id, removed or not (history).
pub fn by_id_any(conn: &mut Conn, id: i64) -> QueryResult<Option<DeviceRow>> {
    devices::table
        .find(id)
        .select(DeviceRow::as_select())
        .first(conn)
        .optional()
}
