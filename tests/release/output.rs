//! Output to real and misbehaving peers: ippeveprinter copiers (mono simplex, colour duplex), a
//! raw 9100 sink, a copier that is down, one that is busy, one that takes the bytes and goes
//! silent.

use std::time::{Duration, Instant};

use crate::common::copier::{FakeCopier, IppEvePrinter, Misbehaviour, SocketSink};
use folio::domain::{ColorMode, Sides};
use folio::drivers::{Drivers, IppOptions};
use folio::output::ipp::IppDevice;
use folio::output::{pjl, JobLabel, Limits, OutputError, RemoteOutcome, Ticket};

fn label() -> JobLabel {
    JobLabel {
        user: "alice".into(),
        name: "Folio job 7".into(),
    }
}

fn ticket(sides: Sides, color: ColorMode, copies: u32) -> Ticket {
    Ticket {
        sides,
        color,
        copies,
        media: Some("iso_a4_210x297mm".into()),
    }
}

/// An IPP device with the given options, no TLS settings of its own, chunked uploads.
fn ipp<'a>(uri: &'a str, options: &'a IppOptions, limits: Limits) -> IppDevice<'a> {
    IppDevice {
        uri,
        options,
        limits,
        tls: None,
        no_chunked_upload: false,
    }
}

/// The default limits, with the tests' copiers on loopback allowed (as a site lists its
/// copier networks).
fn loopback() -> Limits {
    let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    Limits {
        egress: std::sync::Arc::new(
            folio::output::egress::Egress::parse(&own(&["127.0.0.0/8"]), &own(&["1-65535"]))
                .unwrap(),
        ),
        ..Limits::default()
    }
}

fn quick() -> Limits {
    Limits {
        connect: Duration::from_secs(2),
        io: Duration::from_secs(3),
        ..loopback()
    }
}

#[test]
fn a_colour_duplex_copier_gets_the_document_and_the_ticket_once() {
    let copier = IppEvePrinter::start("Colour Duplex", true, true);
    let uri = copier.uri();
    let options = IppOptions::default();
    let device = ipp(&uri, &options, loopback());
    let status = device.status();
    assert!(status.ready, "{status:?}");

    let pdf = testkit::sample_pdf(3);
    let sent = device
        .print(
            &label(),
            &ticket(Sides::TwoSidedLongEdge, ColorMode::Monochrome, 2),
            "application/pdf",
            &pdf[..],
            None,
        )
        .unwrap();
    let id = sent.remote_job_id.expect("an IPP copier gives a job id");
    assert_eq!(sent.bytes, pdf.len() as u64);

    let outcome = device.follow(
        id,
        "alice",
        Duration::from_millis(250),
        Instant::now() + Duration::from_secs(60),
    );
    assert!(
        matches!(outcome, Some(RemoteOutcome::Completed { .. })),
        "{outcome:?}\n{}",
        copier.log()
    );
    let files = copier.received(1, Duration::from_secs(5));
    assert_eq!(files.len(), 1, "exactly once");
    assert_eq!(files[0].1, pdf, "the same bytes");
    // What the copier recorded for the job: the enforced ticket.
    let attrs = copier_job(&copier, id);
    assert_eq!(attrs.text("sides").as_deref(), Some("two-sided-long-edge"));
    assert_eq!(
        attrs.text("print-color-mode").as_deref(),
        Some("monochrome")
    );
    assert_eq!(attrs.integer("copies"), Some(2));
    assert_eq!(
        attrs.text("job-originating-user-name").as_deref(),
        Some("alice")
    );
    assert_eq!(
        attrs.text("job-name").as_deref(),
        Some("Folio job 7"),
        "not the document's name"
    );
}

/// The copier's own record of job `id`.
fn copier_job(copier: &IppEvePrinter, id: i32) -> crate::common::IppResponse {
    let req = crate::common::RawIpp::new(crate::common::op::GET_JOB_ATTRIBUTES)
        .operation_prelude(&copier.uri())
        .attr_i32(crate::common::tag::INTEGER, "job-id", id)
        .attr_str(
            crate::common::tag::NAME_WITHOUT_LANGUAGE,
            "requesting-user-name",
            "alice",
        )
        .attr_str(crate::common::tag::KEYWORD, "requested-attributes", "all")
        .build();
    crate::common::parse_response(&crate::common::post_ipp(copier.port, &req).1).unwrap()
}

#[test]
fn a_mono_simplex_copier_and_its_job_attributes() {
    let copier = IppEvePrinter::start("Mono Simplex", false, false);
    let uri = copier.uri();
    let options = IppOptions::default();
    let device = ipp(&uri, &options, loopback());
    let pdf = testkit::sample_pdf(1);
    let sent = device
        .print(
            &label(),
            &ticket(Sides::OneSided, ColorMode::Monochrome, 1),
            "application/pdf",
            &pdf[..],
            None,
        )
        .unwrap();
    let id = sent.remote_job_id.unwrap();
    let (state, _) = device.job_state(id, "alice").unwrap();
    assert!((3..=9).contains(&state), "job-state {state}");
    let outcome = device.follow(
        id,
        "alice",
        Duration::from_millis(250),
        Instant::now() + Duration::from_secs(60),
    );
    assert!(
        matches!(outcome, Some(RemoteOutcome::Completed { .. })),
        "{outcome:?}"
    );
    let attrs = copier_job(&copier, id);
    assert_eq!(attrs.text("sides").as_deref(), Some("one-sided"));
    assert_eq!(
        attrs.text("print-color-mode").as_deref(),
        Some("monochrome")
    );

    // Create-Job + Send-Document, as some profiles ask.
    let two_step = IppOptions {
        create_job: true,
        ..IppOptions::default()
    };
    let device2 = ipp(&uri, &two_step, loopback());
    let sent = device2
        .print(
            &label(),
            &ticket(Sides::OneSided, ColorMode::Monochrome, 1),
            "application/pdf",
            &pdf[..],
            None,
        )
        .unwrap();
    assert!(sent.remote_job_id.unwrap() > id);
    assert_eq!(copier.received(2, Duration::from_secs(10)).len(), 2);
}

#[test]
fn a_copier_that_is_down_is_reported_at_once_and_nothing_is_sent() {
    let port = crate::common::free_port();
    let uri = format!("ipp://127.0.0.1:{port}/ipp/print");
    let options = IppOptions::default();
    let device = ipp(&uri, &options, quick());
    let started = Instant::now();
    let status = device.status();
    assert!(!status.ready && status.state == "unreachable", "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "told within 2 s"
    );
    let e = device
        .print(
            &label(),
            &ticket(Sides::OneSided, ColorMode::Monochrome, 1),
            "application/pdf",
            &b"%PDF-1.4"[..],
            None,
        )
        .unwrap_err();
    assert!(matches!(e, OutputError::Unreachable(_)), "{e:?}");
    assert!(e.nothing_printed());
}

#[test]
fn busy_and_silent_copiers() {
    let busy = FakeCopier::start(Misbehaviour::Busy);
    let uri = busy.uri();
    let options = IppOptions::default();
    let device = ipp(&uri, &options, quick());
    let pdf = testkit::sample_pdf(1);
    let e = device
        .print(
            &label(),
            &ticket(Sides::OneSided, ColorMode::Monochrome, 1),
            "application/pdf",
            &pdf[..],
            None,
        )
        .unwrap_err();
    assert_eq!(e, OutputError::Busy);
    assert!(e.nothing_printed(), "busy: retry is safe");

    let silent = FakeCopier::start(Misbehaviour::Silent);
    let uri = silent.uri();
    let device = ipp(&uri, &options, quick());
    let started = Instant::now();
    let e = device
        .print(
            &label(),
            &ticket(Sides::OneSided, ColorMode::Monochrome, 1),
            "application/pdf",
            &pdf[..],
            None,
        )
        .unwrap_err();
    assert!(matches!(e, OutputError::Ambiguous(_)), "{e:?}");
    assert!(
        !e.nothing_printed(),
        "bytes reached it: never resent automatically"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(*silent.requests.lock().unwrap(), 1, "sent once");
}

#[test]
fn raw_9100_gets_pjl_then_the_pdf() {
    let sink = SocketSink::start();
    let drivers = Drivers::load(None).unwrap();
    let profile = drivers.get("ricoh-im").unwrap();
    let pjl_options = profile.pjl.as_ref().unwrap();
    let pdf = testkit::sample_pdf(2);
    let sent = pjl::send(
        &format!("127.0.0.1:{}", sink.port),
        pjl_options,
        true,
        &label(),
        &ticket(Sides::TwoSidedLongEdge, ColorMode::Monochrome, 3),
        &pdf[..],
        loopback(),
    )
    .unwrap();
    assert_eq!(sent.remote_job_id, None, "socket: sent is all Folio knows");
    let jobs = sink.jobs(1, Duration::from_secs(5));
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    let text = String::from_utf8_lossy(job);
    assert!(text.starts_with("\x1b%-12345X@PJL JOB NAME=\"Folio job 7\"\n"));
    assert!(text.contains("@PJL SET DUPLEX=ON\n@PJL SET BINDING=LONGEDGE\n"));
    assert!(text.contains("@PJL SET RENDERMODE=GRAYSCALE\n@PJL SET DATAMODE=GRAYSCALE\n"));
    assert!(text.contains("@PJL SET COPIES=3\n"));
    let start =
        text.find("@PJL ENTER LANGUAGE = PDF\n").unwrap() + "@PJL ENTER LANGUAGE = PDF\n".len();
    assert_eq!(
        &job[start..start + pdf.len()],
        &pdf[..],
        "the PDF follows the header intact"
    );
    assert!(job.ends_with(b"\x1b%-12345X@PJL EOJ\n\x1b%-12345X"));

    // Nobody listening: unreachable, nothing printed.
    let e = pjl::send(
        &format!("127.0.0.1:{}", crate::common::free_port()),
        pjl_options,
        true,
        &label(),
        &ticket(Sides::OneSided, ColorMode::Monochrome, 1),
        &pdf[..],
        quick(),
    )
    .unwrap_err();
    assert!(matches!(e, OutputError::Unreachable(_)));
}

#[test]
fn a_copier_that_refuses_chunked_uploads_is_sent_a_content_length() {
    let pdf = testkit::sample_pdf(2);
    for no_chunked_upload in [false, true] {
        let copier = FakeCopier::start(Misbehaviour::Busy);
        let uri = copier.uri();
        let options = IppOptions::default();
        let device = IppDevice {
            no_chunked_upload,
            ..ipp(&uri, &options, quick())
        };
        let e = device
            .print(
                &label(),
                &ticket(Sides::OneSided, ColorMode::Monochrome, 1),
                "application/pdf",
                &pdf[..],
                Some(pdf.len() as u64),
            )
            .unwrap_err();
        assert_eq!(e, OutputError::Busy);
        let raw = copier.raw.lock().unwrap()[0].clone();
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
        let body = &raw[end + 4..];
        if no_chunked_upload {
            assert!(!head.contains("transfer-encoding"), "{head}");
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .expect("a Content-Length")
                .trim()
                .parse()
                .unwrap();
            assert_eq!(length, body.len());
            assert!(body.ends_with(&pdf), "the document follows the IPP request");
        } else {
            assert!(head.contains("transfer-encoding: chunked"), "{head}");
        }
    }
}
