//! Output: a released job's document to a device, through its driver profile, and the device's
//! state before and after.
//!
//! - [`ipp`]: IPP/IPPS (Print-Job, or Create-Job + Send-Document) with the enforced ticket as
//!   job attributes, Get-Printer-Attributes for the device's state, Get-Job-Attributes to follow
//!   the job until it ends.
//! - [`pjl`]: raw TCP (port 9100) with a PJL header (job, duplex, colour mode, copies, language).
//!
//! Every failure says whether bytes may have reached the device: only a failure **before** any
//! byte of the document left Folio may be retried or the job held again as if nothing happened;
//! after that, a missing confirmation is [`OutputError::Ambiguous`] and is never resent
//! automatically.
//!
//! These functions block (the document is decrypted as a stream into the socket): call them on
//! the blocking thread pool, one task per job, so ten released jobs go out at once.

pub mod egress;
pub mod ipp;
pub mod lpd;
pub mod pjl;
pub mod tls;

use std::io::Read;
use std::time::Duration;

use serde::Serialize;

use crate::domain::{ColorMode, Sides};

/// What the device is told to do with the document: the ticket after the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub sides: Sides,
    pub color: ColorMode,
    pub copies: u32,
    /// PWG media name, when the job asked for one.
    pub media: Option<String>,
}

/// Who and what the device sees (shown on its panel and in its accounting).
#[derive(Debug, Clone)]
pub struct JobLabel {
    /// The owner's directory uid.
    pub user: String,
    /// The job's name as the device shows it. Folio sends `Folio job N`, not the document
    /// name: names often identify a patient and copier panels and logs are not private.
    pub name: String,
}

/// What Folio may do towards devices: time limits, and where it may connect at all.
#[derive(Debug, Clone)]
pub struct Limits {
    pub connect: Duration,
    /// Waiting for an answer, and between two writes of the document.
    pub io: Duration,
    /// The copier networks and ports Folio may connect to.
    pub egress: std::sync::Arc<egress::Egress>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect: Duration::from_secs(5),
            io: Duration::from_secs(30),
            egress: Default::default(),
        }
    }
}

/// Why a job did not reach a device.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutputError {
    /// Nothing was sent: unreachable, refused the connection, TLS failed.
    #[error("the copier cannot be reached: {0}")]
    Unreachable(String),
    /// The device answered that it is busy; nothing was printed. Retry later.
    #[error("the copier is busy")]
    Busy,
    /// The device refused the job (bad ticket, format, size); nothing was printed.
    #[error("the copier refused the job: {0}")]
    Refused(String),
    /// Bytes may have reached the device but no confirmation came: it may print. Never resent
    /// automatically.
    #[error("the copier stopped answering after receiving the job: it may or may not print")]
    Ambiguous(String),
    /// The profile cannot carry this ticket (colour to a mono device…).
    #[error("{0}")]
    Unsupported(String),
    /// Reading the document from the spool failed.
    #[error("the document could not be read: {0}")]
    Document(String),
}

impl OutputError {
    /// True when nothing can have been printed, so the job may be held again or retried.
    pub fn nothing_printed(&self) -> bool {
        !matches!(self, OutputError::Ambiguous(_))
    }

    /// A short name for the kind of failure (the `kind` label of `folio_output_errors_total`).
    pub fn kind(&self) -> &'static str {
        match self {
            OutputError::Unreachable(_) => "unreachable",
            OutputError::Busy => "busy",
            OutputError::Refused(_) => "refused",
            OutputError::Ambiguous(_) => "ambiguous",
            OutputError::Unsupported(_) => "unsupported",
            OutputError::Document(_) => "document",
        }
    }
}

/// What the device said after taking the job.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// The device's job id (IPP); `None` for socket/LPD, where "sent" is all Folio knows.
    pub remote_job_id: Option<i32>,
    pub bytes: u64,
}

/// The state of a device, as far as it can tell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceStatus {
    /// Can print now.
    pub ready: bool,
    /// `idle`, `processing`, `stopped`, `unreachable`, `reachable` (socket: TCP only).
    pub state: String,
    /// IPP printer-state-reasons (`media-empty`, `media-jam`…), minus `none`.
    pub reasons: Vec<String>,
    /// A sentence for the user at the copier.
    pub message: String,
}

impl DeviceStatus {
    fn unreachable(why: &str) -> DeviceStatus {
        DeviceStatus {
            ready: false,
            state: "unreachable".into(),
            reasons: Vec::new(),
            message: format!("this copier does not answer ({why}); try another one"),
        }
    }
}

/// The final state of a job on an IPP device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteOutcome {
    Completed { impressions: Option<i32> },
    Aborted { reason: String },
    Canceled,
}

/// Counts bytes read through it, so a failure can tell whether any left Folio.
pub struct CountingReader<R> {
    inner: R,
    pub count: std::sync::Arc<std::sync::atomic::AtomicU64>,
    failed: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl<R: Read> CountingReader<R> {
    pub fn new(inner: R) -> CountingReader<R> {
        CountingReader {
            inner,
            count: Default::default(),
            failed: Default::default(),
        }
    }

    /// A handle on the count and on a read failure of the document itself.
    pub fn probe(&self) -> ReadProbe {
        ReadProbe {
            count: self.count.clone(),
            failed: self.failed.clone(),
        }
    }
}

/// See [`CountingReader::probe`].
#[derive(Clone)]
pub struct ReadProbe {
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
    failed: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl ReadProbe {
    pub fn bytes(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The error of the document reader, when reading (decrypting) failed.
    pub fn document_error(&self) -> Option<String> {
        self.failed.lock().ok().and_then(|f| f.clone())
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.count
                    .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                Ok(n)
            }
            Err(e) => {
                if let Ok(mut f) = self.failed.lock() {
                    *f = Some(e.to_string());
                }
                Err(e)
            }
        }
    }
}

/// The state of the device at `uri`, within `limits` (IPP: printer-state and reasons; socket
/// and LPD: whether the port answers). Blocks.
pub fn device_status(
    uri: &str,
    profile: &crate::drivers::DriverProfile,
    limits: Limits,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
) -> DeviceStatus {
    use crate::drivers::Protocol;
    match Protocol::of_uri(uri) {
        Some(Protocol::Ipp | Protocol::Ipps) => {
            ipp::IppDevice::new(uri, profile, limits, tls).status()
        }
        Some(p @ (Protocol::Socket | Protocol::Lpd)) => {
            let address = p.address_of(uri);
            let target = match limits.egress.connect_address(&address) {
                Ok(a) => a,
                Err(e) => return DeviceStatus::unreachable(&e.to_string()),
            };
            let reachable = std::net::TcpStream::connect_timeout(&target, limits.connect).is_ok();
            if reachable {
                DeviceStatus {
                    ready: true,
                    state: "reachable".into(),
                    reasons: Vec::new(),
                    message: "ready (this copier does not report paper or toner)".into(),
                }
            } else {
                DeviceStatus::unreachable("no answer on its port")
            }
        }
        None => DeviceStatus::unreachable("unknown protocol"),
    }
}
