//! What keeps a job from printing at this copier now, checked at release before anything is
//! sent: IT's rules evaluated again with the device and its site, the owner's monthly budgets,
//! and the copier's largest job.

use super::deliver::Usage;
use super::{JobView, ReleaseError, ReleaseService};
use crate::devices::Device;
use crate::domain::{ColorMode, Sides};
use crate::drivers::DriverProfile;
use crate::policy::quota::Verdict;

/// The answer for one job.
pub(super) enum Admission {
    /// Send it, with what it will count against budgets and a warning for the user, if any.
    Go {
        profile: Box<DriverProfile>,
        usage: Usage,
        warning: Option<String>,
        /// The line IT's rules stamp on every page, owner and date filled in.
        watermark: Option<String>,
    },
    /// Not here: the result keyword and why.
    Refused {
        result: &'static str,
        message: String,
    },
}

fn refused(result: &'static str, message: String) -> Admission {
    Admission::Refused { result, message }
}

impl ReleaseService {
    /// Whether `job` may print at `device` now.
    pub(super) async fn admit(
        &self,
        device: &Device,
        uid: &str,
        job: &JobView,
        profile: Option<&DriverProfile>,
    ) -> Result<Admission, ReleaseError> {
        let watermark = match self.rules_here(device, uid, job).await? {
            Ok(watermark) => watermark,
            Err(refusal) => return Ok(refused("not-here", refusal)),
        };
        // Monthly budgets: the owner's (counted against the owner, even when a delegate
        // releases), checked with the pages this job will print here.
        let department = match self.inner.directory.user(&job.owner).await {
            Ok(Some(l)) => l.user.department,
            _ => String::new(),
        };
        let color = job.color && device.capabilities.color;
        let pages = (job.pages.unwrap_or(1).max(1) as u32).saturating_mul(job.copies.max(1) as u32);
        let warning = match self
            .inner
            .quotas
            .check(&job.owner, &department, color, u64::from(pages))
            .await?
        {
            Verdict::Within => None,
            Verdict::Warn(w) => Some(w),
            Verdict::Refuse(m) => return Ok(refused("over-quota", m)),
        };
        let Some(profile) = profile.cloned() else {
            return Ok(refused(
                "not-held",
                "this copier's driver profile is missing".into(),
            ));
        };
        // The profile's largest job (a quirk of some copiers): refused here, before a byte is
        // sent, so the user can print it at another copier.
        if profile.quirks.max_job_mb > 0 {
            let bytes: u64 = match self.inner.spool.job(job.id).await? {
                Some((_, docs)) => docs.iter().map(|d| d.size_bytes.max(0) as u64).sum(),
                None => 0,
            };
            if bytes > profile.quirks.max_job_mb.saturating_mul(1024 * 1024) {
                return Ok(refused(
                    "too-large",
                    format!(
                        "{} takes documents up to {} MB: print this one at another copier",
                        device.name, profile.quirks.max_job_mb
                    ),
                ));
            }
        }
        Ok(Admission::Go {
            profile: Box::new(profile),
            usage: Usage {
                department,
                color,
                estimated_pages: pages,
            },
            warning,
            watermark,
        })
    }

    /// IT's rules evaluated again at release, with the device and its site: the watermark to
    /// stamp, or why they keep `job` from printing here (a site restriction, a refusal).
    async fn rules_here(
        &self,
        device: &Device,
        uid: &str,
        job: &JobView,
    ) -> Result<Result<Option<String>, String>, ReleaseError> {
        let rules = self.inner.policy.rules().await?;
        if rules.is_empty() {
            return Ok(Ok(None));
        }
        let (row, docs) = match self.inner.spool.job(job.id).await? {
            Some((j, docs)) => (Some(j), docs),
            None => (None, Vec::new()),
        };
        // Colour on any page of the job's documents (unknown when one could not be told).
        let color_used = docs
            .iter()
            .map(|d| d.color_used)
            .try_fold(false, |any, c| c.map(|c| any || c));
        let requested = crate::policy::Requested {
            sides: row
                .as_ref()
                .and_then(|j| j.requested_sides)
                .map(Sides::from_code),
            color_mode: row
                .as_ref()
                .and_then(|j| j.requested_color_mode)
                .map(ColorMode::from_code),
            copies: Some(job.copies.max(1) as u32),
        };
        let mut facts = crate::policy::facts_for(
            &self.inner.directory,
            &job.owner,
            crate::policy::JobFacts {
                requested,
                pages: job.pages.map(|p| p.max(0) as u32),
                color_used,
                document_name: job.name.clone(),
                application: String::new(),
            },
        )
        .await;
        facts.device = Some(device.name.clone());
        facts.site = Some(device.location.site.clone());
        let decision = crate::policy::rules::evaluate(&rules, &facts);
        if let Some(message) = decision.refuse {
            return Ok(Err(message));
        }
        let sites = &decision.release_sites;
        if !sites.is_empty()
            && !sites
                .iter()
                .any(|s| s.trim().eq_ignore_ascii_case(device.location.site.trim()))
        {
            tracing::info!(job_id = job.id, user = %uid, device = %device.name, "release refused here by a rule");
            return Ok(Err(format!(
                "this document can only be printed at {}",
                sites.join(", ")
            )));
        }
        let today = jiff::Zoned::now().date().to_string();
        Ok(Ok(decision.watermark.map(|w| {
            w.replace("{owner}", &job.owner)
                .replace("{date}", &today)
                .replace("{device}", &device.name)
        })))
    }
}
