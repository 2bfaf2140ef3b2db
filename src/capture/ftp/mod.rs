//! Scan to FTP(S): the channel most copiers offer. An embedded drop box whose only storage is
//! the capture service: a `STOR` is received straight into an encrypted master and answered
//! `226` only once [`CaptureService::finish`] has fsynced and recorded it. Nothing is ever
//! stored in clear and nothing can be read back, listed or deleted.
//!
//! Folio speaks the few commands copiers use itself ([`session`], [`data`]) rather than through
//! a general FTP server library, so that every refusal that matters for a hospital is its own:
//! with `scan.ftp_require_tls` (the default), no login before `AUTH TLS`, no data connection
//! before `PROT P` (PASV and EPSV alike; `PROT C` refused), and a data connection is taken only
//! from the control connection's own address, whoever connects first.
//!
//! Two kinds of login:
//! - **the copier's own**: its device name and its device token (the one the REST API takes);
//!   its scans are attributed like uploads, by the badge sessions at that copier;
//! - **a person's**: their hospital login and password, checked against the directory (with its
//!   throttle on guessing); their scans are theirs (`ftp-login`, strong), and the copier is
//!   recognised by its address.
//!
//! Refusals are temporary when the scan should be sent again (452 when the disk is low, 451 when
//! the database or the disk fails) and permanent only for a scan that will never be taken
//! (empty, too large).

mod data;
mod session;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::{Arrival, CaptureError, CaptureService};
use crate::audit::{self, Outcome};
use crate::config::TlsSettings;
use crate::devices::{Device, DeviceRegistry, TOKEN_PREFIX};
use crate::directory::throttle::{Channel, Origin};
use crate::directory::{DirectoryService, Login};

/// A silent data connection is given up after this long.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Control connections one address may hold at once (a copier sends one scan at a time).
const SESSIONS_PER_ADDRESS: usize = 16;
/// Control connections at once, all addresses.
const SESSIONS: usize = 512;

/// Who is logged in on an FTP session.
#[derive(Debug, Clone)]
pub enum FtpUser {
    /// A copier with its device token.
    Device(Device),
    /// A member of staff with their own password, from a copier recognised by its address (if
    /// any).
    Person { uid: String, device: Option<Device> },
}

impl fmt::Display for FtpUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FtpUser::Device(d) => write!(f, "device {}", d.name),
            FtpUser::Person { uid, .. } => write!(f, "{uid}"),
        }
    }
}

/// Checks FTP logins against the device tokens and the directory.
#[derive(Clone)]
struct Logins {
    db: crate::db::Db,
    devices: DeviceRegistry,
    directory: DirectoryService,
}

impl Logins {
    async fn refused(&self, login: &str, source: IpAddr, reason: &str) {
        let login = audit::plausible_name(login);
        audit::record(
            &self.db,
            audit::Record {
                object: format!("user:{login}"),
                actor: login,
                action: "scan.ftp_login",
                device: None,
                outcome: Outcome::Failure,
                detail: serde_json::json!({ "address": source.to_string(), "reason": reason }),
            },
        )
        .await;
    }

    /// Checks a login; the user it names, or `None` (refused, audited).
    async fn check(&self, username: &str, password: &str, source: IpAddr) -> Option<FtpUser> {
        if password.starts_with(TOKEN_PREFIX) {
            let device = match self.devices.by_token(password).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "FTP login: device lookup failed");
                    return None;
                }
            };
            return match device {
                Some(d) if d.name.eq_ignore_ascii_case(username.trim()) => Some(FtpUser::Device(d)),
                _ => {
                    self.refused(username, source, "wrong device name or token")
                        .await;
                    None
                }
            };
        }
        // The directory's throttle counts and audits wrong passwords (per login and address).
        let origin = Origin::new(Channel::Ftp, Some(source));
        match self
            .directory
            .sign_in(origin, username.trim(), password)
            .await
        {
            Ok(Login::Accepted(user)) => {
                let devices = match self.devices.list().await {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::warn!(error = %e, "FTP login: device list failed");
                        return None;
                    }
                };
                let source = source.to_canonical().to_string();
                let device = devices.into_iter().find(|d| host_of(&d.uri) == source);
                Some(FtpUser::Person {
                    uid: user.uid,
                    device,
                })
            }
            Ok(Login::Refused | Login::Throttled(_)) => None,
            Err(e) => {
                tracing::warn!(error = %e, "FTP login: directory unavailable");
                None
            }
        }
    }

    /// Records data connections attempted from other addresses than the session's.
    async fn stranger(&self, session: IpAddr, from: &[IpAddr]) {
        if from.is_empty() {
            return;
        }
        audit::record(
            &self.db,
            audit::Record {
                actor: "folio".into(),
                action: "scan.ftp_data_refused",
                object: format!("address:{session}"),
                device: None,
                outcome: Outcome::Failure,
                detail: serde_json::json!({
                    "session_address": session.to_string(),
                    "from": from.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                    "reason": "a data connection from another address than the session's",
                }),
            },
        )
        .await;
    }
}

/// The host of a device URI (`ipp://10.1.2.3:631/ipp/print` → `10.1.2.3`).
fn host_of(uri: &str) -> &str {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

/// What became of an upload.
pub(crate) enum Transfer {
    /// Taken whole and recorded: this many bytes.
    Taken(u64),
    /// Not now: no room (452).
    Full(String),
    /// Not now: the disk or the database failed (451).
    Failed(String),
    /// Never: empty, too large (550).
    Refused(String),
    /// The data connection broke off or went silent (426).
    Broken(String),
}

/// What every session of the server shares.
pub(crate) struct Shared {
    logins: Logins,
    capture: CaptureService,
    tls: Option<tokio_rustls::TlsAcceptor>,
    require_tls: bool,
    ports: (u16, u16),
    idle: Duration,
    /// A whole upload must arrive within this (limits.body_timeout_secs).
    deadline: Duration,
}

impl Shared {
    /// Receives one upload into an encrypted master and records it.
    async fn receive(
        &self,
        user: &FtpUser,
        input: &mut (impl tokio::io::AsyncRead + Unpin),
        file_name: String,
    ) -> Transfer {
        let mut incoming = match self.capture.begin() {
            Ok(incoming) => incoming,
            Err(e) => {
                // Read what was sent so the copier hears the refusal, not a reset.
                let _ = tokio::time::timeout(
                    READ_TIMEOUT,
                    tokio::io::copy(input, &mut tokio::io::sink()),
                )
                .await;
                return match e {
                    CaptureError::Temporary(m) => Transfer::Full(m),
                    CaptureError::Refused(m) => Transfer::Refused(m),
                };
            }
        };
        let until = tokio::time::Instant::now() + self.deadline;
        let mut buf = vec![0u8; 128 * 1024];
        let mut total = 0u64;
        loop {
            let wait =
                READ_TIMEOUT.min(until.saturating_duration_since(tokio::time::Instant::now()));
            let n = match tokio::time::timeout(wait, input.read(&mut buf)).await {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => n,
                // Broken off (or TLS closed without close_notify): not a whole scan.
                Ok(Err(e)) => return Transfer::Broken(format!("the data connection broke: {e}")),
                Err(_) => {
                    return Transfer::Broken("the data connection went silent or too slow".into())
                }
            };
            total += n as u64;
            if let Err(e) = incoming.write(&buf[..n]) {
                return match e {
                    CaptureError::Temporary(m) => Transfer::Failed(m),
                    CaptureError::Refused(m) => Transfer::Refused(m),
                };
            }
        }
        let (device, login) = match user {
            FtpUser::Device(d) => (Some(d.clone()), None),
            FtpUser::Person { uid, device } => (device.clone(), Some(uid.clone())),
        };
        let arrival = Arrival {
            channel: "ftp",
            device,
            file_name,
            login,
            sidecar: None,
        };
        match self.capture.finish(incoming, arrival).await {
            Ok(_) => Transfer::Taken(total),
            Err(CaptureError::Temporary(m)) => Transfer::Failed(m),
            Err(CaptureError::Refused(m)) => Transfer::Refused(m),
        }
    }
}

/// A configured FTP server, its listener bound.
pub struct FtpServer {
    address: SocketAddr,
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
}

impl FtpServer {
    /// Builds the server from `[scan] ftp_*` and the `[tls]` certificate (for FTPS); whole
    /// uploads must arrive within `deadline`.
    pub fn build(
        capture: CaptureService,
        devices: DeviceRegistry,
        directory: DirectoryService,
        tls: &TlsSettings,
        deadline: Duration,
    ) -> anyhow::Result<FtpServer> {
        let settings = capture.settings().clone();
        let listener = std::net::TcpListener::bind(settings.ftp_listen.trim()).map_err(|e| {
            anyhow::anyhow!(
                "scan.ftp_listen: cannot listen on {}: {e}",
                settings.ftp_listen
            )
        })?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let ports = settings.passive_range()?;
        let certificate = !tls.certificate_file.as_os_str().is_empty();
        let acceptor = if certificate {
            let mut config = crate::web::tls::server_config(tls)?;
            config.alpn_protocols = Vec::new();
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
        } else if settings.ftp_require_tls {
            anyhow::bail!(
                "scan.ftp_listen: FTPS needs the [tls] certificate_file and key_file; set \
                 scan.ftp_require_tls = false to accept scans over plain FTP"
            );
        } else {
            tracing::warn!(
                "scans are received over plain FTP: passwords and pages cross the network in clear"
            );
            None
        };
        Ok(FtpServer {
            address,
            listener,
            shared: Arc::new(Shared {
                logins: Logins {
                    db: capture.db().clone(),
                    devices,
                    directory,
                },
                capture,
                tls: acceptor,
                require_tls: settings.ftp_require_tls && certificate,
                ports,
                idle: Duration::from_secs(settings.ftp_idle_secs.max(10)),
                deadline,
            }),
        })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until the task is dropped.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let listener = match tokio::net::TcpListener::from_std(self.listener) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(error = %e, "the FTP scan service cannot start");
                    return;
                }
            };
            let open: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "FTP accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let ip = peer.ip().to_canonical();
                let admitted = {
                    let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
                    let total: usize = open.values().sum();
                    let mine = open.entry(ip).or_insert(0);
                    if *mine >= SESSIONS_PER_ADDRESS || total >= SESSIONS {
                        false
                    } else {
                        *mine += 1;
                        true
                    }
                };
                if !admitted {
                    tracing::warn!(address = %ip, "too many FTP sessions: refused");
                    let mut s = stream;
                    let _ = tokio::io::AsyncWriteExt::write_all(
                        &mut s,
                        b"421 Too many connections from your address\r\n",
                    )
                    .await;
                    continue;
                }
                let (shared, open) = (self.shared.clone(), open.clone());
                tokio::spawn(async move {
                    session::serve(&shared, stream, peer).await;
                    let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(n) = open.get_mut(&ip) {
                        *n -= 1;
                        if *n == 0 {
                            open.remove(&ip);
                        }
                    }
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_hosts_are_read_from_their_uris() {
        assert_eq!(host_of("ipp://10.1.2.3:631/ipp/print"), "10.1.2.3");
        assert_eq!(
            host_of("ipps://copier-3.chu.example/ipp"),
            "copier-3.chu.example"
        );
        assert_eq!(host_of("lpd://[fd00::5]:515/queue"), "fd00::5");
        assert_eq!(host_of("socket://10.0.0.9"), "10.0.0.9");
    }
}
