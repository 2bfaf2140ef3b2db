//! Devices: the copiers and printers jobs are released to, with their location, driver profile,
//! capabilities, and the token their terminal or card reader authenticates with. A token is
//! shown once, stored as a SHA-256 hash, and can be rotated. Every change is audited.

use std::sync::Arc;

use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit;
use crate::db::models::devices::{self as rows, DeviceRow, NewDeviceRow};
use crate::db::{self, Db, DbError};
use crate::drivers::{Capabilities, Drivers, Protocol};
use crate::output::egress::Egress;
use crate::output::tls::CopierTls;

mod edit;

/// Prefix of device tokens (recognisable in a leaked log or a config file).
pub const TOKEN_PREFIX: &str = "fdt_";

/// Where a device stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Location {
    pub site: String,
    pub building: String,
    pub floor: String,
    pub service: String,
}

/// A device in service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    pub id: i64,
    pub name: String,
    pub uri: String,
    pub driver: String,
    pub location: Location,
    pub capabilities: Capabilities,
    pub token_rotated_at: i64,
    pub created_at: i64,
    /// SHA-256 (hex) of the TLS certificate accepted from this device, when pinned.
    pub tls_pin: Option<String>,
}

impl Device {
    fn of(row: DeviceRow) -> Device {
        Device {
            capabilities: serde_json::from_str(&row.capabilities).unwrap_or(Capabilities {
                color: false,
                duplex: false,
                stapling: false,
                media: Vec::new(),
            }),
            id: row.id,
            name: row.name,
            uri: row.uri,
            driver: row.driver,
            location: Location {
                site: row.site,
                building: row.building,
                floor: row.floor,
                service: row.service,
            },
            token_rotated_at: row.token_rotated_at,
            created_at: row.created_at,
            tls_pin: row.tls_pin,
        }
    }
}

/// What IT gives to add a device.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    pub name: String,
    pub uri: String,
    pub driver: String,
    #[serde(default)]
    pub location: Location,
    /// Pin the device's TLS certificate: its SHA-256 (hex), or `current` for the one it
    /// presents now (check it against the copier's panel).
    #[serde(default)]
    pub tls_pin: Option<String>,
}

/// Why a device change was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("{0}")]
    Invalid(String),
    #[error("a device named {0} already exists")]
    NameTaken(String),
    #[error("no such device")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The devices, their tokens and the driver profiles they use (cheap to clone).
#[derive(Clone)]
pub struct DeviceRegistry {
    db: Db,
    drivers: Arc<Drivers>,
    tls: CopierTls,
    /// Where devices may be (see [`crate::output::egress`]).
    egress: Arc<Egress>,
}

/// `[devices]`: where copiers may be. Folio connects only to these networks and ports (a
/// device elsewhere is refused when added or changed, and every connection is checked).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DevicesSettings {
    /// Copier networks (CIDR). Loopback and link-local are never reached unless listed
    /// explicitly (an entry inside them).
    pub allowed_networks: Vec<String>,
    /// Ports and ranges (`"9100-9102"`).
    pub allowed_ports: Vec<String>,
}

impl Default for DevicesSettings {
    fn default() -> Self {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        DevicesSettings {
            allowed_networks: own(crate::output::egress::DEFAULT_NETWORKS),
            allowed_ports: own(crate::output::egress::DEFAULT_PORTS),
        }
    }
}

impl DevicesSettings {
    /// The allow-list, parsed; the error names the bad entry.
    pub fn egress(&self) -> Result<Egress, String> {
        Egress::parse(&self.allowed_networks, &self.allowed_ports)
    }
}

/// A new token and the hash stored for it.
fn new_token() -> (String, String) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    let hash = token_hash(&token);
    (token, hash)
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl DeviceRegistry {
    pub fn new(db: Db, drivers: Arc<Drivers>, tls: CopierTls, egress: Egress) -> DeviceRegistry {
        DeviceRegistry {
            db,
            drivers,
            tls,
            egress: Arc::new(egress),
        }
    }

    /// Where devices may be.
    pub fn egress(&self) -> Arc<Egress> {
        self.egress.clone()
    }

    /// Refuses a device URI whose address (every address its name resolves to) is not on an
    /// allowed copier network and port: checked before Folio connects to it at all.
    pub(crate) async fn check_destination(&self, uri: &str) -> Result<(), DeviceError> {
        let Some(protocol) = Protocol::of_uri(uri) else {
            return Ok(()); // validate() names the scheme.
        };
        let address = protocol.address_of(uri);
        let egress = self.egress.clone();
        tokio::task::spawn_blocking(move || egress.resolve(&address).map(|_| ()))
            .await
            .map_err(|e| DeviceError::Invalid(e.to_string()))?
            .map_err(|e| DeviceError::Invalid(format!("{}: {e}", uri.trim())))
    }

    /// The TLS configuration for talking to `device` (its pin, or the trusted roots).
    pub fn tls_for(&self, device: &Device) -> Arc<rustls::ClientConfig> {
        self.tls.client_config(device.tls_pin.as_deref())
    }

    /// The pin to store for `wanted` at `uri`: a SHA-256 as given, or `current`: the one the
    /// device presents now.
    async fn resolve_pin(&self, uri: &str, wanted: &str) -> Result<String, DeviceError> {
        if Protocol::of_uri(uri) != Some(Protocol::Ipps) {
            return Err(DeviceError::Invalid(
                "only ipps:// devices have a certificate to pin".into(),
            ));
        }
        if wanted.trim() != "current" {
            return crate::output::tls::normalize_pin(wanted).ok_or_else(|| {
                DeviceError::Invalid(format!(
                    "`{wanted}` is not a SHA-256 fingerprint (64 hex digits) or `current`"
                ))
            });
        }
        let (tls, address) = (self.tls.clone(), Protocol::Ipps.address_of(uri));
        let egress = self.egress.clone();
        tokio::task::spawn_blocking(move || {
            tls.fingerprint(&address, std::time::Duration::from_secs(5), &egress)
        })
        .await
        .map_err(|e| DeviceError::Invalid(e.to_string()))?
        .map_err(|e| DeviceError::Invalid(format!("cannot read the device's certificate: {e}")))
    }

    /// Pins (or, with `None`, unpins) the TLS certificate of device `id_or_name`; returns the
    /// device with its new pin.
    pub async fn set_pin(
        &self,
        id_or_name: &str,
        pin: Option<&str>,
        actor: &str,
    ) -> Result<Device, DeviceError> {
        let device = self.get(id_or_name).await?.ok_or(DeviceError::NotFound)?;
        let pin = match pin {
            Some(p) => Some(self.resolve_pin(&device.uri, p).await?),
            None => None,
        };
        let (id, actor, stored) = (device.id, actor.to_owned(), pin.clone());
        self.db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    rows::set_pin(conn, id, stored.as_deref(), db::now_ms())?;
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &actor,
                            action: "device.tls_pinned",
                            object: &format!("device:{id}"),
                            detail: serde_json::json!({ "sha256": stored }).to_string(),
                            ..Default::default()
                        },
                    )
                })
                .map_err(DbError::from)
            })
            .await?;
        Ok(Device {
            tls_pin: pin,
            ..device
        })
    }

    /// The driver profiles.
    pub fn drivers(&self) -> &Drivers {
        &self.drivers
    }

    /// Checks a new device: name, URI (scheme one of the profile's protocols, a host), profile.
    pub(crate) fn validate(&self, d: &NewDevice) -> Result<Capabilities, DeviceError> {
        let name = d.name.trim();
        if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Err(DeviceError::Invalid(
                "the name must be 1 to 100 printable characters".into(),
            ));
        }
        let profile = self.drivers.get(&d.driver).ok_or_else(|| {
            DeviceError::Invalid(format!(
                "unknown driver profile `{}` (known: {})",
                d.driver,
                self.drivers.ids().collect::<Vec<_>>().join(", ")
            ))
        })?;
        let (scheme, rest) = d.uri.split_once("://").ok_or_else(|| {
            DeviceError::Invalid(format!("`{}` is not a device URI (ipp://HOST/…)", d.uri))
        })?;
        let protocol = Protocol::of_scheme(scheme).ok_or_else(|| {
            DeviceError::Invalid(format!(
                "URI scheme `{scheme}` is not one of ipp, ipps, socket, lpd"
            ))
        })?;
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        if host.is_empty() || host.starts_with(':') || host.chars().any(|c| c.is_whitespace()) {
            return Err(DeviceError::Invalid(format!("`{}` has no host", d.uri)));
        }
        if !profile.protocols.contains(&protocol) {
            return Err(DeviceError::Invalid(format!(
                "the {} profile does not speak {} (it speaks {})",
                d.driver,
                protocol.scheme(),
                profile
                    .protocols
                    .iter()
                    .map(|p| p.scheme())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(profile.capabilities.clone())
    }

    /// What an IPP device says it can do, within its profile (a colour profile on a mono
    /// device is mono). Other devices, or one that does not answer: the profile's.
    pub(crate) async fn probe(
        &self,
        new: &NewDevice,
        pin: Option<&str>,
        profile_caps: Capabilities,
    ) -> Capabilities {
        let is_ipp = matches!(
            Protocol::of_uri(&new.uri),
            Some(Protocol::Ipp | Protocol::Ipps)
        );
        let Some(profile) = self.drivers.get(&new.driver).cloned() else {
            return profile_caps;
        };
        if !is_ipp {
            return profile_caps;
        }
        let uri = new.uri.trim().to_owned();
        let tls = self.tls.client_config(pin);
        let egress = self.egress.clone();
        let answer = tokio::task::spawn_blocking(move || {
            let limits = crate::output::Limits {
                connect: std::time::Duration::from_secs(3),
                io: std::time::Duration::from_secs(5),
                egress,
            };
            crate::output::ipp::IppDevice::new(&uri, &profile, limits, Some(tls)).capabilities()
        })
        .await
        .ok()
        .flatten();
        match answer {
            Some((color, duplex, media)) => Capabilities {
                color: profile_caps.color && color,
                duplex: profile_caps.duplex && duplex,
                stapling: profile_caps.stapling,
                media: if media.is_empty() {
                    profile_caps.media
                } else {
                    media
                },
            },
            None => {
                tracing::warn!(uri = %new.uri, "the device did not answer Get-Printer-Attributes: using its profile's capabilities");
                profile_caps
            }
        }
    }

    /// Adds a device; returns it and its token (shown once). An IPP device is asked what it
    /// can do.
    pub async fn add(&self, new: NewDevice, actor: &str) -> Result<(Device, String), DeviceError> {
        let capabilities = self.validate(&new)?;
        self.check_destination(&new.uri).await?;
        let pin = match &new.tls_pin {
            Some(p) => Some(self.resolve_pin(new.uri.trim(), p).await?),
            None => None,
        };
        let capabilities = self.probe(&new, pin.as_deref(), capabilities).await;
        let (token, hash) = new_token();
        let actor = actor.to_owned();
        let name = new.name.trim().to_owned();
        let id = self
            .db
            .run(move |conn| {
                let now = db::now_ms();
                let row = NewDeviceRow {
                    name: name.clone(),
                    uri: new.uri.trim().to_owned(),
                    driver: new.driver.clone(),
                    site: new.location.site.clone(),
                    building: new.location.building.clone(),
                    floor: new.location.floor.clone(),
                    service: new.location.service.clone(),
                    capabilities: serde_json::to_string(&capabilities).unwrap_or_default(),
                    token_hash: hash,
                    token_rotated_at: now,
                    created_at: now,
                    updated_at: now,
                    tls_pin: pin,
                };
                let result = db::write_tx(conn, |conn| {
                    let id = rows::insert(conn, &row)?;
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &actor,
                            action: "device.added",
                            object: &format!("device:{id}"),
                            device: Some(&row.name),
                            detail: serde_json::json!({
                                "name": row.name, "uri": row.uri, "driver": row.driver,
                                "tls_pin": row.tls_pin,
                            })
                            .to_string(),
                            ..Default::default()
                        },
                    )?;
                    Ok::<_, diesel::result::Error>(id)
                });
                match result {
                    Ok(id) => Ok(id),
                    Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    )) => Err(DeviceError::NameTaken(name)),
                    Err(e) => Err(DeviceError::Db(e.into())),
                }
            })
            .await?;
        let device = self
            .get(&id.to_string())
            .await?
            .ok_or(DeviceError::NotFound)?;
        Ok((device, token))
    }

    /// Devices in service.
    pub async fn list(&self) -> Result<Vec<Device>, DbError> {
        self.db
            .run(|c| Ok::<_, DbError>(rows::list(c)?.into_iter().map(Device::of).collect()))
            .await
    }

    /// A device in service by id or name.
    pub async fn get(&self, id_or_name: &str) -> Result<Option<Device>, DbError> {
        let key = id_or_name.trim().to_owned();
        self.db
            .run(move |c| {
                let row = match key.parse::<i64>() {
                    Ok(id) => rows::by_id(c, id)?,
                    Err(_) => rows::by_name(c, &key)?,
                };
                Ok::<_, DbError>(row.map(Device::of))
            })
            .await
    }

    /// The device a token belongs to.
    pub async fn by_token(&self, token: &str) -> Result<Option<Device>, DbError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let hash = token_hash(token);
        self.db
            .run(move |c| Ok::<_, DbError>(rows::by_token_hash(c, &hash)?.map(Device::of)))
            .await
    }

    /// Replaces a device's token; returns the new one (shown once). The old one stops working.
    pub async fn rotate_token(&self, id_or_name: &str, actor: &str) -> Result<String, DeviceError> {
        let device = self.get(id_or_name).await?.ok_or(DeviceError::NotFound)?;
        let (token, hash) = new_token();
        let actor = actor.to_owned();
        let done = self
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    if !rows::set_token_hash(conn, device.id, &hash, db::now_ms())? {
                        return Ok(false);
                    }
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &actor,
                            action: "device.token_rotated",
                            object: &format!("device:{}", device.id),
                            device: Some(&device.name),
                            detail: serde_json::json!({ "name": device.name }).to_string(),
                            ..Default::default()
                        },
                    )?;
                    Ok::<_, diesel::result::Error>(true)
                })
                .map_err(DbError::from)
            })
            .await?;
        if done {
            Ok(token)
        } else {
            Err(DeviceError::NotFound)
        }
    }

    /// Takes a device out of service; its token stops working.
    pub async fn remove(&self, id_or_name: &str, actor: &str) -> Result<Device, DeviceError> {
        let device = self.get(id_or_name).await?.ok_or(DeviceError::NotFound)?;
        let actor = actor.to_owned();
        let d = device.clone();
        let done = self
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    if !rows::remove(conn, d.id, db::now_ms())? {
                        return Ok(false);
                    }
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &actor,
                            action: "device.removed",
                            object: &format!("device:{}", d.id),
                            device: Some(&d.name),
                            detail: serde_json::json!({ "name": d.name }).to_string(),
                            ..Default::default()
                        },
                    )?;
                    Ok::<_, diesel::result::Error>(true)
                })
                .map_err(DbError::from)
            })
            .await?;
        if done {
            Ok(device)
        } else {
            Err(DeviceError::NotFound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_stored_hashed() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() > 40);
        assert_eq!(ha, token_hash(&a));
        assert!(!ha.contains(&a[TOKEN_PREFIX.len()..]));
    }
}
