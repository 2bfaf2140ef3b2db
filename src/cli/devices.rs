//! `folio device …`: add, list, remove devices and rotate their tokens.

use std::sync::Arc;

use clap::Subcommand;
use serde_json::json;

use super::runtime;
use crate::config::Settings;
use crate::db::Db;
use crate::devices::{DeviceError, DeviceRegistry, Location, NewDevice};
use crate::drivers::Drivers;

/// `folio device …`
#[derive(Subcommand)]
pub enum DeviceCommand {
    /// Add a copier or printer; prints its id and its token (shown once).
    Add {
        #[arg(long)]
        name: String,
        /// ipp://HOST/ipp/print, ipps://…, socket://HOST:9100, lpd://HOST/QUEUE
        #[arg(long)]
        uri: String,
        /// A driver profile (`folio device drivers` lists them).
        #[arg(long)]
        driver: String,
        #[arg(long, default_value = "")]
        site: String,
        #[arg(long, default_value = "")]
        building: String,
        #[arg(long, default_value = "")]
        floor: String,
        /// The hospital service (ward) the device is in.
        #[arg(long, default_value = "")]
        service: String,
        /// ipps:// with a self-signed certificate: trust the certificate the device presents
        /// now, and only it (check the printed fingerprint against the copier's panel).
        #[arg(long, conflicts_with = "certificate_sha256")]
        pin_certificate: bool,
        /// ipps://: trust only the certificate with this SHA-256 fingerprint.
        #[arg(long)]
        certificate_sha256: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Pin a device's TLS certificate again (the copier got a new one), or unpin it.
    Pin {
        /// Id or name.
        device: String,
        /// The SHA-256 fingerprint to trust; without it, the certificate presented now.
        #[arg(long)]
        certificate_sha256: Option<String>,
        /// Remove the pin: the certificate must chain to a trusted CA again.
        #[arg(long, conflicts_with = "certificate_sha256")]
        remove: bool,
    },
    /// List devices in service.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Take a device out of service (its token stops working).
    Remove {
        /// Id or name.
        device: String,
    },
    /// Show or rotate a device's token.
    Token {
        /// Id or name.
        device: String,
        /// Replace the token; the old one stops working at once.
        #[arg(long, required = true)]
        rotate: bool,
        #[arg(long)]
        json: bool,
    },
    /// List the driver profiles.
    Drivers {
        #[arg(long)]
        json: bool,
    },
}

fn registry(s: &Settings) -> anyhow::Result<DeviceRegistry> {
    std::fs::create_dir_all(&s.data_dir)?;
    let db = Db::connect(&s.effective_database_url(), 2)?;
    let drivers = Drivers::load(Some(&s.drivers_dir))?;
    let tls = crate::output::tls::CopierTls::load(&s.release.copier_ca_file)?;
    let egress = s
        .devices
        .egress()
        .map_err(|e| anyhow::anyhow!("devices: {e}"))?;
    Ok(DeviceRegistry::new(db, Arc::new(drivers), tls, egress))
}

/// Runs a device command; returns the process exit code.
pub fn device(s: &Settings, command: &DeviceCommand) -> anyhow::Result<i32> {
    let reg = registry(s)?;
    runtime()?.block_on(async move {
        match command {
            DeviceCommand::Add {
                name,
                uri,
                driver,
                site,
                building,
                floor,
                service,
                pin_certificate,
                certificate_sha256,
                json,
            } => {
                let new = NewDevice {
                    name: name.clone(),
                    uri: uri.clone(),
                    driver: driver.clone(),
                    location: Location {
                        site: site.clone(),
                        building: building.clone(),
                        floor: floor.clone(),
                        service: service.clone(),
                    },
                    tls_pin: match (pin_certificate, certificate_sha256) {
                        (true, _) => Some("current".into()),
                        (false, pin) => pin.clone(),
                    },
                };
                match reg.add(new, "cli").await {
                    Ok((d, token)) => {
                        if *json {
                            println!("{}", json!({ "device": d, "token": token }));
                        } else {
                            println!(
                                "device {} added: {} ({}, {})",
                                d.id, d.name, d.uri, d.driver
                            );
                            if let Some(pin) = &d.tls_pin {
                                println!("TLS certificate pinned: SHA-256 {pin}");
                            }
                            println!("token (shown once; configure it on the device's terminal):");
                            println!("{token}");
                        }
                        Ok(0)
                    }
                    Err(e @ (DeviceError::Invalid(_) | DeviceError::NameTaken(_))) => {
                        eprintln!("{e}");
                        Ok(2)
                    }
                    Err(e) => Err(e.into()),
                }
            }
            DeviceCommand::List { json } => {
                let devices = reg.list().await?;
                if *json {
                    println!("{}", serde_json::to_string_pretty(&devices)?);
                } else {
                    println!(
                        "{:<5} {:<24} {:<28} {:<26} location",
                        "id", "name", "driver", "uri"
                    );
                    for d in &devices {
                        let l = &d.location;
                        println!(
                            "{:<5} {:<24} {:<28} {:<26} {}",
                            d.id,
                            d.name,
                            d.driver,
                            d.uri,
                            [&l.site, &l.building, &l.floor, &l.service]
                                .iter()
                                .filter(|x| !x.is_empty())
                                .map(|x| x.as_str())
                                .collect::<Vec<_>>()
                                .join(" / ")
                        );
                    }
                }
                Ok(0)
            }
            DeviceCommand::Pin {
                device,
                certificate_sha256,
                remove,
            } => {
                let wanted = match (remove, certificate_sha256) {
                    (true, _) => None,
                    (false, Some(pin)) => Some(pin.as_str()),
                    (false, None) => Some("current"),
                };
                match reg.set_pin(device, wanted, "cli").await {
                    Ok(d) => {
                        match &d.tls_pin {
                            Some(pin) => {
                                println!("{}: TLS certificate pinned: SHA-256 {pin}", d.name)
                            }
                            None => println!(
                                "{}: no pin; the certificate must chain to a trusted CA",
                                d.name
                            ),
                        }
                        Ok(0)
                    }
                    Err(DeviceError::NotFound) => {
                        eprintln!("no device {device}");
                        Ok(2)
                    }
                    Err(e @ DeviceError::Invalid(_)) => {
                        eprintln!("{e}");
                        Ok(2)
                    }
                    Err(e) => Err(e.into()),
                }
            }
            DeviceCommand::Remove { device } => match reg.remove(device, "cli").await {
                Ok(d) => {
                    println!("device {} ({}) removed", d.id, d.name);
                    Ok(0)
                }
                Err(DeviceError::NotFound) => {
                    eprintln!("no device {device}");
                    Ok(2)
                }
                Err(e) => Err(e.into()),
            },
            DeviceCommand::Token { device, json, .. } => {
                match reg.rotate_token(device, "cli").await {
                    Ok(token) => {
                        if *json {
                            println!("{}", json!({ "token": token }));
                        } else {
                            println!("new token (shown once; the old one no longer works):");
                            println!("{token}");
                        }
                        Ok(0)
                    }
                    Err(DeviceError::NotFound) => {
                        eprintln!("no device {device}");
                        Ok(2)
                    }
                    Err(e) => Err(e.into()),
                }
            }
            DeviceCommand::Drivers { json } => {
                let drivers = reg.drivers();
                if *json {
                    let all: serde_json::Map<String, serde_json::Value> = drivers
                        .ids()
                        .filter_map(|id| {
                            Some((id.to_owned(), serde_json::to_value(drivers.get(id)?).ok()?))
                        })
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&all)?);
                } else {
                    for id in drivers.ids() {
                        if let Some(p) = drivers.get(id) {
                            let protocols: Vec<&str> =
                                p.protocols.iter().map(|x| x.scheme()).collect();
                            println!("{id:<28} {:<32} {}", p.name, protocols.join(", "));
                        }
                    }
                }
                Ok(0)
            }
        }
    })
}
