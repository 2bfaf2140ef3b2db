//! Every Prometheus metric of Folio, in one registry, rendered at `/metrics`.

use std::sync::LazyLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// The metrics of one Folio process.
pub struct Metrics {
    registry: Registry,
    /// IPP requests by operation and status keyword.
    pub ipp_requests: IntCounterVec,
    /// IPP request latency by operation.
    pub ipp_duration: HistogramVec,
    /// Job state transitions by from/to state.
    pub job_transitions: IntCounterVec,
    /// Jobs currently held.
    pub jobs_held: IntGauge,
    /// Jobs accepted into the spool.
    pub jobs_submitted: IntCounter,
    /// Bytes of encrypted documents in the spool.
    pub spool_bytes: IntGauge,
    /// Jobs in one group commit.
    pub commit_batch: Histogram,
    /// Jobs expired unreleased.
    pub jobs_expired: IntCounter,
    /// Directory lookups by kind (`uid`, `badge`, `password`) and outcome (`directory`,
    /// `cache`, `degraded`, `unknown`, `unavailable`, …).
    pub directory_lookups: IntCounterVec,
    /// Directory lookup latency by kind, cache included.
    pub directory_duration: HistogramVec,
    /// 1 while the directory is unreachable and Folio answers from its cache.
    pub directory_degraded: IntGauge,
    /// Badge numbers refused because two people hold them.
    pub badge_conflicts: IntCounter,
}

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new();
    let ipp_requests = IntCounterVec::new(
        Opts::new(
            "folio_ipp_requests_total",
            "IPP requests by operation and status",
        ),
        &["operation", "status"],
    )?;
    let ipp_duration = HistogramVec::new(
        HistogramOpts::new(
            "folio_ipp_request_duration_seconds",
            "IPP request latency, body included",
        )
        .buckets(vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
        ]),
        &["operation"],
    )?;
    let job_transitions = IntCounterVec::new(
        Opts::new("folio_job_transitions_total", "Job state transitions"),
        &["from", "to"],
    )?;
    let jobs_held = IntGauge::new("folio_jobs_held", "Jobs currently held")?;
    let jobs_submitted =
        IntCounter::new("folio_jobs_submitted_total", "Jobs accepted into the spool")?;
    let spool_bytes = IntGauge::new(
        "folio_spool_bytes",
        "Bytes of encrypted documents written to the spool by this process, minus purged",
    )?;
    let commit_batch = Histogram::with_opts(
        HistogramOpts::new("folio_commit_batch_jobs", "Jobs per group commit")
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
    )?;
    let jobs_expired = IntCounter::new(
        "folio_jobs_expired_total",
        "Jobs expired unreleased and purged",
    )?;
    let directory_lookups = IntCounterVec::new(
        Opts::new(
            "folio_directory_lookups_total",
            "Directory lookups by kind and outcome",
        ),
        &["kind", "outcome"],
    )?;
    let directory_duration = HistogramVec::new(
        HistogramOpts::new(
            "folio_directory_lookup_duration_seconds",
            "Directory lookup latency, cache included",
        )
        .buckets(vec![
            0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0,
        ]),
        &["kind"],
    )?;
    let directory_degraded = IntGauge::new(
        "folio_directory_degraded",
        "1 while the directory is unreachable and answers come from the cache",
    )?;
    let badge_conflicts = IntCounter::new(
        "folio_badge_conflicts_total",
        "Badge numbers refused because two people hold them",
    )?;
    registry.register(Box::new(directory_lookups.clone()))?;
    registry.register(Box::new(directory_duration.clone()))?;
    registry.register(Box::new(directory_degraded.clone()))?;
    registry.register(Box::new(badge_conflicts.clone()))?;
    registry.register(Box::new(ipp_requests.clone()))?;
    registry.register(Box::new(ipp_duration.clone()))?;
    registry.register(Box::new(job_transitions.clone()))?;
    registry.register(Box::new(jobs_held.clone()))?;
    registry.register(Box::new(jobs_submitted.clone()))?;
    registry.register(Box::new(spool_bytes.clone()))?;
    registry.register(Box::new(commit_batch.clone()))?;
    registry.register(Box::new(jobs_expired.clone()))?;
    Ok(Metrics {
        registry,
        ipp_requests,
        ipp_duration,
        job_transitions,
        jobs_held,
        jobs_submitted,
        spool_bytes,
        commit_batch,
        jobs_expired,
        directory_lookups,
        directory_duration,
        directory_degraded,
        badge_conflicts,
    })
}

/// The process-wide metrics.
pub static METRICS: LazyLock<Metrics> =
    // The metric definitions above are constant and valid; registering them cannot fail.
    LazyLock::new(|| build().expect("metric definitions are valid"));

impl Metrics {
    /// The text exposition format of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_with_the_folio_prefix() {
        METRICS.jobs_submitted.inc();
        let text = METRICS.render();
        assert!(text.contains("folio_jobs_submitted_total"));
        assert!(text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .all(|l| l.starts_with("folio_")));
    }
}
