//! Where Folio may connect to print: the copier networks and ports IT allows
//! (`[devices] allowed_networks`, `allowed_ports`). A device whose address resolves outside is
//! refused when it is added or changed, and every connection is checked again when it is made
//! (so a row from before, or a name that now resolves elsewhere, is covered), redirects
//! included: a document never leaves for a host IT did not list. Loopback, link-local,
//! unspecified, multicast and broadcast addresses are refused even inside a broad allowed
//! network (`0.0.0.0/0` does not open `127.0.0.1` or `169.254.169.254`); only an allowed entry
//! lying wholly within such a range opens it (a test bench on loopback).

use std::net::{SocketAddr, ToSocketAddrs};
use std::ops::RangeInclusive;
use std::sync::Arc;

/// The allowed destinations.
#[derive(Debug, Clone, PartialEq)]
pub struct Egress {
    networks: Vec<ipnet::IpNet>,
    ports: Vec<RangeInclusive<u16>>,
}

/// The copier networks allowed by default: the private ranges hospitals number their
/// printers in.
pub const DEFAULT_NETWORKS: &[&str] =
    &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];
/// The ports allowed by default: HTTP and HTTPS (IPP on port 80/443), LPD, IPP, raw printing.
pub const DEFAULT_PORTS: &[&str] = &["80", "443", "515", "631", "8443", "9100-9102"];

/// Address ranges never reached unless an allowed entry lies wholly inside one of them.
fn special() -> [ipnet::IpNet; 9] {
    [
        "127.0.0.0/8",
        "::1/128",
        "169.254.0.0/16",
        "fe80::/10",
        "0.0.0.0/8",
        "::/128",
        "224.0.0.0/4",
        "ff00::/8",
        "255.255.255.255/32",
    ]
    .map(|n| n.parse().expect("constant networks parse"))
}

impl Default for Egress {
    fn default() -> Self {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Egress::parse(&own(DEFAULT_NETWORKS), &own(DEFAULT_PORTS))
            .expect("the default destinations parse")
    }
}

impl Egress {
    /// From the settings' lists (CIDR networks, ports and `low-high` ranges).
    pub fn parse(networks: &[String], ports: &[String]) -> Result<Egress, String> {
        let networks = crate::config::parse_networks(networks)?;
        let ports = ports
            .iter()
            .map(|p| {
                let p = p.trim();
                let bad = || format!("`{p}` is not a port or a range of ports (9100-9102)");
                match p.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (a.trim().parse::<u16>(), b.trim().parse::<u16>());
                        match (a, b) {
                            (Ok(a), Ok(b)) if a <= b && a > 0 => Ok(a..=b),
                            _ => Err(bad()),
                        }
                    }
                    None => p
                        .parse::<u16>()
                        .ok()
                        .filter(|p| *p > 0)
                        .map(|p| p..=p)
                        .ok_or_else(bad),
                }
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Egress { networks, ports })
    }

    /// Whether Folio may connect to `address`.
    pub fn allows(&self, address: SocketAddr) -> bool {
        let ip = address.ip().to_canonical();
        let port = address.port();
        if !self.ports.iter().any(|r| r.contains(&port)) {
            return false;
        }
        let special = special();
        let in_special = special.iter().find(|s| s.contains(&ip));
        self.networks.iter().any(|n| {
            n.contains(&ip)
                && match in_special {
                    // Only an entry that is itself inside the special range opens it.
                    Some(s) => s.contains(&n.network()) && s.prefix_len() <= n.prefix_len(),
                    None => true,
                }
        })
    }

    /// The addresses of `host:port` Folio may connect to; an error naming the settings when
    /// there is none (a name that resolves anywhere outside is refused whole).
    pub fn resolve(&self, netloc: &str) -> std::io::Result<Vec<SocketAddr>> {
        let addresses: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
        if addresses.is_empty() {
            return Err(std::io::Error::other(format!("{netloc} does not resolve")));
        }
        if let Some(refused) = addresses.iter().find(|a| !self.allows(**a)) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{refused} is not on a copier network and port Folio may reach \
                     (devices.allowed_networks, devices.allowed_ports)"
                ),
            ));
        }
        Ok(addresses)
    }

    /// `resolve`, first address.
    pub fn connect_address(&self, netloc: &str) -> std::io::Result<SocketAddr> {
        self.resolve(netloc).map(|a| a[0])
    }

    /// `resolve` for ureq's connections (IPP, IPPS).
    pub fn resolver(self: &Arc<Self>) -> EgressResolver {
        EgressResolver(self.clone())
    }
}

/// ureq's resolver with the allow-list applied to every connection it makes.
pub struct EgressResolver(Arc<Egress>);

impl ureq::Resolver for EgressResolver {
    fn resolve(&self, netloc: &str) -> std::io::Result<Vec<SocketAddr>> {
        self.0.resolve(netloc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn egress(nets: &[&str], ports: &[&str]) -> Egress {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Egress::parse(&own(nets), &own(ports)).unwrap()
    }

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn copier_networks_and_ports_are_allowed_and_nothing_else() {
        let e = Egress::default();
        assert!(e.allows(at("10.1.2.3:631")));
        assert!(e.allows(at("192.168.4.5:9101")));
        assert!(!e.allows(at("10.1.2.3:22")), "not a printing port");
        assert!(!e.allows(at("203.0.113.5:631")), "not a copier network");
        assert!(!e.allows(at("127.0.0.1:631")));
        assert!(!e.allows(at("[::ffff:127.0.0.1]:631")), "mapped loopback");
    }

    #[test]
    fn a_broad_network_never_opens_loopback_or_link_local() {
        let e = egress(&["0.0.0.0/0", "::/0"], &["1-65535"]);
        assert!(e.allows(at("198.51.100.7:9100")));
        assert!(!e.allows(at("127.0.0.1:9100")));
        assert!(!e.allows(at("169.254.169.254:80")));
        assert!(!e.allows(at("[fe80::1]:631")));
        assert!(!e.allows(at("0.0.0.0:631")));
        let bench = egress(&["127.0.0.0/8"], &["1-65535"]);
        assert!(bench.allows(at("127.0.0.1:40000")), "explicitly listed");
    }

    #[test]
    fn bad_settings_are_named() {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(Egress::parse(&own(&["10.0.0.0/33"]), &own(&["631"]))
            .unwrap_err()
            .contains("10.0.0.0/33"));
        assert!(Egress::parse(&own(&["10.0.0.0/8"]), &own(&["9102-9100"]))
            .unwrap_err()
            .contains("9102-9100"));
        let e = egress(&["10.0.0.0/8"], &["631"]);
        assert!(e
            .resolve("127.0.0.1:631")
            .unwrap_err()
            .to_string()
            .contains("allowed_networks"));
        assert_eq!(e.resolve("10.9.8.7:631").unwrap(), vec![at("10.9.8.7:631")]);
    }
}
