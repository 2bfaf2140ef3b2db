//! Scan to FTP(S): the channel most copiers offer. An embedded server (libunftp) whose only
//! storage is the capture service: a `STOR` is received straight into an encrypted master and
//! answered `226` only once [`CaptureService::finish`] has fsynced and recorded it. Nothing is
//! ever stored in clear and nothing can be read back: the server is a drop box.
//!
//! Two kinds of login:
//! - **the copier's own**: its device name and its device token (the one the REST API takes);
//!   its scans are attributed like uploads, by the badge sessions at that copier;
//! - **a person's**: their hospital login and password, checked against the directory; their
//!   scans are theirs (`ftp-login`, strong), and the copier is recognised by its address.
//!
//! Refusals are temporary when the scan should be sent again (452 when the disk is low, 451 when
//! the database or the disk fails) and permanent only for a scan that will never be taken
//! (empty, too large).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use libunftp::options::{FailedLoginsBlock, FailedLoginsPolicy, FtpsRequired, TlsFlags};
use libunftp::ServerBuilder;
use tokio::io::AsyncReadExt;
use unftp_core::auth::{
    AuthenticationError, Authenticator, Credentials, Principal, UserDetail, UserDetailError,
    UserDetailProvider,
};
use unftp_core::storage::{Error, ErrorKind, Fileinfo, Metadata, Result, StorageBackend};

use super::{Arrival, CaptureError, CaptureService};
use crate::audit::{self, Outcome};
use crate::config::TlsSettings;
use crate::devices::{Device, DeviceRegistry, TOKEN_PREFIX};
use crate::directory::DirectoryService;

/// A silent data connection is given up after this long (libunftp has no transfer timeout).
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Who is logged in on an FTP session.
#[derive(Debug, Clone)]
pub enum FtpUser {
    /// A copier with its device token.
    Device(Device),
    /// A member of staff with their own password, from a copier recognised by its address (if
    /// any).
    Person { uid: String, device: Option<Device> },
}

impl UserDetail for FtpUser {}

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

impl fmt::Debug for Logins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Logins")
    }
}

impl Logins {
    async fn refused(&self, login: &str, source: IpAddr, reason: &str) {
        let login: String = login.trim().chars().take(64).collect();
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
}

#[async_trait]
impl Authenticator for Logins {
    async fn authenticate(
        &self,
        username: &str,
        creds: &Credentials,
    ) -> std::result::Result<Principal, AuthenticationError> {
        let password = creds.password.as_deref().unwrap_or_default();
        let source = creds.source_ip;
        if password.starts_with(TOKEN_PREFIX) {
            let device = self
                .devices
                .by_token(password)
                .await
                .map_err(|e| AuthenticationError::with_source("device lookup", e))?;
            return match device {
                Some(d) if d.name.eq_ignore_ascii_case(username.trim()) => Ok(Principal {
                    username: format!("device:{}", d.id),
                }),
                _ => {
                    self.refused(username, source, "wrong device name or token")
                        .await;
                    Err(AuthenticationError::BadPassword)
                }
            };
        }
        match self.directory.authenticate(username.trim(), password).await {
            Ok(Some(user)) => Ok(Principal {
                username: format!("user:{}@{source}", user.uid),
            }),
            Ok(None) => {
                self.refused(username, source, "wrong login or password")
                    .await;
                Err(AuthenticationError::BadPassword)
            }
            Err(e) => {
                tracing::warn!(error = %e, "FTP login: directory unavailable");
                Err(AuthenticationError::with_source("directory unavailable", e))
            }
        }
    }
}

#[async_trait]
impl UserDetailProvider for Logins {
    type User = FtpUser;

    async fn provide_user_detail(
        &self,
        principal: &Principal,
    ) -> std::result::Result<FtpUser, UserDetailError> {
        let gone = || UserDetailError::UserNotFound {
            username: principal.username.clone(),
        };
        let lookup = |e: crate::db::DbError| UserDetailError::ImplPropagated(e.to_string(), None);
        if let Some(id) = principal.username.strip_prefix("device:") {
            let device = self.devices.get(id).await.map_err(lookup)?;
            return device.map(FtpUser::Device).ok_or_else(gone);
        }
        let Some((uid, source)) = principal
            .username
            .strip_prefix("user:")
            .and_then(|rest| rest.rsplit_once('@'))
        else {
            return Err(gone());
        };
        let devices = self.devices.list().await.map_err(lookup)?;
        let device = devices.into_iter().find(|d| host_of(&d.uri) == source);
        Ok(FtpUser::Person {
            uid: uid.to_owned(),
            device,
        })
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

/// What listings show: an empty folder (copiers' connection tests list it).
#[derive(Debug)]
pub struct Entry {
    dir: bool,
}

impl Metadata for Entry {
    fn len(&self) -> u64 {
        0
    }
    fn is_dir(&self) -> bool {
        self.dir
    }
    fn is_file(&self) -> bool {
        !self.dir
    }
    fn is_symlink(&self) -> bool {
        false
    }
    fn modified(&self) -> Result<SystemTime> {
        Ok(SystemTime::now())
    }
    fn gid(&self) -> u32 {
        0
    }
    fn uid(&self) -> u32 {
        0
    }
}

/// The FTP server's only storage: the capture service.
#[derive(Clone)]
pub struct ScanDropBox {
    capture: CaptureService,
}

impl fmt::Debug for ScanDropBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScanDropBox")
    }
}

fn refused(e: CaptureError, at_start: bool) -> Error {
    match e {
        // Not enough room to begin: the copier keeps the scan and tries again.
        CaptureError::Temporary(m) if at_start => {
            Error::new(ErrorKind::InsufficientStorageSpaceError, m)
        }
        CaptureError::Temporary(m) => Error::new(ErrorKind::LocalError, m),
        CaptureError::Refused(m) => Error::new(ErrorKind::PermanentFileNotAvailable, m),
    }
}

impl ScanDropBox {
    async fn receive<R: tokio::io::AsyncRead + Unpin>(
        &self,
        user: &FtpUser,
        mut input: R,
        file_name: String,
    ) -> Result<u64> {
        let mut incoming = match self.capture.begin() {
            Ok(incoming) => incoming,
            Err(e) => {
                // Read what was sent so the copier hears the refusal, not a reset.
                let _ = tokio::time::timeout(
                    READ_TIMEOUT,
                    tokio::io::copy(&mut input, &mut tokio::io::sink()),
                )
                .await;
                return Err(refused(e, true));
            }
        };
        let mut buf = vec![0u8; 128 * 1024];
        let mut total = 0u64;
        loop {
            let n = match tokio::time::timeout(READ_TIMEOUT, input.read(&mut buf)).await {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => n,
                // Broken off (or TLS closed without close_notify): not a whole scan.
                Ok(Err(e)) => return Err(Error::from(e)),
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::ConnectionClosed,
                        "the data connection went silent",
                    ))
                }
            };
            total += n as u64;
            incoming.write(&buf[..n]).map_err(|e| refused(e, false))?;
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
        self.capture
            .finish(incoming, arrival)
            .await
            .map_err(|e| refused(e, false))?;
        Ok(total)
    }
}

#[async_trait]
impl StorageBackend<FtpUser> for ScanDropBox {
    type Metadata = Entry;

    async fn metadata<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        _user: &FtpUser,
        path: P,
    ) -> Result<Entry> {
        // Folders exist (copiers change into their own); files never do: nothing stays here.
        if path.as_ref().extension().is_none() {
            Ok(Entry { dir: true })
        } else {
            Err(ErrorKind::PermanentFileNotAvailable.into())
        }
    }

    async fn list<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        _user: &FtpUser,
        _path: P,
    ) -> Result<Vec<Fileinfo<PathBuf, Entry>>>
    where
        <Self as StorageBackend<FtpUser>>::Metadata: Metadata,
    {
        Ok(Vec::new())
    }

    async fn get<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        _user: &FtpUser,
        _path: P,
        _start_pos: u64,
    ) -> Result<Box<dyn tokio::io::AsyncRead + Send + Sync + Unpin>> {
        Err(ErrorKind::PermissionDenied.into())
    }

    async fn put<
        P: AsRef<Path> + Send + fmt::Debug,
        R: tokio::io::AsyncRead + Send + Sync + Unpin + 'static,
    >(
        &self,
        user: &FtpUser,
        input: R,
        path: P,
        start_pos: u64,
    ) -> Result<u64> {
        // APPE to a file that "exists" would resume; nothing exists here, so only whole files.
        if start_pos != 0 {
            return Err(ErrorKind::CommandNotImplemented.into());
        }
        // Paths are not normalised by libunftp: only the last component is a name.
        let name = path
            .as_ref()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Error::from(ErrorKind::FileNameNotAllowedError))?;
        self.receive(user, input, name).await
    }

    async fn del<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        _user: &FtpUser,
        _path: P,
    ) -> Result<()> {
        // A scan taken is in the archive's hands; it cannot be deleted from here.
        Err(ErrorKind::PermissionDenied.into())
    }

    async fn mkd<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        _user: &FtpUser,
        _path: P,
    ) -> Result<()> {
        Ok(())
    }

    async fn rename<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        _user: &FtpUser,
        _from: P,
        _to: P,
    ) -> Result<()> {
        // Copiers that upload under a temporary name then rename: the scan was taken whole at
        // the upload; the rename has nothing left to do.
        Ok(())
    }

    async fn rmd<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        _user: &FtpUser,
        _path: P,
    ) -> Result<()> {
        Err(ErrorKind::PermissionDenied.into())
    }

    async fn cwd<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        _user: &FtpUser,
        _path: P,
    ) -> Result<()> {
        Ok(())
    }
}

/// A configured FTP server, its port already chosen.
pub struct FtpServer {
    address: SocketAddr,
    server: libunftp::Server<ScanDropBox, FtpUser>,
}

impl FtpServer {
    /// Builds the server from `[scan] ftp_*` and the `[tls]` certificate (for FTPS).
    pub fn build(
        capture: CaptureService,
        devices: DeviceRegistry,
        directory: DirectoryService,
        tls: &TlsSettings,
    ) -> anyhow::Result<FtpServer> {
        let settings = capture.settings().clone();
        let address = choose_address(&settings.ftp_listen)?;
        let (low, high) = settings.passive_range()?;
        let logins = Arc::new(Logins {
            db: capture.db().clone(),
            devices,
            directory,
        });
        let provider: Arc<dyn UserDetailProvider<User = FtpUser> + Send + Sync> = logins.clone();
        let drop_box = ScanDropBox { capture };
        let mut builder = ServerBuilder::<ScanDropBox, FtpUser>::with_user_detail_provider(
            Box::new(move || drop_box.clone()),
            provider,
        )
        .authenticator(logins)
        .greeting("Folio scan service")
        .passive_ports(low..=high)
        .idle_session_timeout(settings.ftp_idle_secs.max(10))
        .failed_logins_policy(FailedLoginsPolicy::new(
            5,
            Duration::from_secs(300),
            FailedLoginsBlock::UserAndIP,
        ));
        let certificate = !tls.certificate_file.as_os_str().is_empty();
        if certificate {
            builder = builder
                .ftps(tls.certificate_file.clone(), tls.key_file.clone())
                .ftps_tls_flags(
                    TlsFlags::LATEST_VERSIONS
                        | TlsFlags::RESUMPTION_SESS_ID
                        | TlsFlags::RESUMPTION_TICKETS,
                );
            if settings.ftp_require_tls {
                builder = builder.ftps_required(FtpsRequired::All, FtpsRequired::All);
            }
        } else if settings.ftp_require_tls {
            anyhow::bail!(
                "scan.ftp_listen: FTPS needs the [tls] certificate_file and key_file; set \
                 scan.ftp_require_tls = false to accept scans over plain FTP"
            );
        } else {
            tracing::warn!(
                "scans are received over plain FTP: passwords and pages cross the network in clear"
            );
        }
        let server = builder
            .build()
            .map_err(|e| anyhow::anyhow!("scan.ftp_listen: {e}"))?;
        Ok(FtpServer { address, server })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until the task is dropped.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            if let Err(e) = self.server.listen(self.address.to_string()).await {
                tracing::error!(address = %self.address, error = %e, "the FTP scan service stopped");
            }
        })
    }
}

/// Resolves the listen address; port 0 picks a free port now (libunftp does not report the
/// port it bound), so that it can be printed and logged.
fn choose_address(listen: &str) -> anyhow::Result<SocketAddr> {
    let probe = std::net::TcpListener::bind(listen.trim())
        .map_err(|e| anyhow::anyhow!("scan.ftp_listen: cannot listen on {listen}: {e}"))?;
    let address = probe.local_addr()?;
    if address.is_ipv6() {
        // Passive mode (PASV) only works on IPv4 in libunftp, and copiers use it.
        anyhow::bail!("scan.ftp_listen: {address} is IPv6; FTP scans need an IPv4 address");
    }
    Ok(address)
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

    #[test]
    fn refusals_are_temporary_unless_the_scan_is_wrong() {
        let low = refused(CaptureError::Temporary("disk".into()), true);
        assert_eq!(low.kind(), ErrorKind::InsufficientStorageSpaceError);
        let db = refused(CaptureError::Temporary("db".into()), false);
        assert_eq!(db.kind(), ErrorKind::LocalError);
        let empty = refused(CaptureError::Refused("empty".into()), false);
        assert_eq!(empty.kind(), ErrorKind::PermanentFileNotAvailable);
    }
}
