//! Release at a copier: a badge opens a session at a device, the session lists the holder's
//! jobs, and released jobs go to that device (see [`deliver`]). Sessions live in the database
//! (any node can serve the terminal's next request) and expire when idle. Failed badge and PIN
//! attempts lock the badge, and the device, for a while.

mod checks;
pub mod delegation;
mod deliver;
mod dispatch;
pub use dispatch::{ClinicalLane, LaneReceiver};
mod recovery;
pub mod settings;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use serde::Serialize;

use crate::db::models::jobs::Which;
use crate::db::models::release_sessions::{self as rows, SessionRow};
use crate::db::{self, Db, DbError};
use crate::devices::{Device, DeviceRegistry};
use crate::directory::{BadgeError, DirectoryService};
use crate::domain::{ColorMode, JobState, JobStateReason, Sides};
use crate::output::Limits;
use crate::spool::{Spool, SpoolError};

/// Failed attempts (unknown badge, wrong PIN, wrong password) before a badge, a login or a
/// device is locked.
const MAX_FAILURES: u32 = 5;
/// How long failures are counted, and a badge's or a login's lock lasts (PIN guessing).
const LOCKOUT: Duration = Duration::from_secs(300);
/// A device's lock (badge number guessing) is short: while it lasts nobody can badge there,
/// so one person must not be able to take a copier away from a ward for long.
const DEVICE_LOCKOUT: Duration = Duration::from_secs(60);

/// Why a release request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Badge(#[from] BadgeError),
    #[error("too many failed attempts: try again in a few minutes")]
    Locked,
    #[error("wrong login or password")]
    WrongPassword,
    #[error("no such session, or it has expired: badge again")]
    NoSession,
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A job as the terminal shows it.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub pages: Option<i32>,
    pub sheets: Option<i32>,
    pub copies: i32,
    pub color: bool,
    pub duplex: bool,
    pub submitted: i64,
    /// `held`, or `needs-decision` when a previous release may or may not have printed.
    pub state: &'static str,
    /// Why it is here again, when it is (shown to the user).
    pub message: Option<String>,
    /// Someone else's job the session holder may release for them.
    pub delegated: bool,
}

/// An open session, as returned to the terminal.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub session: String,
    pub user: String,
    pub display_name: String,
    pub device: String,
    pub expires_at: i64,
    pub degraded: bool,
    /// Can the copier print now (checked within 2 s).
    pub device_status: crate::output::DeviceStatus,
    pub jobs: Vec<JobView>,
}

/// What happened to one job of a release request.
#[derive(Debug, Clone, Serialize)]
pub struct JobResult {
    pub id: i64,
    /// `releasing` (on its way to the copier), `not-found`, `not-held`, `not-here`,
    /// `over-quota`.
    pub result: &'static str,
    pub message: String,
    /// Said to the user although the job prints (a soft monthly budget passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Which jobs to release.
#[derive(Debug, Clone)]
pub enum Selection {
    All,
    Jobs(Vec<i64>),
}

#[derive(Default)]
struct Failures {
    by_key: HashMap<String, (u32, Instant)>,
}

impl Failures {
    fn window(key: &str) -> Duration {
        if key.starts_with("device:") {
            DEVICE_LOCKOUT
        } else {
            LOCKOUT
        }
    }

    fn locked(&self, key: &str) -> bool {
        let window = Failures::window(key);
        self.by_key
            .get(key)
            .is_some_and(|(n, since)| *n >= MAX_FAILURES && since.elapsed() < window)
    }

    fn fail(&mut self, key: String) {
        let window = Failures::window(&key);
        if self.by_key.len() >= 100_000 {
            self.by_key
                .retain(|_, (_, since)| since.elapsed() < LOCKOUT);
        }
        let e = self.by_key.entry(key).or_insert((0, Instant::now()));
        if e.1.elapsed() >= window {
            *e = (0, Instant::now());
        }
        e.0 += 1;
    }
}

/// The release service (cheap to clone).
#[derive(Clone)]
pub struct ReleaseService {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    spool: Spool,
    directory: DirectoryService,
    devices: DeviceRegistry,
    delegations: delegation::Delegations,
    idle: Duration,
    limits: Limits,
    failures: Mutex<Failures>,
    /// This node's name, recorded on deliveries (see [`recovery`]).
    node: String,
    policy: crate::policy::PolicyStore,
    quotas: crate::policy::quota::Quotas,
    /// Stamps watermarks on documents in sandboxed workers (the print lane).
    stamper: crate::document::Sandboxed,
}

impl ReleaseService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        spool: Spool,
        directory: DirectoryService,
        devices: DeviceRegistry,
        settings: &settings::ReleaseSettings,
        node: String,
        policy: crate::policy::PolicyStore,
        stamper: crate::document::Sandboxed,
    ) -> ReleaseService {
        let quotas = crate::policy::quota::Quotas::new(db.clone());
        let egress = devices.egress();
        ReleaseService {
            inner: Arc::new(Inner {
                quotas,
                delegations: delegation::Delegations {
                    db: db.clone(),
                    directory: directory.clone(),
                },
                db,
                spool,
                directory,
                devices,
                idle: Duration::from_secs(settings.session_idle_secs.max(10)),
                limits: Limits {
                    io: Duration::from_secs(settings.copier_timeout_secs.max(1)),
                    egress,
                    ..Limits::default()
                },
                failures: Mutex::new(Failures::default()),
                node,
                policy,
                stamper,
            }),
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, Failures> {
        self.inner
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a session for the holder of `badge` at `device`.
    pub async fn start(
        &self,
        device: &Device,
        badge: &str,
        pin: Option<&str>,
    ) -> Result<SessionView, ReleaseError> {
        // The card, not the way a reader spelled it: a lock holds whatever the reader's format.
        let canonical = self
            .inner
            .directory
            .rules()
            .candidates(badge)
            .first()
            .map(|c| c.value.clone())
            .unwrap_or_else(|| badge.trim().to_uppercase());
        let badge_key = format!("badge:{canonical}");
        let device_key = format!("device:{}", device.id);
        {
            let f = self.failures();
            if f.locked(&badge_key) || f.locked(&device_key) {
                return Err(ReleaseError::Locked);
            }
        }
        let found = match self.inner.directory.resolve_badge(badge, pin).await {
            Ok(m) => m,
            Err(e) => {
                if matches!(
                    e,
                    BadgeError::Unknown | BadgeError::WrongPin | BadgeError::Invalid
                ) {
                    {
                        let mut f = self.failures();
                        f.fail(badge_key);
                        f.fail(device_key);
                    }
                    // The card number stays out of the trail: it opens sessions.
                    crate::audit::record(
                        &self.inner.db,
                        crate::audit::Record {
                            actor: "anonymous".into(),
                            action: "release.session",
                            object: format!("device:{}", device.id),
                            device: Some(device.name.clone()),
                            outcome: crate::audit::Outcome::Failure,
                            detail: serde_json::json!({ "reason": e.to_string() }),
                        },
                    )
                    .await;
                }
                return Err(e.into());
            }
        };
        self.open(device, &found.user, found.degraded, "badge")
            .await
    }

    /// Checks a login and password typed at `device`'s terminal (from `address`, the panel's
    /// browser): the directory's throttle (per login, per address, audited), and the device's
    /// own lockout shared with badges.
    pub async fn authenticate(
        &self,
        device: &Device,
        address: Option<std::net::IpAddr>,
        login: &str,
        password: &str,
    ) -> Result<crate::directory::DirectoryUser, ReleaseError> {
        use crate::directory::throttle::{Channel, Origin};
        use crate::directory::Login;
        let device_key = format!("device:{}", device.id);
        if self.failures().locked(&device_key) {
            return Err(ReleaseError::Locked);
        }
        let origin = Origin::new(Channel::Terminal, address);
        match self.inner.directory.sign_in(origin, login, password).await {
            Ok(Login::Accepted(user)) => Ok(user),
            Ok(Login::Throttled(_)) => Err(ReleaseError::Locked),
            Ok(Login::Refused) => {
                self.failures().fail(device_key);
                Err(ReleaseError::WrongPassword)
            }
            Err(crate::directory::LookupError::Unavailable(m)) => {
                Err(ReleaseError::Badge(BadgeError::Unavailable(m)))
            }
            Err(crate::directory::LookupError::Database(m)) => {
                Err(ReleaseError::Badge(BadgeError::Database(m)))
            }
        }
    }

    /// Opens a session for `user` at `device` (who proved who they are).
    pub(crate) async fn open(
        &self,
        device: &Device,
        user: &crate::directory::DirectoryUser,
        degraded: bool,
        via: &'static str,
    ) -> Result<SessionView, ReleaseError> {
        let mut raw = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let now = db::now_ms();
        let row = SessionRow {
            id: hex::encode(raw),
            uid: user.uid.clone(),
            device_id: device.id,
            degraded: degraded as i16,
            created_at: now,
            expires_at: now + self.inner.idle.as_millis() as i64,
            ended_at: None,
        };
        let r = row.clone();
        let (uid, device_name) = (user.uid.clone(), device.name.clone());
        self.inner
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    rows::insert(conn, &r)?;
                    crate::audit::append(
                        conn,
                        crate::audit::Event {
                            actor: &uid,
                            action: "release.session",
                            object: &format!("device:{}", r.device_id),
                            device: Some(&device_name),
                            detail: serde_json::json!({
                                "device": device_name, "degraded": degraded, "via": via,
                            })
                            .to_string(),
                            ..Default::default()
                        },
                    )
                })
                .map_err(DbError::from)
            })
            .await?;
        Ok(SessionView {
            device_status: self.device_status(device).await,
            session: row.id,
            user: user.uid.clone(),
            display_name: user.display_name.clone(),
            device: device.name.clone(),
            expires_at: row.expires_at,
            degraded,
            jobs: self.jobs_of(&user.uid).await?,
        })
    }

    /// The device's state, told within 2 s.
    pub async fn device_status(&self, device: &Device) -> crate::output::DeviceStatus {
        let Some(profile) = self.inner.devices.drivers().get(&device.driver).cloned() else {
            return crate::output::DeviceStatus {
                ready: false,
                state: "unknown".into(),
                reasons: Vec::new(),
                message: "this copier's driver profile is missing: call IT".into(),
            };
        };
        let uri = device.uri.clone();
        let limits = Limits {
            connect: Duration::from_millis(1500),
            io: Duration::from_millis(1500),
            egress: self.inner.devices.egress(),
        };
        let tls = Some(self.inner.devices.tls_for(device));
        let status = tokio::task::spawn_blocking(move || {
            crate::output::device_status(&uri, &profile, limits, tls)
        })
        .await
        .unwrap_or_else(|_| crate::output::DeviceStatus {
            ready: false,
            state: "unknown".into(),
            reasons: Vec::new(),
            message: "the copier's state could not be checked".into(),
        });
        crate::metrics::METRICS
            .device_up
            .with_label_values(&[device.name.as_str()])
            .set(i64::from(status.ready));
        status
    }

    /// Asks every device in service its state (for `folio_device_up`), 16 at a time; devices
    /// removed since the last round leave the metric.
    pub async fn poll_devices(&self) {
        use futures_util::StreamExt;
        let devices = match self.inner.devices.list().await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list devices to check them");
                return;
            }
        };
        crate::metrics::METRICS.device_up.reset();
        futures_util::stream::iter(devices.iter())
            .for_each_concurrent(16, |d| async move {
                self.device_status(d).await;
            })
            .await;
    }

    /// The open session `id` at `device`, its idle expiry pushed back.
    async fn session(&self, device: &Device, id: &str) -> Result<SessionRow, ReleaseError> {
        let (id, device_id, idle) = (id.to_owned(), device.id, self.inner.idle.as_millis() as i64);
        let row = self
            .inner
            .db
            .run(move |conn| {
                let now = db::now_ms();
                let row = rows::open(conn, &id, device_id, now)?;
                if row.is_some() {
                    rows::touch(conn, &id, now + idle)?;
                }
                Ok::<_, DbError>(row)
            })
            .await?;
        row.ok_or(ReleaseError::NoSession)
    }

    /// The session again (the terminal refreshes its list).
    pub async fn view(&self, device: &Device, id: &str) -> Result<SessionView, ReleaseError> {
        let s = self.session(device, id).await?;
        let display_name = match self.inner.directory.user(&s.uid).await {
            Ok(Some(l)) => l.user.display_name,
            _ => s.uid.clone(),
        };
        Ok(SessionView {
            device_status: self.device_status(device).await,
            jobs: self.jobs_of(&s.uid).await?,
            session: s.id,
            display_name,
            user: s.uid,
            device: device.name.clone(),
            expires_at: db::now_ms() + self.inner.idle.as_millis() as i64,
            degraded: s.degraded != 0,
        })
    }

    /// The session's jobs, without asking the copier its state.
    pub async fn jobs(&self, device: &Device, id: &str) -> Result<Vec<JobView>, ReleaseError> {
        let s = self.session(device, id).await?;
        self.jobs_of(&s.uid).await
    }

    /// Ends a session (logout at the terminal).
    pub async fn end(&self, device: &Device, id: &str) -> Result<(), ReleaseError> {
        self.session(device, id).await?;
        let id = id.to_owned();
        self.inner
            .db
            .run(move |conn| Ok::<_, DbError>(rows::end(conn, &id, db::now_ms())?))
            .await?;
        Ok(())
    }

    /// The delegations service.
    pub fn delegations(&self) -> &delegation::Delegations {
        &self.inner.delegations
    }

    /// The jobs `uid` can release: their held ones and those awaiting their decision, then the
    /// held jobs of owners who delegated to them.
    async fn jobs_of(&self, uid: &str) -> Result<Vec<JobView>, ReleaseError> {
        let mut jobs = self
            .inner
            .spool
            .list(Which::NotCompleted, Some(uid.to_owned()), 500)
            .await?;
        let groups = match self.inner.directory.user(uid).await {
            Ok(Some(l)) => l.user.groups,
            _ => Vec::new(),
        };
        for owner_key in self.inner.delegations.owners_for(uid, &groups).await? {
            // Jobs carry the owner's uid as the directory spells it.
            let owner = match self.inner.directory.user(&owner_key).await {
                Ok(Some(l)) => l.user.uid,
                _ => owner_key,
            };
            jobs.extend(
                self.inner
                    .spool
                    .list(Which::NotCompleted, Some(owner), 500)
                    .await?
                    .into_iter()
                    .filter(|j| JobState::from_code(j.state) == Some(JobState::PendingHeld)),
            );
        }
        let mut out = Vec::new();
        for j in jobs {
            if let Some(view) = self.view_of(j, uid).await? {
                out.push(view);
            }
        }
        Ok(out)
    }

    /// A held job (or one awaiting a decision) as `uid` sees it; other states give `None`.
    async fn view_of(
        &self,
        j: crate::db::models::jobs::JobRow,
        uid: &str,
    ) -> Result<Option<JobView>, ReleaseError> {
        if JobStateReason::from_code(j.state_reason) == JobStateReason::DocumentAccessError {
            // Set aside at start-up: its document is missing, so it is not offered for release.
            return Ok(None);
        }
        let state = match JobState::from_code(j.state) {
            Some(JobState::PendingHeld) => "held",
            Some(JobState::ProcessingStopped) => "needs-decision",
            _ => return Ok(None),
        };
        let delegated = j.owner != uid;
        let pages = match self.inner.spool.job(j.id).await? {
            Some((_, docs)) => docs.iter().filter_map(|d| d.pages).reduce(|a, b| a + b),
            None => None,
        };
        let duplex = Sides::from_code(j.sides) != Sides::OneSided;
        let sheets = pages.map(|p| {
            let per_copy = if duplex { (p + 1) / 2 } else { p };
            per_copy * j.copies
        });
        Ok(Some(JobView {
            id: j.id,
            name: j.name,
            owner: j.owner,
            pages,
            sheets,
            copies: j.copies,
            color: ColorMode::from_code(j.color_mode) == ColorMode::Color,
            duplex,
            submitted: j.created_at,
            state,
            // Set only when a release did not go through (submission leaves it empty).
            message: j.state_message,
            delegated,
        }))
    }

    /// Releases jobs of the session's user to the session's device. Each released job is on
    /// its way when this returns; the copier's answer arrives later (the job's state follows).
    pub async fn release(
        &self,
        device: &Device,
        id: &str,
        selection: Selection,
    ) -> Result<Vec<JobResult>, ReleaseError> {
        let s = self.session(device, id).await?;
        let mine = self.jobs_of(&s.uid).await?;
        let wanted: Vec<i64> = match selection {
            Selection::All => mine
                .iter()
                .filter(|j| j.state == "held")
                .map(|j| j.id)
                .collect(),
            Selection::Jobs(ids) => ids,
        };
        let profile = self.inner.devices.drivers().get(&device.driver).cloned();
        let mut results = Vec::new();
        for job_id in wanted {
            let Some(job) = mine.iter().find(|j| j.id == job_id) else {
                // Someone else's job, or no job: the same answer (nobody learns others' ids).
                results.push(JobResult {
                    id: job_id,
                    result: "not-found",
                    message: "no such job of yours".into(),
                    warning: None,
                });
                continue;
            };
            let message = if job.delegated {
                format!("released by {} for {} at {}", s.uid, job.owner, device.name)
            } else {
                format!("released at {}", device.name)
            };
            results.push(
                self.dispatch(device, &s.uid, job, profile.as_ref(), message)
                    .await?,
            );
        }
        Ok(results)
    }

    /// Cancels jobs of the session's user.
    pub async fn cancel(
        &self,
        device: &Device,
        id: &str,
        jobs: Vec<i64>,
    ) -> Result<Vec<JobResult>, ReleaseError> {
        let s = self.session(device, id).await?;
        let mine = self.jobs_of(&s.uid).await?;
        let mut results = Vec::new();
        for job_id in jobs {
            // A delegation lets the delegate release the owner's jobs, never discard them.
            let delegated = mine.iter().any(|j| j.id == job_id && j.delegated);
            if delegated || !mine.iter().any(|j| j.id == job_id) {
                results.push(JobResult {
                    id: job_id,
                    result: "not-found",
                    message: if delegated {
                        "only its owner can delete this job".into()
                    } else {
                        "no such job of yours".into()
                    },
                    warning: None,
                });
                continue;
            }
            self.inner
                .spool
                .cancel(job_id, s.uid.clone(), false)
                .await?;
            results.push(JobResult {
                id: job_id,
                result: "canceled",
                message: "canceled".into(),
                warning: None,
            });
        }
        Ok(results)
    }
}
