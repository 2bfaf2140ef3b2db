//! Sending one job to one device: the checks of [`super::checks`], the delivery row written
//! with the move to `processing`, then [`super::deliver`] on its way. Used by a badge release
//! and by the clinical lane (a rule that sends a job straight to a named device).

use super::{checks, deliver, JobResult, JobView, ReleaseError, ReleaseService};
use crate::db::models::deliveries::{self, NewDelivery};
use crate::db::{self, DbError};
use crate::devices::Device;
use crate::domain::{JobState, JobStateReason};
use crate::drivers::DriverProfile;
use crate::spool::SpoolError;

impl ReleaseService {
    /// Sends `job` to `device` for `actor` when the checks let it, with `message` as the job's
    /// state message. Refusals are results, not errors.
    pub(super) async fn dispatch(
        &self,
        device: &Device,
        actor: &str,
        job: &JobView,
        profile: Option<&DriverProfile>,
        message: String,
    ) -> Result<JobResult, ReleaseError> {
        let (profile, usage, warning, watermark) =
            match self.admit(device, actor, job, profile).await? {
                checks::Admission::Go {
                    profile,
                    usage,
                    warning,
                    watermark,
                } => (*profile, usage, warning, watermark),
                checks::Admission::Refused { result, message } => {
                    return Ok(JobResult {
                        id: job.id,
                        result,
                        message,
                        warning: None,
                    })
                }
            };
        // The delivery row is written with the move to `processing`: a node that stops before
        // the job ends leaves it open, and marks the job at its next start.
        let delivery = NewDelivery {
            job_id: job.id,
            device_id: device.id,
            node: self.inner.node.clone(),
            actor: actor.to_owned(),
            started_at: db::now_ms(),
        };
        let record = move |conn: &mut db::Conn, _: &crate::spool::Transitioned| {
            deliveries::insert(conn, &delivery)?;
            Ok(())
        };
        match self
            .inner
            .spool
            .transition_then(
                job.id,
                JobState::Processing,
                JobStateReason::JobPrinting,
                Some(message),
                (actor.to_owned(), Some(device.name.clone())),
                record,
            )
            .await
        {
            Ok(t) => {
                let target = deliver::Target {
                    device: device.clone(),
                    profile,
                    tls: self.inner.devices.tls_for(device),
                    limits: self.inner.limits.clone(),
                    usage,
                    watermark: watermark.map(|text| (text, self.inner.stamper.clone())),
                };
                deliver::spawn(self.inner.spool.clone(), target, t.job);
                Ok(JobResult {
                    id: job.id,
                    result: "releasing",
                    message: format!("sent to {}", device.name),
                    warning,
                })
            }
            Err(SpoolError::NotPossible(m)) => Ok(JobResult {
                id: job.id,
                result: "not-held",
                message: m,
                warning: None,
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// The clinical lane: `rule` sends job `job_id` straight to the device `device_name`, no
    /// badge needed (wristbands, labels, urgent documents). When it cannot go (no such device,
    /// a check refuses it), the job stays held with the reason, so its owner can still print
    /// it at any copier: a clinical document is never dropped.
    pub async fn route(
        &self,
        job_id: i64,
        device_name: &str,
        rule: &str,
    ) -> Result<JobResult, ReleaseError> {
        let job = match self.held_job(job_id).await? {
            Ok(job) => job,
            Err(refused) => return Ok(refused),
        };
        let owner = job.owner.clone();
        let Some(device) = self.inner.devices.get(device_name).await? else {
            return self.not_routed(job_id, device_name, "no such device").await;
        };
        let profile = self.inner.devices.drivers().get(&device.driver).cloned();
        let message = format!("sent to {} by the rule \"{rule}\"", device.name);
        let result = self
            .dispatch(&device, &owner, &job, profile.as_ref(), message)
            .await?;
        if result.result != "releasing" {
            return self.not_routed(job_id, device_name, &result.message).await;
        }
        tracing::info!(job_id, device = %device.name, %rule, "job sent by the clinical lane");
        Ok(result)
    }

    /// IT releases a held job for its owner at `device_name` (the owner on the phone, their
    /// badge forgotten): the same checks as a badge release, the helpdesk named in the audit.
    pub async fn release_for(
        &self,
        job_id: i64,
        device_name: &str,
        actor: &str,
    ) -> Result<JobResult, ReleaseError> {
        let job = match self.held_job(job_id).await? {
            Ok(job) => job,
            Err(refused) => return Ok(refused),
        };
        let owner = job.owner.clone();
        let Some(device) = self.inner.devices.get(device_name).await? else {
            return Ok(JobResult {
                id: job_id,
                result: "not-found",
                message: format!("no device called {device_name}"),
                warning: None,
            });
        };
        let profile = self.inner.devices.drivers().get(&device.driver).cloned();
        let message = format!("released by {actor} (IT) for {owner} at {}", device.name);
        self.dispatch(&device, actor, &job, profile.as_ref(), message)
            .await
    }

    /// Job `job_id` as its owner sees it when it is held, or the answer when it is not.
    async fn held_job(&self, job_id: i64) -> Result<Result<JobView, JobResult>, ReleaseError> {
        let refused = |result, message: &str| {
            Ok(Err(JobResult {
                id: job_id,
                result,
                message: message.into(),
                warning: None,
            }))
        };
        let Some((row, _)) = self.inner.spool.job(job_id).await? else {
            return refused("not-found", "no such job");
        };
        let owner = row.owner.clone();
        match self.view_of(row, &owner).await? {
            Some(job) if job.state == "held" => Ok(Ok(job)),
            _ => refused("not-held", "the job is not held"),
        }
    }

    /// Leaves a job the lane could not send held, saying why (the owner sees it at a copier).
    async fn not_routed(
        &self,
        job_id: i64,
        device: &str,
        why: &str,
    ) -> Result<JobResult, ReleaseError> {
        let message = format!("not sent to {device} ({why}): release it at any copier");
        tracing::warn!(job_id, %device, %why, "the clinical lane could not send a job");
        let note = message.clone();
        self.inner
            .db
            .run(move |conn| {
                crate::db::models::jobs::set_held_message(conn, job_id, &note)
                    .map_err(DbError::from)
            })
            .await?;
        Ok(JobResult {
            id: job_id,
            result: "not-routed",
            message,
            warning: None,
        })
    }
}

/// A job a rule sends straight to a device.
#[derive(Debug)]
struct Routed {
    job_id: i64,
    device: String,
    rule: String,
}

/// Intake's side of the clinical lane: jobs handed to the release service once they are held
/// (durable first: a job whose hand-over is lost stays held and releasable with a badge).
#[derive(Clone)]
pub struct ClinicalLane(tokio::sync::mpsc::UnboundedSender<Routed>);

/// The release service's side, served by [`LaneReceiver::serve`].
pub struct LaneReceiver(tokio::sync::mpsc::UnboundedReceiver<Routed>);

impl ClinicalLane {
    pub fn new() -> (ClinicalLane, LaneReceiver) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (ClinicalLane(tx), LaneReceiver(rx))
    }

    /// Asks for `job_id` to be sent to `device` because of `rule`.
    pub fn send(&self, job_id: i64, device: &str, rule: &str) {
        let routed = Routed {
            job_id,
            device: device.to_owned(),
            rule: rule.to_owned(),
        };
        if self.0.send(routed).is_err() {
            tracing::error!(
                job_id,
                "the clinical lane is not running: the job stays held"
            );
        }
    }
}

impl LaneReceiver {
    /// Sends each handed-over job, one at a time (the copier's answer is followed apart).
    pub fn serve(mut self, release: ReleaseService) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while let Some(r) = self.0.recv().await {
                if let Err(e) = release.route(r.job_id, &r.device, &r.rule).await {
                    tracing::error!(job_id = r.job_id, error = %e, "the clinical lane failed: the job stays held");
                }
            }
        })
    }
}
