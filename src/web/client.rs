//! The client's address, as every channel's limits and trust decisions need it: the TCP peer,
//! unless that peer is one of `limits.trusted_proxies`, whose `X-Forwarded-For` is then read
//! from the right (the address the proxy itself saw is the last one it appended). A forwarded
//! header from anyone else is ignored: any client can write one.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::HttpRequest;

/// The reverse proxies whose forwarded address is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<Vec<ipnet::IpNet>>);

impl TrustedProxies {
    pub fn new(networks: Vec<ipnet::IpNet>) -> TrustedProxies {
        TrustedProxies(Arc::new(networks))
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: the peer, or behind a trusted proxy the nearest forwarded
    /// address that is not itself a trusted proxy. `None` when it cannot be told (a trusted
    /// proxy that forwarded nothing readable): then nothing is trusted on its account.
    pub fn client_of(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip().to_canonical();
        if !self.contains(peer) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|a| a.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()))
            .collect::<Result<_, _>>()
            .ok()?;
        forwarded.into_iter().rev().find(|ip| !self.contains(*ip))
    }
}

/// The client's address for `req`, with the proxies the application knows (none when the
/// application registered no [`TrustedProxies`]).
pub fn address(req: &HttpRequest) -> Option<IpAddr> {
    match req.app_data::<actix_web::web::Data<TrustedProxies>>() {
        Some(p) => p.client_of(req),
        None => req.peer_addr().map(|a| a.ip().to_canonical()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn proxies() -> TrustedProxies {
        TrustedProxies::new(vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.9.0.0/16".parse().unwrap(),
        ])
    }

    #[test]
    fn a_forwarded_address_is_believed_only_from_a_trusted_proxy() {
        let direct = TestRequest::default()
            .peer_addr("192.0.2.5:4000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "10.20.1.2"))
            .to_http_request();
        assert_eq!(
            proxies().client_of(&direct),
            Some("192.0.2.5".parse().unwrap())
        );

        let proxied = TestRequest::default()
            .peer_addr("127.0.0.1:4000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "203.0.113.1, 10.20.1.2, 10.9.3.3"))
            .to_http_request();
        assert_eq!(
            proxies().client_of(&proxied),
            Some("10.20.1.2".parse().unwrap())
        );

        let nothing = TestRequest::default()
            .peer_addr("127.0.0.1:4000".parse().unwrap())
            .to_http_request();
        assert_eq!(proxies().client_of(&nothing), None);

        let garbled = TestRequest::default()
            .peer_addr("127.0.0.1:4000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "10.20.1.2, not-an-address"))
            .to_http_request();
        assert_eq!(proxies().client_of(&garbled), None);
    }
}
