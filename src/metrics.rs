//! Every Prometheus metric of Folio, in one registry, rendered at `/metrics`. Names carry the
//! `folio_` prefix; labels never carry a document name, a badge number or a secret.

use std::sync::LazyLock;

use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The metrics of one Folio process.
pub struct Metrics {
    registry: Registry,
    /// IPP requests by operation and status keyword.
    pub ipp_requests: IntCounterVec,
    /// IPP request latency by operation.
    pub ipp_duration: HistogramVec,
    /// HTTP requests other than IPP (console, REST API, terminal) by area and status class.
    pub http_requests: IntCounterVec,
    /// Connections refused because one address holds too many.
    pub connections_refused: IntCounter,
    /// Job state transitions by from/to state.
    pub job_transitions: IntCounterVec,
    /// Jobs currently held.
    pub jobs_held: IntGauge,
    /// Jobs accepted into the spool.
    pub jobs_submitted: IntCounter,
    /// Bytes of encrypted documents in the spool.
    pub spool_bytes: IntGauge,
    /// Free bytes on the spool's filesystem, as last checked.
    pub spool_free_bytes: IntGauge,
    /// Documents refused because the spool was below its free-space reserve.
    pub jobs_refused_space: IntCounter,
    /// Unfinished jobs whose document file was missing at start-up (set aside).
    pub spool_documents_missing: IntGauge,
    /// Jobs in one group commit.
    pub commit_batch: Histogram,
    /// Jobs expired unreleased.
    pub jobs_expired: IntCounter,
    /// Pages printed, by colour, sides and the owner's department.
    pub pages_printed: IntCounterVec,
    /// Sheets of paper printed, by colour, sides and the owner's department.
    pub sheets_printed: IntCounterVec,
    /// From release to the copier's final answer, by outcome.
    pub release_duration: HistogramVec,
    /// Failures sending to a device, by device and kind.
    pub output_errors: IntCounterVec,
    /// 1 when the device answered its last status check and can print.
    pub device_up: IntGaugeVec,
    /// Directory lookups by kind (`uid`, `badge`, `password`) and outcome (`directory`,
    /// `cache`, `degraded`, `unknown`, `unavailable`, …).
    pub directory_lookups: IntCounterVec,
    /// Directory lookup latency by kind, cache included.
    pub directory_duration: HistogramVec,
    /// 1 while the directory is unreachable and Folio answers from its cache.
    pub directory_degraded: IntGauge,
    /// Badge numbers refused because two people hold them.
    pub badge_conflicts: IntCounter,
    /// Time spent waiting for a database connection from the pool.
    pub db_pool_wait: Histogram,
    /// Audit events sent to syslog, and failures to send.
    pub audit_forwarded: IntCounterVec,
    /// Scans received, by channel and kind (accepted, duplicate, to-attribute).
    pub scan_captures: IntCounterVec,
    /// Pipeline moves, by stage left and stage reached.
    pub scan_transitions: IntCounterVec,
    /// Time to run one pipeline stage.
    pub scan_stage_duration: HistogramVec,
    /// Captures quarantined, by the stage that quarantined them.
    pub scan_quarantined: IntCounterVec,
    /// Jobs run in sandboxed workers, by lane, job and outcome (`ok`, `refused`, `overran`,
    /// `unavailable`).
    pub sandbox_jobs: IntCounterVec,
    /// Time to run one sandboxed job, by lane (the pipe round trip included).
    pub sandbox_duration: HistogramVec,
    /// Worker processes started, by lane.
    pub sandbox_workers_started: IntCounterVec,
    /// Workers that died on a document, by lane and reason (`memory`, `cpu`, `time`, `stack`,
    /// `crashed`).
    pub sandbox_worker_deaths: IntCounterVec,
}

fn counter(name: &str, help: &str) -> Result<IntCounter, prometheus::Error> {
    IntCounter::new(name, help)
}

fn counters(name: &str, help: &str, labels: &[&str]) -> Result<IntCounterVec, prometheus::Error> {
    IntCounterVec::new(Opts::new(name, help), labels)
}

fn histograms(
    name: &str,
    help: &str,
    buckets: &[f64],
    labels: &[&str],
) -> Result<HistogramVec, prometheus::Error> {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
}

/// Latency buckets from half a millisecond to half a minute.
const LATENCY: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new();
    let m = Metrics {
        ipp_requests: counters(
            "folio_ipp_requests_total",
            "IPP requests by operation and status",
            &["operation", "status"],
        )?,
        ipp_duration: histograms(
            "folio_ipp_request_duration_seconds",
            "IPP request latency, body included",
            LATENCY,
            &["operation"],
        )?,
        http_requests: counters(
            "folio_http_requests_total",
            "HTTP requests other than IPP, by area (console, api, terminal, other) and status class",
            &["area", "status"],
        )?,
        connections_refused: counter(
            "folio_connections_refused_total",
            "Connections refused because their address already holds the most allowed",
        )?,
        job_transitions: counters(
            "folio_job_transitions_total",
            "Job state transitions",
            &["from", "to"],
        )?,
        jobs_held: IntGauge::new("folio_jobs_held", "Jobs currently held")?,
        jobs_submitted: counter("folio_jobs_submitted_total", "Jobs accepted into the spool")?,
        spool_bytes: IntGauge::new(
            "folio_spool_bytes",
            "Bytes of encrypted documents written to the spool by this process, minus purged",
        )?,
        spool_free_bytes: IntGauge::new(
            "folio_spool_free_bytes",
            "Free bytes on the spool's filesystem, checked at each scrape and readiness check",
        )?,
        jobs_refused_space: IntCounter::new(
            "folio_jobs_refused_low_space_total",
            "Documents refused because the spool's filesystem was below spool_reserve_mb",
        )?,
        spool_documents_missing: IntGauge::new(
            "folio_spool_documents_missing",
            "Unfinished jobs whose document file was missing from the spool at start-up",
        )?,
        commit_batch: Histogram::with_opts(
            HistogramOpts::new("folio_commit_batch_jobs", "Jobs per group commit")
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
        )?,
        jobs_expired: counter(
            "folio_jobs_expired_total",
            "Jobs expired unreleased and purged",
        )?,
        pages_printed: counters(
            "folio_pages_printed_total",
            "Pages printed, by colour, sides and the owner's department",
            &["color", "sides", "department"],
        )?,
        sheets_printed: counters(
            "folio_sheets_printed_total",
            "Sheets of paper printed, by colour, sides and the owner's department",
            &["color", "sides", "department"],
        )?,
        release_duration: histograms(
            "folio_release_duration_seconds",
            "From release to the copier's final answer, by outcome",
            &[0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0],
            &["outcome"],
        )?,
        output_errors: counters(
            "folio_output_errors_total",
            "Failures sending a job to a device, by device and kind",
            &["device", "kind"],
        )?,
        device_up: IntGaugeVec::new(
            Opts::new(
                "folio_device_up",
                "1 when the device answered its last status check and can print",
            ),
            &["device"],
        )?,
        directory_lookups: counters(
            "folio_directory_lookups_total",
            "Directory lookups by kind and outcome",
            &["kind", "outcome"],
        )?,
        directory_duration: histograms(
            "folio_directory_lookup_duration_seconds",
            "Directory lookup latency, cache included",
            &[
                0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0,
            ],
            &["kind"],
        )?,
        directory_degraded: IntGauge::new(
            "folio_directory_degraded",
            "1 while the directory is unreachable and answers come from the cache",
        )?,
        badge_conflicts: counter(
            "folio_badge_conflicts_total",
            "Badge numbers refused because two people hold them",
        )?,
        db_pool_wait: Histogram::with_opts(
            HistogramOpts::new(
                "folio_db_pool_wait_seconds",
                "Time spent waiting for a database connection from the pool",
            )
            .buckets(LATENCY.to_vec()),
        )?,
        audit_forwarded: counters(
            "folio_audit_forwarded_total",
            "Audit events sent to syslog (result: sent, failed)",
            &["result"],
        )?,
        scan_captures: counters(
            "folio_scan_captures_total",
            "Scans received, by channel and kind (accepted, duplicate, to-attribute)",
            &["channel", "kind"],
        )?,
        scan_transitions: counters(
            "folio_scan_transitions_total",
            "Archive pipeline moves, by stage left and stage reached",
            &["from", "to"],
        )?,
        scan_stage_duration: histograms(
            "folio_scan_stage_duration_seconds",
            "Time to run one archive pipeline stage",
            &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0],
            &["stage"],
        )?,
        scan_quarantined: counters(
            "folio_scan_quarantined_total",
            "Captures quarantined, by the stage that quarantined them",
            &["stage"],
        )?,
        sandbox_jobs: counters(
            "folio_sandbox_jobs_total",
            "Jobs run in sandboxed document readers, by lane, job and outcome",
            &["lane", "job", "outcome"],
        )?,
        sandbox_duration: histograms(
            "folio_sandbox_job_duration_seconds",
            "Time to run one job in a sandboxed document reader",
            &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0],
            &["lane"],
        )?,
        sandbox_workers_started: counters(
            "folio_sandbox_workers_started_total",
            "Sandboxed document reader processes started",
            &["lane"],
        )?,
        sandbox_worker_deaths: counters(
            "folio_sandbox_worker_deaths_total",
            "Sandboxed document readers ended by a document, by reason",
            &["lane", "reason"],
        )?,
        registry,
    };
    let all: Vec<Box<dyn Collector>> = vec![
        Box::new(m.ipp_requests.clone()),
        Box::new(m.ipp_duration.clone()),
        Box::new(m.http_requests.clone()),
        Box::new(m.connections_refused.clone()),
        Box::new(m.job_transitions.clone()),
        Box::new(m.jobs_held.clone()),
        Box::new(m.jobs_submitted.clone()),
        Box::new(m.spool_bytes.clone()),
        Box::new(m.spool_free_bytes.clone()),
        Box::new(m.jobs_refused_space.clone()),
        Box::new(m.spool_documents_missing.clone()),
        Box::new(m.commit_batch.clone()),
        Box::new(m.jobs_expired.clone()),
        Box::new(m.pages_printed.clone()),
        Box::new(m.sheets_printed.clone()),
        Box::new(m.release_duration.clone()),
        Box::new(m.output_errors.clone()),
        Box::new(m.device_up.clone()),
        Box::new(m.directory_lookups.clone()),
        Box::new(m.directory_duration.clone()),
        Box::new(m.directory_degraded.clone()),
        Box::new(m.badge_conflicts.clone()),
        Box::new(m.db_pool_wait.clone()),
        Box::new(m.audit_forwarded.clone()),
        Box::new(m.scan_captures.clone()),
        Box::new(m.scan_transitions.clone()),
        Box::new(m.scan_stage_duration.clone()),
        Box::new(m.scan_quarantined.clone()),
        Box::new(m.sandbox_jobs.clone()),
        Box::new(m.sandbox_duration.clone()),
        Box::new(m.sandbox_workers_started.clone()),
        Box::new(m.sandbox_worker_deaths.clone()),
        Box::new(build_info()?),
    ];
    for c in all {
        m.registry.register(c)?;
    }
    Ok(m)
}

/// `folio_build_info{version="…"} 1`: which release runs where.
fn build_info() -> Result<IntGaugeVec, prometheus::Error> {
    let info = IntGaugeVec::new(
        Opts::new("folio_build_info", "The running Folio version (always 1)"),
        &["version"],
    )?;
    info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
    Ok(info)
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
        assert!(text.contains("folio_build_info{version="));
        assert!(text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .all(|l| l.starts_with("folio_")));
    }
}
