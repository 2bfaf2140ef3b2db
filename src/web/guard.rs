//! What wraps every request on the listeners: a per-address cap on open connections, a
//! request id and a tracing span (`request_id`, `user`, `device`, `job_id`), the security
//! headers every response carries, and the HTTP metrics.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpResponse;
use tracing::Instrument;

use crate::metrics::METRICS;

/// Counts open connections per client address.
#[derive(Clone)]
pub struct ConnectionCap {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// 0 = no cap.
    limit: usize,
    exempt: Arc<Vec<ipnet::IpNet>>,
}

/// A connection's place under the cap, kept in the connection's data: dropped with the
/// connection, it gives the place back.
pub struct Slot {
    cap: ConnectionCap,
    address: Option<IpAddr>,
    /// The address held more than its share when this connection opened.
    pub over: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(address) = self.address else { return };
        let mut open = self.cap.lock();
        if let Some(n) = open.get_mut(&address) {
            *n -= 1;
            if *n == 0 {
                open.remove(&address);
            }
        }
    }
}

impl ConnectionCap {
    pub fn new(limit: usize, exempt: Vec<ipnet::IpNet>) -> ConnectionCap {
        ConnectionCap {
            open: Arc::new(Mutex::new(HashMap::new())),
            limit,
            exempt: Arc::new(exempt),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a place for a new connection from `address`.
    pub fn admit(&self, address: Option<IpAddr>) -> Slot {
        let counted =
            address.filter(|a| self.limit > 0 && !self.exempt.iter().any(|n| n.contains(a)));
        let Some(a) = counted else {
            return Slot {
                cap: self.clone(),
                address: None,
                over: false,
            };
        };
        let mut open = self.lock();
        let n = open.entry(a).or_insert(0);
        *n += 1;
        let over = *n > self.limit;
        drop(open);
        if over {
            METRICS.connections_refused.inc();
            tracing::warn!(address = %a, limit = self.limit, "too many connections from one address");
        }
        Slot {
            cap: self.clone(),
            address: Some(a),
            over,
        }
    }

    /// The `on_connect` hook of the HTTP server: plain and TLS connections alike.
    pub fn on_connect(&self, io: &dyn std::any::Any, data: &mut actix_web::dev::Extensions) {
        use actix_tls::accept::rustls_0_23::TlsStream;
        use actix_web::rt::net::TcpStream;
        let peer = if let Some(s) = io.downcast_ref::<TcpStream>() {
            s.peer_addr().ok()
        } else if let Some(s) = io.downcast_ref::<TlsStream<TcpStream>>() {
            s.get_ref().0.peer_addr().ok()
        } else {
            None
        };
        data.insert(self.admit(peer.map(|p| p.ip())));
    }
}

/// Which part of Folio a path belongs to (the `area` label of the HTTP metrics).
fn area(path: &str) -> &'static str {
    if path.starts_with("/ipp/") {
        "ipp"
    } else if path.starts_with("/api/") {
        "api"
    } else if path.starts_with("/terminal") {
        "terminal"
    } else if matches!(path, "/metrics" | "/healthz" | "/readyz") {
        "monitoring"
    } else {
        "console"
    }
}

/// A short random id for one request, echoed in `X-Request-Id` and in every log line.
fn request_id() -> String {
    let mut raw = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
    hex::encode(raw)
}

/// The middleware: cap, span, headers, metrics.
pub async fn wrap(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.conn_data::<Slot>().is_some_and(|s| s.over) {
        let response = HttpResponse::ServiceUnavailable()
            .insert_header((header::CONNECTION, "close"))
            .insert_header((header::RETRY_AFTER, "5"))
            .content_type("text/plain")
            .body("too many connections from your address; try again shortly\n");
        return Ok(req.into_response(response).map_into_right_body());
    }
    let id = request_id();
    let path = req.path().to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %path,
        user = tracing::field::Empty,
        device = tracing::field::Empty,
        job_id = tracing::field::Empty,
        operation = tracing::field::Empty,
    );
    let https = req.connection_info().scheme() == "https";
    let mut res = next.call(req).instrument(span).await?;
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert(header::HeaderName::from_static("x-request-id"), v);
    }
    if !headers.contains_key(header::X_CONTENT_TYPE_OPTIONS) {
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    let area = area(&path);
    if area != "ipp" {
        let class = match res.status().as_u16() {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        METRICS
            .http_requests
            .with_label_values(&[area, class])
            .inc();
    }
    Ok(res.map_into_left_body())
}

/// Records `field` (`user`, `device`, `job_id`, `operation`) on the current request's span
/// (open no other span under it, or the field lands nowhere).
pub fn record(field: &'static str, value: &dyn std::fmt::Display) {
    tracing::Span::current().record(field, tracing::field::display(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_counts_per_address_and_gives_places_back() {
        let cap = ConnectionCap::new(2, vec!["10.1.0.0/16".parse().unwrap()]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let first = cap.admit(Some(a));
        let second = cap.admit(Some(a));
        let third = cap.admit(Some(a));
        assert!(!first.over && !second.over && third.over);
        let other = cap.admit(Some("192.0.2.2".parse().unwrap()));
        assert!(!other.over);
        drop(third);
        drop(second);
        assert!(!cap.admit(Some(a)).over);
        let print_server: IpAddr = "10.1.2.3".parse().unwrap();
        let many: Vec<Slot> = (0..10).map(|_| cap.admit(Some(print_server))).collect();
        assert!(many.iter().all(|s| !s.over));
        drop((first, other, many));
        assert!(cap.lock().is_empty());
    }

    #[test]
    fn paths_map_to_areas() {
        assert_eq!(area("/ipp/print"), "ipp");
        assert_eq!(area("/api/v1/devices"), "api");
        assert_eq!(area("/terminal/x"), "terminal");
        assert_eq!(area("/readyz"), "monitoring");
        assert_eq!(area("/jobs"), "console");
    }
}
