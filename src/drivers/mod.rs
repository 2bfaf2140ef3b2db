//! Copier model profiles as data (`drivers/*.toml`): how a family of devices is reached
//! (IPP, IPPS, raw socket 9100 with PJL, LPD), what it accepts and can do, how duplex and colour
//! are asked for, and its quirks. The shipped profiles are compiled in; a site adds or
//! overrides profiles in `drivers_dir`. Every profile is validated at start: an unknown key or a
//! bad value is refused with the file and the key named.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The profiles shipped with Folio (file name, text).
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "ipp-everywhere.toml",
        include_str!("../../drivers/ipp-everywhere.toml"),
    ),
    (
        "generic-pjl-pdf.toml",
        include_str!("../../drivers/generic-pjl-pdf.toml"),
    ),
    (
        "konica-minolta-bizhub.toml",
        include_str!("../../drivers/konica-minolta-bizhub.toml"),
    ),
    (
        "canon-imagerunner-advance.toml",
        include_str!("../../drivers/canon-imagerunner-advance.toml"),
    ),
    (
        "hp-laserjet-enterprise.toml",
        include_str!("../../drivers/hp-laserjet-enterprise.toml"),
    ),
    ("ricoh-im.toml", include_str!("../../drivers/ricoh-im.toml")),
    (
        "xerox-altalink.toml",
        include_str!("../../drivers/xerox-altalink.toml"),
    ),
    (
        "kyocera-taskalfa.toml",
        include_str!("../../drivers/kyocera-taskalfa.toml"),
    ),
];

/// How a device is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Ipp,
    Ipps,
    /// Raw TCP (port 9100) with a PJL header.
    Socket,
    Lpd,
}

impl Protocol {
    /// The URI scheme of the protocol.
    pub fn scheme(self) -> &'static str {
        match self {
            Protocol::Ipp => "ipp",
            Protocol::Ipps => "ipps",
            Protocol::Socket => "socket",
            Protocol::Lpd => "lpd",
        }
    }

    /// The protocol of a device URI (`ipp://…`, `socket://…`).
    pub fn of_uri(uri: &str) -> Option<Protocol> {
        uri.split_once("://")
            .and_then(|(scheme, _)| Protocol::of_scheme(scheme))
    }

    /// The port a URI of this protocol means when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Protocol::Ipp | Protocol::Ipps => 631,
            Protocol::Socket => 9100,
            Protocol::Lpd => 515,
        }
    }

    /// `host:port` of a device URI of this protocol (with its default port when none is
    /// given; IPv6 literals stay bracketed: `[fe80::1]:631`).
    pub fn address_of(self, uri: &str) -> String {
        let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let has_port = match authority.rsplit_once(':') {
            // `[v6]` alone has colons but no port; `[v6]:631` and `host:631` have one.
            Some((host, port)) => {
                !port.is_empty()
                    && port.chars().all(|c| c.is_ascii_digit())
                    && (!host.starts_with('[') || host.ends_with(']'))
            }
            None => false,
        };
        if has_port {
            authority.to_owned()
        } else {
            format!("{authority}:{}", self.default_port())
        }
    }

    /// The protocol of a device URI's scheme.
    pub fn of_scheme(scheme: &str) -> Option<Protocol> {
        match scheme.to_ascii_lowercase().as_str() {
            "ipp" => Some(Protocol::Ipp),
            "ipps" => Some(Protocol::Ipps),
            "socket" => Some(Protocol::Socket),
            "lpd" => Some(Protocol::Lpd),
            _ => None,
        }
    }
}

/// What a device can do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    pub color: bool,
    pub duplex: bool,
    #[serde(default)]
    pub stapling: bool,
    /// PWG media names (`iso_a4_210x297mm`).
    pub media: Vec<String>,
}

/// How the ticket is asked for over IPP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IppOptions {
    /// Use Create-Job + Send-Document instead of Print-Job.
    pub create_job: bool,
    /// Send `print-color-mode` (false for devices that reject it; colour is then refused).
    pub print_color_mode: bool,
    /// The `sides` keyword for duplex.
    pub duplex_sides: String,
}

impl Default for IppOptions {
    fn default() -> Self {
        IppOptions {
            create_job: false,
            print_color_mode: true,
            duplex_sides: "two-sided-long-edge".into(),
        }
    }
}

/// The PJL header sent before the document on raw socket and LPD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PjlOptions {
    /// `@PJL ENTER LANGUAGE=…` value (`PDF`).
    pub language: String,
    pub duplex_on: Vec<String>,
    pub duplex_off: Vec<String>,
    pub mono: Vec<String>,
    pub color: Vec<String>,
    /// With `{copies}` in place of the number.
    pub copies: String,
    /// Wrap the job in `@PJL JOB` / `@PJL EOJ` (needed for accounting on many copiers).
    #[serde(default = "yes")]
    pub job_wrapper: bool,
}

fn yes() -> bool {
    true
}

/// Device quirks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quirks {
    /// The device cannot take HTTP chunked uploads (send with a Content-Length).
    pub no_chunked_upload: bool,
    /// Largest job the device takes, in MB (0: no limit).
    pub max_job_mb: u64,
}

/// One copier model profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriverProfile {
    /// Shown to IT.
    pub name: String,
    /// Where the facts come from (vendor documentation).
    #[serde(default)]
    pub source: String,
    /// What IT should know (firmware quirks, what was not confirmed).
    #[serde(default)]
    pub notes: String,
    /// Ways to reach the device, preferred first.
    pub protocols: Vec<Protocol>,
    /// Document formats sent as is.
    pub formats: Vec<String>,
    pub capabilities: Capabilities,
    #[serde(default)]
    pub ipp: IppOptions,
    pub pjl: Option<PjlOptions>,
    #[serde(default)]
    pub quirks: Quirks,
}

const KNOWN_FORMATS: &[&str] = &[
    "application/pdf",
    "image/pwg-raster",
    "image/urf",
    "image/jpeg",
    "application/postscript",
];

impl DriverProfile {
    /// Parses and validates a profile; errors name the key.
    pub fn parse(text: &str) -> Result<DriverProfile, String> {
        let p: DriverProfile = toml::from_str(text).map_err(|e| e.to_string())?;
        if p.name.trim().is_empty() {
            return Err("`name` is empty".into());
        }
        if p.protocols.is_empty() {
            return Err("`protocols` needs at least one of ipp, ipps, socket, lpd".into());
        }
        if p.formats.is_empty() {
            return Err("`formats` needs at least one document format".into());
        }
        for f in &p.formats {
            if !KNOWN_FORMATS.contains(&f.as_str()) {
                return Err(format!("`formats`: unknown document format `{f}`"));
            }
        }
        if p.capabilities.media.is_empty() {
            return Err("`capabilities.media` needs at least one PWG media name".into());
        }
        let raw = p
            .protocols
            .iter()
            .any(|x| matches!(x, Protocol::Socket | Protocol::Lpd));
        match &p.pjl {
            None if raw => {
                return Err("`pjl` is required for the socket and lpd protocols".into());
            }
            Some(pjl) => {
                if !pjl.copies.contains("{copies}") {
                    return Err("`pjl.copies` must contain {copies}".into());
                }
                for line in pjl
                    .duplex_on
                    .iter()
                    .chain(&pjl.duplex_off)
                    .chain(&pjl.mono)
                    .chain(&pjl.color)
                    .chain(std::iter::once(&pjl.copies))
                {
                    if !line.starts_with("@PJL ") || line.contains(['\r', '\n', '\x1b']) {
                        return Err(format!("`pjl`: `{line}` is not one @PJL command line"));
                    }
                }
                if pjl.language.is_empty()
                    || !pjl.language.chars().all(|c| c.is_ascii_alphanumeric())
                {
                    return Err("`pjl.language` must be a PJL language name such as PDF".into());
                }
            }
            None => {}
        }
        if !matches!(
            p.ipp.duplex_sides.as_str(),
            "two-sided-long-edge" | "two-sided-short-edge"
        ) {
            return Err(
                "`ipp.duplex_sides` must be two-sided-long-edge or two-sided-short-edge".into(),
            );
        }
        Ok(p)
    }
}

/// Every known profile, by id (the file name without `.toml`).
#[derive(Debug, Clone, Default)]
pub struct Drivers {
    profiles: BTreeMap<String, DriverProfile>,
}

impl Drivers {
    /// The shipped profiles, then those of `dir` (which may override them by file name).
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Drivers> {
        let mut profiles = BTreeMap::new();
        for (file, text) in SHIPPED {
            let p = DriverProfile::parse(text)
                .map_err(|e| anyhow::anyhow!("driver profile {file} (shipped): {e}"))?;
            profiles.insert(id_of(file), p);
        }
        if let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| anyhow::anyhow!("drivers_dir {}: {e}", dir.display()))?;
            for entry in entries {
                let path = entry?.path();
                if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                    continue;
                }
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("driver profile {}: {e}", path.display()))?;
                let p = DriverProfile::parse(&text)
                    .map_err(|e| anyhow::anyhow!("driver profile {}: {e}", path.display()))?;
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                profiles.insert(id_of(name), p);
            }
        }
        Ok(Drivers { profiles })
    }

    /// The profile with id `id`.
    pub fn get(&self, id: &str) -> Option<&DriverProfile> {
        self.profiles.get(id)
    }

    /// Every profile id, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.profiles.keys().map(String::as_str)
    }
}

fn id_of(file: &str) -> String {
    file.trim_end_matches(".toml").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_profile_loads() {
        let d = Drivers::load(None).unwrap();
        assert_eq!(d.ids().count(), SHIPPED.len());
        for id in ["ipp-everywhere", "generic-pjl-pdf", "konica-minolta-bizhub"] {
            assert!(d.get(id).is_some(), "{id}");
        }
        for (file, _) in SHIPPED {
            let p = d.get(&id_of(file)).unwrap();
            assert!(
                !p.source.is_empty(),
                "{file} says where its facts come from"
            );
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_the_key_named() {
        let good = SHIPPED[1].1;
        let e = DriverProfile::parse(&format!("{good}\nduplx = true\n")).unwrap_err();
        assert!(e.contains("duplx"), "{e}");
        let e = DriverProfile::parse(&good.replace("protocols = [", "protocols = [\"fax\", "))
            .unwrap_err();
        assert!(e.contains("fax"), "{e}");
        let e = DriverProfile::parse(&good.replace("{copies}", "2")).unwrap_err();
        assert!(e.contains("pjl.copies"), "{e}");
    }

    #[test]
    fn device_uris_give_their_protocol_and_address() {
        assert_eq!(Protocol::of_uri("IPPS://h/ipp/print"), Some(Protocol::Ipps));
        assert_eq!(Protocol::of_uri("ftp://h"), None);
        assert_eq!(
            Protocol::Socket.address_of("socket://10.0.0.9"),
            "10.0.0.9:9100"
        );
        assert_eq!(
            Protocol::Socket.address_of("socket://10.0.0.9:9101/x"),
            "10.0.0.9:9101"
        );
        assert_eq!(Protocol::Lpd.address_of("lpd://h/queue"), "h:515");
        assert_eq!(
            Protocol::Ipps.address_of("ipps://10.1.2.3/ipp/print"),
            "10.1.2.3:631"
        );
        assert_eq!(
            Protocol::Ipps.address_of("ipps://copier.chu.fr:443/ipp/print"),
            "copier.chu.fr:443"
        );
        assert_eq!(
            Protocol::Ipp.address_of("ipp://[fe80::1]/ipp/print"),
            "[fe80::1]:631"
        );
        assert_eq!(
            Protocol::Ipp.address_of("ipp://[fe80::1]:8631/ipp/print"),
            "[fe80::1]:8631"
        );
    }

    #[test]
    fn a_site_directory_adds_and_overrides_profiles() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ward-printer.toml"), SHIPPED[0].1).unwrap();
        let d = Drivers::load(Some(dir.path())).unwrap();
        assert!(d.get("ward-printer").is_some());
        std::fs::write(dir.path().join("broken.toml"), "name = 1\n").unwrap();
        let e = Drivers::load(Some(dir.path())).unwrap_err().to_string();
        assert!(e.contains("broken.toml"), "{e}");
    }
}
