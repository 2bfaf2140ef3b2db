//! Builds the application from settings: database, master key, spool, background tasks, and
//! the listener (bound first, so port 0 works in tests).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App as ActixApp, HttpServer};

use crate::config::Settings;
use crate::db::Db;
use crate::directory::{self, DirectoryService};
use crate::document::Sandboxed;
use crate::ipp::{IppService, QueueInfo};
use crate::sandbox::{Confinement, Lane, Sandbox};
use crate::spool::{self, crypto::MasterKey, Spool};

/// Runs a sandboxed document reader (`folio sandbox-worker`, started by the server): the jobs
/// of every room that reads documents. `args` are the worker's own (`--memory-mb N`,
/// `--syscall-filter=on|off`); returns the exit code.
pub fn run_sandbox_worker(args: impl Iterator<Item = String>) -> i32 {
    let mut confinement = Confinement {
        memory_mb: crate::sandbox::SandboxSettings::default().memory_mb,
        syscall_filter: true,
    };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--memory-mb" => {
                if let Some(n) = args.next().and_then(|n| n.parse().ok()) {
                    confinement.memory_mb = n;
                }
            }
            "--syscall-filter=off" => confinement.syscall_filter = false,
            _ => {}
        }
    }
    crate::sandbox::worker::serve(
        &[
            crate::document::JOBS,
            crate::archive::JOBS,
            crate::sandbox::worker::JOBS,
        ],
        confinement,
    )
}

/// A built application, ready to run.
pub struct App {
    server: actix_web::dev::Server,
    port: u16,
    address: String,
    tls_address: Option<String>,
    spool: Spool,
    release: crate::release::ReleaseService,
    lane: crate::release::LaneReceiver,
    db: Db,
    audit: crate::config::AuditSettings,
    node: String,
    device_poll: Duration,
    pipeline: crate::archive::pipeline::Pipeline,
    /// The watched folders and what taking their files needs.
    folders: Option<(
        crate::capture::CaptureService,
        crate::devices::DeviceRegistry,
        crate::capture::ScanSettings,
    )>,
    /// The scan-to-FTP server, when `scan.ftp_listen` is set.
    ftp: Option<crate::capture::ftp::FtpServer>,
    /// Audits failed sign-ins in aggregate (see `directory::throttle`).
    directory: DirectoryService,
}

impl App {
    /// Opens everything and binds the listener.
    pub fn build(settings: &Settings) -> anyhow::Result<App> {
        settings.validate()?;
        std::fs::create_dir_all(&settings.data_dir)?;
        // The database holds job names (which can name patients) and the wrapped keys: only the
        // service account may enter the data directory.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&settings.data_dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| {
                    anyhow::anyhow!("cannot restrict {}: {e}", settings.data_dir.display())
                })?;
        }
        let db = Db::connect(
            &settings.effective_database_url(),
            settings.database_pool_size,
        )?;
        let key_file = settings.effective_master_key_file();
        let master = if key_file.exists() {
            MasterKey::load(&key_file)?
        } else {
            // A missing key with documents in the spool is an unmounted secret or a wrong
            // path, not a first start: a new key would make every held document unreadable.
            let held = crate::db::models::documents::count_live(&mut *db.get()?)?;
            if held > 0 {
                anyhow::bail!(
                    "master key {} is missing but {held} documents are spooled: refusing to \
                     create a new key (check master_key_file)",
                    key_file.display()
                );
            }
            MasterKey::load_or_create(&key_file)?
        };
        let networks = settings
            .ipp
            .parsed_networks()
            .map_err(|e| anyhow::anyhow!("ipp.trusted_networks: {e}"))?;
        let proxies = crate::web::client::TrustedProxies::new(
            settings
                .limits
                .parsed_proxies()
                .map_err(|e| anyhow::anyhow!("limits.trusted_proxies: {e}"))?,
        );
        let proxies_data = web::Data::new(proxies.clone());
        let directory = DirectoryService::new(
            directory::open(&settings.directory, &settings.effective_directory_file())?,
            db.clone(),
            &settings.directory,
            settings.ipp.auth_cache_secs,
        )
        .with_card_key(&master.subkey("audit-card"));
        tracing::info!(
            directory = directory.directory().kind(),
            auth = ?settings.ipp.auth,
            "directory ready"
        );
        // Documents are read in sandboxed workers: check now that one starts and confines
        // itself, rather than refuse every document later.
        let print_lane = Sandbox::start(Lane::Print, &settings.sandbox);
        print_lane.check().map_err(|e| {
            anyhow::anyhow!(
                "sandbox: document readers cannot run ({e}); see [sandbox] in the configuration"
            )
        })?;
        let scan_lane = Sandbox::start(Lane::Scan, &settings.sandbox);
        let db_for_devices = db.clone();
        let spool = Spool::open(
            db,
            &settings.data_dir,
            master,
            settings.hold_hours,
            settings.incoming_timeout_secs,
            settings.spool_reserve_mb,
            Arc::new(Sandboxed(print_lane.clone())),
        )?;
        let info = Arc::new(QueueInfo {
            name: settings.printer_name.clone(),
            location: settings.printer_location.clone(),
            max_job_bytes: settings.max_job_bytes(),
            incoming_timeout_secs: settings.incoming_timeout_secs,
            started_ms: crate::db::now_ms(),
            uuid: format!("urn:uuid:{}", queue_uuid(&settings.data_dir)),
        });
        let policy = crate::policy::PolicyStore::new(db_for_devices.clone());
        let quotas = crate::policy::quota::Quotas::new(db_for_devices.clone());
        let (lane, lane_receiver) = crate::release::ClinicalLane::new();
        let service = web::Data::new(IppService {
            lane,
            spool: spool.clone(),
            policy: policy.clone(),
            quotas: quotas.clone(),
            info,
            auth: Arc::new(crate::ipp::auth::IppAuth {
                mode: settings.ipp.auth,
                trusted: networks,
                directory: directory.clone(),
                proxies: proxies.clone(),
            }),
        });
        let directory_for_app = directory.clone();
        let directory_data = web::Data::new(directory);
        // Profiles are validated at start: a bad site profile stops Folio with its name.
        let drivers = crate::drivers::Drivers::load(Some(&settings.drivers_dir))?;
        let copier_tls = crate::output::tls::CopierTls::load(&settings.release.copier_ca_file)?;
        let egress = settings
            .devices
            .egress()
            .map_err(|e| anyhow::anyhow!("devices: {e}"))?;
        let devices = web::Data::new(crate::devices::DeviceRegistry::new(
            db_for_devices.clone(),
            Arc::new(drivers),
            copier_tls,
            egress,
        ));
        let roles = web::Data::new(settings.roles.clone());
        let release = web::Data::new(crate::release::ReleaseService::new(
            db_for_devices.clone(),
            spool.clone(),
            directory_data.get_ref().clone(),
            devices.get_ref().clone(),
            &settings.release,
            settings.effective_node_name(),
            policy.clone(),
            Sandboxed(print_lane.clone()),
        ));
        let release_service = release.get_ref().clone();
        let release_settings = web::Data::new(settings.release.clone());
        let policy_data = web::Data::new(policy);
        let console_sessions = web::Data::new(crate::web::console::ConsoleSessions::new(
            db_for_devices.clone(),
            directory_data.get_ref().clone(),
            settings.roles.clone(),
        ));
        let spool_data = web::Data::new(spool.clone());
        let quotas_data = web::Data::new(quotas);
        let reports_settings = web::Data::new(settings.reports.clone());
        let health = web::Data::new(crate::web::health::Health {
            db: db_for_devices.clone(),
            directory: directory_data.get_ref().clone(),
            spool_dir: settings.data_dir.clone(),
            min_free_bytes: settings
                .monitoring
                .spool_min_free_mb
                .saturating_mul(1_048_576),
            key_file: settings.effective_master_key_file(),
            metrics_token: crate::config::read_secret(
                &settings.monitoring.metrics_token_file,
                "monitoring.metrics_token_file",
            )?,
        });
        let capture = crate::capture::CaptureService::new(
            db_for_devices.clone(),
            spool.clone(),
            directory_data.get_ref().clone(),
            &settings.data_dir,
            settings.scan.clone(),
        )?;
        let pipeline = crate::archive::pipeline::Pipeline::new(
            capture.clone(),
            settings.effective_node_name(),
            &settings.archive,
            scan_lane,
        )?;
        let folders = (!settings.scan.folders.is_empty()).then(|| {
            (
                capture.clone(),
                devices.get_ref().clone(),
                settings.scan.clone(),
            )
        });
        let ftp = if settings.scan.ftp_listen.trim().is_empty() {
            None
        } else {
            Some(crate::capture::ftp::FtpServer::build(
                capture.clone(),
                devices.get_ref().clone(),
                directory_data.get_ref().clone(),
                &settings.tls,
                Duration::from_secs(settings.limits.body_timeout_secs.max(1)),
            )?)
        };
        let capture_data = web::Data::new(capture);
        let pipeline_data = web::Data::new(pipeline.clone());
        let cap = crate::web::guard::ConnectionCap::new(
            settings.limits.connections_per_address,
            settings
                .limits
                .parsed_exempt()
                .map_err(|e| anyhow::anyhow!("limits.exempt_networks: {e}"))?,
        );
        let body_limits = web::Data::new(crate::web::body_limits::BodyLimits {
            print_bytes: settings
                .max_job_bytes()
                .saturating_add(crate::ipp::MAX_ATTRIBUTE_BYTES as u64),
            scan_bytes: settings.scan.max_scan_mb.saturating_mul(1_048_576),
            deadline: Duration::from_secs(settings.limits.body_timeout_secs.max(1)),
        });
        let server = HttpServer::new(move || {
            ActixApp::new()
                .app_data(body_limits.clone())
                .app_data(proxies_data.clone())
                .app_data(service.clone())
                .app_data(directory_data.clone())
                .app_data(devices.clone())
                .app_data(roles.clone())
                .app_data(release.clone())
                .app_data(release_settings.clone())
                .app_data(policy_data.clone())
                .app_data(console_sessions.clone())
                .app_data(spool_data.clone())
                .app_data(quotas_data.clone())
                .app_data(reports_settings.clone())
                .app_data(health.clone())
                .app_data(capture_data.clone())
                .app_data(pipeline_data.clone())
                // IPP bodies are streamed; this bounds only what extractors would buffer.
                .app_data(web::PayloadConfig::new(64 * 1024))
                .configure(crate::web::routes)
                .wrap(actix_web::middleware::from_fn(
                    crate::web::body_limits::limit,
                ))
                .wrap(actix_web::middleware::from_fn(crate::web::guard::wrap))
        })
        .on_connect(move |io, data| cap.on_connect(io, data))
        // The first request's headers must arrive in time (slow clients); later requests on a
        // kept-alive connection are bounded by keep-alive instead: clients poll held jobs on one
        // connection for minutes (ipptool waits 5 s between polls).
        .client_request_timeout(Duration::from_secs(
            settings.limits.header_timeout_secs.max(1),
        ))
        .tls_handshake_timeout(Duration::from_secs(
            settings.limits.header_timeout_secs.max(1),
        ))
        .keep_alive(Duration::from_secs(300));
        let mut server = server;
        // With a certificate, the listener speaks TLS; `tls.listen` adds a TLS listener beside a
        // plain one instead.
        let bind = |address: &str| {
            TcpListener::bind(address)
                .map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))
        };
        let certificate = !settings.tls.certificate_file.as_os_str().is_empty();
        let separate_tls = !settings.tls.listen.trim().is_empty();
        let (mut main, mut tls) = (None, None);
        if !settings.listen.trim().is_empty() {
            let listener = bind(&settings.listen)?;
            main = Some(listener.local_addr()?);
            if certificate && !separate_tls {
                tls = main;
                server = server
                    .listen_rustls_0_23(listener, crate::web::tls::server_config(&settings.tls)?)?;
            } else {
                server = server.listen(listener)?;
            }
        }
        if separate_tls {
            let listener = bind(&settings.tls.listen)?;
            tls = Some(listener.local_addr()?);
            server = server
                .listen_rustls_0_23(listener, crate::web::tls::server_config(&settings.tls)?)?;
        }
        let Some(local) = main.or(tls) else {
            anyhow::bail!("neither listen nor tls.listen is set");
        };
        Ok(App {
            server: server.run(),
            port: local.port(),
            address: local.to_string(),
            tls_address: tls.map(|a| a.to_string()),
            spool,
            release: release_service,
            lane: lane_receiver,
            db: db_for_devices,
            audit: settings.audit.clone(),
            node: settings.effective_node_name(),
            device_poll: Duration::from_secs(settings.monitoring.device_poll_secs),
            pipeline,
            folders,
            ftp,
            directory: directory_for_app,
        })
    }

    /// The TLS listener's address (HTTPS, IPPS), when there is one.
    pub fn tls_address(&self) -> Option<&str> {
        self.tls_address.as_deref()
    }

    /// The scan-to-FTP address, when FTP is on.
    pub fn ftp_address(&self) -> Option<std::net::SocketAddr> {
        self.ftp.as_ref().map(|f| f.address())
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bound address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Runs until stopped (SIGINT/SIGTERM), with the expiry task beside it.
    pub async fn run(self, expiry_interval: Duration) -> std::io::Result<()> {
        match self.release.recover_interrupted().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                jobs = n,
                "jobs being sent when Folio stopped now await their owners' decision"
            ),
            Err(e) => tracing::error!(error = %e, "cannot check for interrupted releases"),
        }
        let release = self.release.clone();
        let abandoned = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(300));
            loop {
                every.tick().await;
                if let Err(e) = release.recover_abandoned().await {
                    tracing::error!(error = %e, "cannot check for abandoned releases");
                }
            }
        });
        let expiry = spool::spawn_expiry(self.spool.clone(), expiry_interval);
        let lane = self.lane.serve(self.release.clone());
        let directory = self.directory.clone();
        let failed_sign_ins = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                directory.audit_closed_failure_windows().await;
            }
        });
        let mut background = vec![abandoned, expiry, lane, failed_sign_ins];
        match self.pipeline.recover().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                items = n,
                "archive work interrupted by the last stop runs again"
            ),
            Err(e) => tracing::error!(error = %e, "cannot take back interrupted archive work"),
        }
        background.extend(self.pipeline.clone().spawn());
        if let Some(ftp) = self.ftp {
            background.push(ftp.spawn());
        }
        if let Some((capture, devices, scan)) = self.folders.clone() {
            background.push(crate::capture::folder::spawn(
                capture,
                devices,
                scan.folders
                    .iter()
                    .map(|f| crate::capture::folder::WatchedFolder::parse(f))
                    .collect(),
                Duration::from_secs(scan.folder_poll_secs.max(1)),
                Duration::from_secs(scan.folder_settle_secs),
            ));
        }
        if !self.device_poll.is_zero() {
            let release = self.release.clone();
            let every = self.device_poll;
            background.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    release.poll_devices().await;
                }
            }));
        }
        if !self.audit.syslog.is_empty() {
            // Both were validated with the settings.
            if let (Ok(target), Some(facility)) = (
                crate::audit::syslog::Target::parse(&self.audit.syslog),
                crate::audit::syslog::Facility::parse(&self.audit.syslog_facility),
            ) {
                background.push(crate::audit::syslog::spawn(
                    self.db.clone(),
                    target,
                    facility,
                    self.node.clone(),
                ));
            }
        }
        let result = self.server.await;
        for task in background {
            task.abort();
        }
        result
    }
}

/// A stable identity for the queue (printer-uuid), kept in the data directory.
fn queue_uuid(data_dir: &std::path::Path) -> String {
    let path = data_dir.join("queue.uuid");
    if let Ok(s) = std::fs::read_to_string(&path) {
        if let Ok(u) = uuid::Uuid::parse_str(s.trim()) {
            return u.to_string();
        }
    }
    let u = uuid::Uuid::new_v4().to_string();
    let _ = std::fs::write(&path, &u);
    u
}
