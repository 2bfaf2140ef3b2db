//! The virtual queue's printer attributes: IPP Everywhere (PWG 5100.14) and IPP/2.0, so every
//! operating system prints to Folio without a driver.

use super::values::*;
use super::wire::Attr;
use crate::domain::DocumentFormat;

/// What varies per request or over time.
pub struct PrinterFacts<'a> {
    /// "printer-uri-supported" for the scheme and host the client used.
    pub uri: &'a str,
    pub name: &'a str,
    pub location: &'a str,
    pub uuid: &'a str,
    /// Seconds since start (at least 1).
    pub up_time: i32,
    pub started_ms: i64,
    pub now_ms: i64,
    pub queued_job_count: i32,
    pub more_info: &'a str,
    /// "multiple-operation-time-out" in seconds.
    pub incoming_timeout_secs: i32,
}

/// Media Folio advertises: (PWG name, width, length in hundredths of mm). A4 first: the
/// default for European hospitals.
const MEDIA: &[(&str, i32, i32)] = &[
    ("iso_a4_210x297mm", 21000, 29700),
    ("iso_a3_297x420mm", 29700, 42000),
    ("iso_a5_148x210mm", 14800, 21000),
    ("na_letter_8.5x11in", 21590, 27940),
    ("na_legal_8.5x14in", 21590, 35560),
];

/// Job template attributes a client may send at job creation.
pub const JOB_CREATION_ATTRIBUTES: &[&str] = &[
    "copies",
    "finishings",
    "ipp-attribute-fidelity",
    "job-hold-until",
    "job-name",
    "job-priority",
    "media",
    "media-col",
    "multiple-document-handling",
    "orientation-requested",
    "output-bin",
    "page-ranges",
    "print-color-mode",
    "print-content-optimize",
    "print-quality",
    "print-rendering-intent",
    "print-scaling",
    "printer-resolution",
    "sides",
];

fn media_col(name: &str, x: i32, y: i32, source: Option<&str>) -> crate::ipp::IppValue {
    let mut members = vec![
        (
            "media-size",
            collection(vec![
                ("x-dimension", integer(x)),
                ("y-dimension", integer(y)),
            ]),
        ),
        ("media-size-name", keyword(name)),
        ("media-bottom-margin", integer(423)),
        ("media-left-margin", integer(423)),
        ("media-right-margin", integer(423)),
        ("media-top-margin", integer(423)),
        ("media-type", keyword("stationery")),
    ];
    if let Some(source) = source {
        members.push(("media-source", keyword(source)));
    }
    collection(members)
}

/// Every printer attribute, in a stable order.
pub fn printer_attributes(f: &PrinterFacts<'_>) -> Vec<Attr> {
    let formats: Vec<_> = std::iter::once("application/octet-stream")
        .chain(DocumentFormat::ALL.iter().map(|d| d.mime()))
        .map(mime)
        .collect();
    let media_names: Vec<_> = MEDIA.iter().map(|m| keyword(m.0)).collect();
    let (a4, a4x, a4y) = MEDIA[0];
    vec![
        // Description.
        Attr::new("charset-configured", charset("utf-8")),
        Attr::set(
            "charset-supported",
            vec![charset("us-ascii"), charset("utf-8")],
        ),
        Attr::new("natural-language-configured", language("en")),
        Attr::new("generated-natural-language-supported", language("en")),
        Attr::set("ipp-versions-supported", keywords(&["1.1", "2.0"])),
        Attr::set("ipp-features-supported", keywords(&["ipp-everywhere"])),
        Attr::set(
            "operations-supported",
            [
                0x02, 0x04, 0x05, 0x06, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x39, 0x3B,
            ]
            .into_iter()
            .map(enumeration)
            .collect(),
        ),
        Attr::new("printer-name", name(f.name)),
        Attr::new(
            "printer-info",
            text(&format!("{} secure release queue", f.name)),
        ),
        Attr::new("printer-location", text(f.location)),
        Attr::new("printer-make-and-model", text("Folio Secure Release Queue")),
        Attr::new(
            "printer-device-id",
            text("MFG:Folio;MDL:Secure Release Queue;CMD:PDF,PWGRaster,URF,JPEG;"),
        ),
        Attr::new("printer-more-info", uri(f.more_info)),
        Attr::new("printer-uuid", uri(f.uuid)),
        Attr::set("printer-uri-supported", vec![uri(f.uri)]),
        Attr::set(
            "uri-authentication-supported",
            keywords(&["requesting-user-name"]),
        ),
        Attr::set("uri-security-supported", keywords(&["none"])),
        Attr::new("printer-state", enumeration(3)),
        Attr::set("printer-state-reasons", keywords(&["none"])),
        Attr::new(
            "printer-state-message",
            text("Ready: jobs are held until released at a copier"),
        ),
        Attr::new("printer-is-accepting-jobs", boolean(true)),
        Attr::new("queued-job-count", integer(f.queued_job_count)),
        Attr::new("printer-up-time", integer(f.up_time.max(1))),
        Attr::new("printer-current-time", date_time(f.now_ms)),
        Attr::new("printer-state-change-time", integer(1)),
        Attr::new("printer-state-change-date-time", date_time(f.started_ms)),
        Attr::new("printer-config-change-time", integer(1)),
        Attr::new("printer-config-change-date-time", date_time(f.started_ms)),
        Attr::new("printer-organization", text("")),
        Attr::new("printer-organizational-unit", text("")),
        Attr::new("color-supported", boolean(true)),
        Attr::new("pages-per-minute", integer(60)),
        Attr::new("pages-per-minute-color", integer(60)),
        Attr::new("multiple-document-jobs-supported", boolean(false)),
        Attr::new(
            "multiple-operation-time-out",
            integer(f.incoming_timeout_secs.max(1)),
        ),
        Attr::new("multiple-operation-time-out-action", keyword("abort-job")),
        Attr::new("job-ids-supported", boolean(true)),
        Attr::new("preferred-attributes-supported", boolean(false)),
        Attr::new("pdl-override-supported", keyword("attempted")),
        Attr::set(
            "printer-get-attributes-supported",
            keywords(&["document-format"]),
        ),
        Attr::set(
            "which-jobs-supported",
            keywords(&["completed", "not-completed", "all"]),
        ),
        Attr::set(
            "job-creation-attributes-supported",
            keywords(JOB_CREATION_ATTRIBUTES),
        ),
        Attr::set(
            "compression-supported",
            keywords(&["deflate", "gzip", "none"]),
        ),
        Attr::new("document-format-default", mime("application/octet-stream")),
        Attr::set("document-format-supported", formats),
        Attr::new("job-k-octets-supported", range(0, i32::MAX)),
        Attr::new("job-impressions-supported", range(0, i32::MAX)),
        Attr::new("job-media-sheets-supported", range(0, i32::MAX)),
        Attr::set(
            "overrides-supported",
            keywords(&["document-numbers", "pages"]),
        ),
        Attr::set("identify-actions-supported", keywords(&["display"])),
        Attr::new("identify-actions-default", keyword("display")),
        // Job template: the policy decides what is printed; defaults show the house rule.
        Attr::new("copies-default", integer(1)),
        Attr::new(
            "copies-supported",
            range(1, crate::policy::MAX_COPIES as i32),
        ),
        Attr::new("finishings-default", enumeration(3)),
        Attr::set("finishings-supported", vec![enumeration(3)]),
        Attr::new("job-hold-until-default", keyword("indefinite")),
        Attr::set(
            "job-hold-until-supported",
            keywords(&["no-hold", "indefinite"]),
        ),
        Attr::new("job-priority-default", integer(50)),
        Attr::new("job-priority-supported", integer(100)),
        Attr::new("job-sheets-default", keyword("none")),
        Attr::set("job-sheets-supported", keywords(&["none"])),
        Attr::new("media-default", keyword(a4)),
        Attr::set("media-supported", media_names.clone()),
        Attr::set("media-ready", vec![keyword(a4)]),
        Attr::new("media-col-default", media_col(a4, a4x, a4y, Some("auto"))),
        Attr::set(
            "media-col-ready",
            vec![media_col(a4, a4x, a4y, Some("auto"))],
        ),
        Attr::set(
            "media-col-database",
            MEDIA
                .iter()
                .map(|m| media_col(m.0, m.1, m.2, None))
                .collect(),
        ),
        Attr::set(
            "media-col-supported",
            keywords(&[
                "media-bottom-margin",
                "media-left-margin",
                "media-right-margin",
                "media-size",
                "media-size-name",
                "media-source",
                "media-top-margin",
                "media-type",
            ]),
        ),
        Attr::set(
            "media-size-supported",
            MEDIA
                .iter()
                .map(|m| {
                    collection(vec![
                        ("x-dimension", integer(m.1)),
                        ("y-dimension", integer(m.2)),
                    ])
                })
                .collect(),
        ),
        Attr::set("media-bottom-margin-supported", vec![integer(423)]),
        Attr::set("media-left-margin-supported", vec![integer(423)]),
        Attr::set("media-right-margin-supported", vec![integer(423)]),
        Attr::set("media-top-margin-supported", vec![integer(423)]),
        Attr::set("media-source-supported", keywords(&["auto"])),
        Attr::set("media-type-supported", keywords(&["stationery"])),
        Attr::new(
            "multiple-document-handling-default",
            keyword("separate-documents-collated-copies"),
        ),
        Attr::set(
            "multiple-document-handling-supported",
            keywords(&[
                "separate-documents-uncollated-copies",
                "separate-documents-collated-copies",
            ]),
        ),
        Attr::new("number-up-default", integer(1)),
        Attr::set("number-up-supported", vec![integer(1)]),
        Attr::new("orientation-requested-default", enumeration(3)),
        Attr::set(
            "orientation-requested-supported",
            (3..=6).map(enumeration).collect(),
        ),
        Attr::new("output-bin-default", keyword("face-down")),
        Attr::set("output-bin-supported", keywords(&["face-down"])),
        Attr::new("page-ranges-supported", boolean(false)),
        Attr::new("print-color-mode-default", keyword("monochrome")),
        Attr::set(
            "print-color-mode-supported",
            keywords(&["auto", "bi-level", "color", "monochrome"]),
        ),
        Attr::new("print-content-optimize-default", keyword("auto")),
        Attr::set("print-content-optimize-supported", keywords(&["auto"])),
        Attr::new("print-rendering-intent-default", keyword("auto")),
        Attr::set("print-rendering-intent-supported", keywords(&["auto"])),
        Attr::new("print-scaling-default", keyword("auto")),
        Attr::set(
            "print-scaling-supported",
            keywords(&["auto", "fit", "fill", "none"]),
        ),
        Attr::new("print-quality-default", enumeration(4)),
        Attr::set(
            "print-quality-supported",
            (3..=5).map(enumeration).collect(),
        ),
        Attr::new("printer-resolution-default", dpi(600)),
        Attr::set("printer-resolution-supported", vec![dpi(300), dpi(600)]),
        Attr::new("sides-default", keyword("two-sided-long-edge")),
        Attr::set(
            "sides-supported",
            keywords(&["one-sided", "two-sided-long-edge", "two-sided-short-edge"]),
        ),
        Attr::set(
            "pwg-raster-document-resolution-supported",
            vec![dpi(300), dpi(600)],
        ),
        Attr::new("pwg-raster-document-sheet-back", keyword("normal")),
        Attr::set(
            "pwg-raster-document-type-supported",
            keywords(&["black_1", "sgray_8"]),
        ),
        Attr::set(
            "urf-supported",
            keywords(&[
                "CP1",
                "DM1",
                "IS1",
                "MT1",
                "PQ3-4-5",
                "RS300-600",
                "V1.4",
                "W8",
            ]),
        ),
    ]
}

/// Printer attributes in the "job-template" group (RFC 8011 §5.2): defaults and supported
/// values of the job template attributes.
pub fn is_job_template(name: &str) -> bool {
    const TEMPLATE: &[&str] = &[
        "copies",
        "finishings",
        "job-hold-until",
        "job-priority",
        "job-sheets",
        "media",
        "media-col",
        "multiple-document-handling",
        "number-up",
        "orientation-requested",
        "output-bin",
        "page-ranges",
        "print-color-mode",
        "print-content-optimize",
        "print-quality",
        "print-rendering-intent",
        "print-scaling",
        "printer-resolution",
        "sides",
    ];
    let base = name
        .strip_suffix("-default")
        .or_else(|| name.strip_suffix("-supported"))
        .or_else(|| name.strip_suffix("-ready"))
        .or_else(|| name.strip_suffix("-database"))
        .unwrap_or(name);
    TEMPLATE.contains(&base) || name.starts_with("media-")
}
