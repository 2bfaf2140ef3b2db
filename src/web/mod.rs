//! HTTP routes on the listeners (plain and TLS alike): IPP, the REST API, the copier terminal,
//! the console, health and metrics.

pub mod body_limits;
pub mod client;
pub mod console;
pub mod delegations;
pub mod devices;
pub mod form;
pub mod guard;
pub mod health;
pub mod me;
pub mod policy;
pub mod quotas;
pub mod release;
pub mod scans;
pub mod terminal;
pub mod tls;

use actix_web::{web, HttpResponse};

use crate::ipp;

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(ipp::QUEUE_PATH, web::post().to(ipp::handle))
        .route("/ipp/print/{job}", web::post().to(ipp::handle))
        .configure(health::routes)
        .configure(me::routes)
        .configure(devices::routes)
        .configure(release::routes)
        .configure(terminal::routes)
        .configure(policy::routes)
        .configure(quotas::routes)
        .configure(console::routes)
        .configure(delegations::routes)
        .configure(scans::routes);
}

/// A static asset compiled into the binary (the terminal's and the console's styles and
/// script), cached briefly so that an upgrade shows within minutes.
pub fn asset(body: &'static str, content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::CACHE_CONTROL,
            "public, max-age=300",
        ))
        .insert_header((actix_web::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .content_type(content_type)
        .body(body)
}
