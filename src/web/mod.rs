//! HTTP routes on the one listener: IPP, health and metrics. The console and REST API come
//! later and will live here too.

pub mod console;
pub mod delegations;
pub mod devices;
pub mod form;
pub mod me;
pub mod policy;
pub mod quotas;
pub mod release;
pub mod terminal;

use actix_web::{web, HttpResponse};

use crate::ipp;
use crate::metrics::METRICS;

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(ipp::QUEUE_PATH, web::post().to(ipp::handle))
        .route("/ipp/print/{job}", web::post().to(ipp::handle))
        .route("/healthz", web::get().to(healthz))
        .route("/metrics", web::get().to(metrics))
        .configure(me::routes)
        .configure(devices::routes)
        .configure(release::routes)
        .configure(terminal::routes)
        .configure(policy::routes)
        .configure(quotas::routes)
        .configure(console::routes)
        .configure(delegations::routes);
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(METRICS.render())
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
