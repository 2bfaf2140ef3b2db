//! Editing a device in service: name, address, driver profile and location (its token and TLS
//! pin stay). An IPP device is asked again what it can do.

use super::{DeviceError, DeviceRegistry, NewDevice};
use crate::audit;
use crate::db::models::devices::{self as rows, DeviceChange};
use crate::db::{self, DbError};

impl DeviceRegistry {
    /// Replaces what `change` gives of device `id`; the device as it is now.
    pub async fn update(
        &self,
        id: i64,
        change: NewDevice,
        actor: &str,
    ) -> Result<super::Device, DeviceError> {
        let before = self
            .get(&id.to_string())
            .await?
            .ok_or(DeviceError::NotFound)?;
        let capabilities = self.validate(&change)?;
        self.check_destination(&change.uri).await?;
        let capabilities = self
            .probe(&change, before.tls_pin.as_deref(), capabilities)
            .await;
        let actor = actor.to_owned();
        let name = change.name.trim().to_owned();
        let caps = serde_json::to_string(&capabilities).unwrap_or_default();
        let done = self
            .db
            .run(move |conn| {
                let l = &change.location;
                let row = DeviceChange {
                    name: &name,
                    uri: change.uri.trim(),
                    driver: &change.driver,
                    site: &l.site,
                    building: &l.building,
                    floor: &l.floor,
                    service: &l.service,
                    capabilities: &caps,
                };
                let result = db::write_tx(conn, |conn| {
                    if !rows::update(conn, id, &row, db::now_ms())? {
                        return Ok(false);
                    }
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &actor,
                            action: "device.updated",
                            object: &format!("device:{id}"),
                            detail: serde_json::json!({
                                "before": { "name": before.name, "uri": before.uri, "driver": before.driver },
                                "name": row.name, "uri": row.uri, "driver": row.driver,
                                "site": row.site, "building": row.building, "floor": row.floor,
                                "service": row.service,
                            })
                            .to_string(),
                            ..Default::default()
                        },
                    )?;
                    Ok::<_, diesel::result::Error>(true)
                });
                match result {
                    Ok(done) => Ok(done),
                    Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    )) => Err(DeviceError::NameTaken(name.clone())),
                    Err(e) => Err(DeviceError::Db(DbError::from(e))),
                }
            })
            .await?;
        if !done {
            return Err(DeviceError::NotFound);
        }
        self.get(&id.to_string())
            .await?
            .ok_or(DeviceError::NotFound)
    }
}
