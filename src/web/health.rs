//! What load balancers and monitoring ask: `/healthz` (the process answers), `/readyz` (it
//! can do its work: database, spool disk, master key, directory) and `/metrics` (Prometheus,
//! optionally behind a bearer token).

use std::path::PathBuf;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::db::{Db, DbError};
use crate::directory::DirectoryService;
use crate::metrics::METRICS;

/// What `/readyz` checks, and the token `/metrics` wants.
pub struct Health {
    pub db: Db,
    pub directory: DirectoryService,
    /// The spool's directory, whose filesystem must have room.
    pub spool_dir: PathBuf,
    pub min_free_bytes: u64,
    /// The master key file: in memory Folio works without it, but it would not start again.
    pub key_file: PathBuf,
    /// `Some`: `/metrics` requires `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain")
        .body("ok\n")
}

/// One check's result.
#[derive(Debug, Serialize)]
struct Check {
    /// `ok`, `degraded` (works, with less) or `failed` (not ready).
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

impl Check {
    fn ok() -> Check {
        Check {
            status: "ok",
            message: None,
        }
    }
    fn degraded(m: String) -> Check {
        Check {
            status: "degraded",
            message: Some(m),
        }
    }
    fn failed(m: String) -> Check {
        Check {
            status: "failed",
            message: Some(m),
        }
    }
}

#[derive(Debug, Serialize)]
struct Readiness {
    /// `ready`, `degraded` (serving, something is missing) or `not-ready`.
    status: &'static str,
    database: Check,
    spool: Check,
    master_key: Check,
    directory: Check,
}

async fn readyz(health: web::Data<Health>) -> HttpResponse {
    let database = match health
        .db
        .run(|conn| Ok::<_, DbError>(crate::db::ping(conn)?))
        .await
    {
        Ok(()) => Check::ok(),
        Err(e) => Check::failed(format!("the database does not answer: {e}")),
    };
    let spool = match crate::spool::store::free_bytes(&health.spool_dir) {
        Ok(free) => {
            METRICS
                .spool_free_bytes
                .set(free.min(i64::MAX as u64) as i64);
            if free < health.min_free_bytes {
                Check::failed(format!(
                    "{} MB free on the spool's disk, below the {} MB set in \
                     monitoring.spool_min_free_mb",
                    free / 1_048_576,
                    health.min_free_bytes / 1_048_576
                ))
            } else {
                Check::ok()
            }
        }
        Err(e) => Check::failed(format!("the spool directory cannot be checked: {e}")),
    };
    let master_key = if health.key_file.is_file() {
        Check::ok()
    } else {
        Check::degraded(
            "the master key file is gone: Folio works from memory but would not start again".into(),
        )
    };
    let directory = if health.directory.is_degraded() {
        Check::degraded(
            "the directory does not answer: known users and badges resolve from the cache".into(),
        )
    } else {
        Check::ok()
    };
    let checks = [&database, &spool, &master_key, &directory];
    let status = if checks.iter().any(|c| c.status == "failed") {
        "not-ready"
    } else if checks.iter().any(|c| c.status == "degraded") {
        "degraded"
    } else {
        "ready"
    };
    let body = Readiness {
        status,
        database,
        spool,
        master_key,
        directory,
    };
    let mut response = if status == "not-ready" {
        HttpResponse::ServiceUnavailable()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

async fn metrics(req: HttpRequest, health: web::Data<Health>) -> HttpResponse {
    if let Some(token) = &health.metrics_token {
        let sent = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !bool::from(sent.as_bytes().ct_eq(token.as_bytes())) {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"folio-metrics\""))
                .content_type("text/plain")
                .body("a bearer token is required\n");
        }
    }
    if let Ok(free) = crate::spool::store::free_bytes(&health.spool_dir) {
        METRICS
            .spool_free_bytes
            .set(free.min(i64::MAX as u64) as i64);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(METRICS.render())
}
