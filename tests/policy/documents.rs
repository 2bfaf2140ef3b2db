//! Rules that look at the document and act on it, against real copiers (ippeveprinter): colour
//! actually on the pages (detected from the PDF, at Print-Job and once a Create-Job's document
//! arrives), the clinical lane sending a job straight to a named device without a badge (and
//! keeping it held, saying why, when that device does not exist), and a watermark with the
//! owner and the date stamped on the pages the copier receives.

use std::time::Duration;

use crate::common::copier::IppEvePrinter;
use crate::common::directory::{basic, http, password_of, write_ldif, TestUser};
use crate::common::release::{add_device, job_state, release_one, wait_state};
use crate::common::{both_backends, op, parse_response, status, tag, RawIpp, TestApp, TestJob};

const COMPLETED: i32 = 9;
const HELD: i32 = 4;

fn users() -> Vec<TestUser> {
    let mut users: Vec<TestUser> = ["carol", "rita", "nina"]
        .into_iter()
        .map(TestUser::new)
        .collect();
    users[0].groups = vec!["folio-admins".into()];
    users[1].groups = vec!["radiology".into()];
    users[2].groups = vec!["nurses".into()];
    users[2].badges = vec!["04BB0002".into()];
    users
}

fn add_rule(server: &TestApp, rule: &str) {
    let r = http(
        "POST",
        &server.http_url("/api/v1/policy/rules"),
        Some(&basic("carol", &password_of("carol"))),
        "application/json",
        rule.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

/// Print-Job asking for colour; the job id.
fn print(server: &TestApp, user: &str, name: &str, pdf: &[u8]) -> i32 {
    TestJob::document(pdf.to_vec())
        .format("application/pdf")
        .owner(user)
        .name(name)
        .colour()
        .held(server)
}

fn attribute(server: &TestApp, user: &str, job: i32, name: &str) -> String {
    let req = RawIpp::new(op::GET_JOB_ATTRIBUTES)
        .operation_prelude(&server.ipp_uri())
        .attr_i32(tag::INTEGER, "job-id", job)
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", user)
        .build();
    parse_response(&server.post_ipp(&req).1)
        .unwrap()
        .text(name)
        .unwrap_or_default()
}

both_backends!(
    colour_on_the_pages_decides_the_ticket_at_print_job_and_send_document,
    |backend| {
        let data = tempfile::tempdir().unwrap();
        write_ldif(&data.path().join("directory.ldif"), &users());
        let server = TestApp::builder(backend).data_dir(data.path()).start();
        add_rule(
            &server,
            r#"{"name":"radiology images in colour","when":{"groups":["radiology"],"color_used":true},"then":{"color":"allow"}}"#,
        );
        let grey = print(&server, "rita", "compte rendu", &testkit::sample_pdf(2));
        let red = print(&server, "rita", "IRM", &testkit::sample_colour_pdf(2));
        let other = print(&server, "nina", "IRM", &testkit::sample_colour_pdf(2));
        assert_eq!(
            attribute(&server, "rita", grey, "print-color-mode-actual"),
            "monochrome"
        );
        assert_eq!(
            attribute(&server, "rita", red, "print-color-mode-actual"),
            "color"
        );
        assert_eq!(
            attribute(&server, "nina", other, "print-color-mode-actual"),
            "monochrome"
        );

        // Create-Job knows no pages yet (black & white); its document decides.
        let create = RawIpp::new(op::CREATE_JOB)
            .operation_prelude(&server.ipp_uri())
            .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "rita")
            .group(tag::JOB_ATTRIBUTES)
            .attr_str(tag::KEYWORD, "print-color-mode", "color")
            .build();
        let created = parse_response(&server.post_ipp(&create).1).unwrap();
        assert_eq!(created.status, status::SUCCESSFUL_OK);
        let job = created.integer("job-id").unwrap();
        assert_eq!(
            attribute(&server, "rita", job, "print-color-mode-actual"),
            "monochrome"
        );
        let send = RawIpp::new(op::SEND_DOCUMENT)
            .operation_prelude(&server.ipp_uri())
            .attr_i32(tag::INTEGER, "job-id", job)
            .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "rita")
            .attr_str(tag::MIME_MEDIA_TYPE, "document-format", "application/pdf")
            .attr_bool("last-document", true)
            .document(&testkit::sample_colour_pdf(1))
            .build();
        let sent = parse_response(&server.post_ipp(&send).1).unwrap();
        assert_eq!(sent.status, status::SUCCESSFUL_OK);
        assert_eq!(
            attribute(&server, "rita", job, "print-color-mode-actual"),
            "color"
        );

        // A refusal decided on the document cancels the job and keeps nothing.
        add_rule(
            &server,
            r#"{"name":"no colour from nurses","when":{"groups":["nurses"],"color_used":true},"then":{"refuse":"Colour documents: print them from the ward's colour copier"},"position":1}"#,
        );
        let create = RawIpp::new(op::CREATE_JOB)
            .operation_prelude(&server.ipp_uri())
            .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "nina")
            .build();
        let job = parse_response(&server.post_ipp(&create).1)
            .unwrap()
            .integer("job-id")
            .unwrap();
        let send = RawIpp::new(op::SEND_DOCUMENT)
            .operation_prelude(&server.ipp_uri())
            .attr_i32(tag::INTEGER, "job-id", job)
            .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "nina")
            .attr_bool("last-document", true)
            .document(&testkit::sample_colour_pdf(1))
            .build();
        let refused = parse_response(&server.post_ipp(&send).1).unwrap();
        assert_eq!(refused.status, status::CLIENT_ERROR_NOT_POSSIBLE);
        assert_eq!(job_state(&server, "nina", job).0, 7, "canceled");
    }
);

#[test]
fn the_clinical_lane_prints_without_a_badge_and_a_watermark_reaches_the_copier() {
    let data = tempfile::tempdir().unwrap();
    write_ldif(&data.path().join("directory.ldif"), &users());
    let server = TestApp::builder(crate::common::Backend::Sqlite)
        .data_dir(data.path())
        .start();
    let labels = IppEvePrinter::start("Ward Labels", false, false);
    add_device(data.path(), None, "ward-labels", &labels.uri());
    let copier = IppEvePrinter::start("Ward Copier", true, false);
    let token = add_device(data.path(), None, "ward-copier", &copier.uri());
    add_rule(
        &server,
        r#"{"name":"wristbands","when":{"document_names":["ETIQ*"]},"then":{"route_to_device":"ward-labels"}}"#,
    );
    add_rule(
        &server,
        r#"{"name":"urgent to a printer that was removed","when":{"document_names":["URGENT*"]},"then":{"route_to_device":"gone"}}"#,
    );
    add_rule(
        &server,
        r#"{"name":"nurses' prints are signed","when":{"groups":["nurses"]},"then":{"watermark":"Imprimé par {owner} le {date}"}}"#,
    );

    // Straight to the label printer, nobody badging.
    let band = print(
        &server,
        "nina",
        "ETIQUETTE bracelet",
        &testkit::sample_pdf(1),
    );
    let message = wait_state(&server, "nina", band, COMPLETED);
    assert!(message.contains("ward-labels"), "{message}");
    assert_eq!(labels.received(1, Duration::from_secs(20)).len(), 1);

    // A lane to a device that is not there: held, saying why, releasable as usual.
    let urgent = print(&server, "nina", "URGENT bilan", &testkit::sample_pdf(1));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let (state, message) = loop {
        let (state, message) = job_state(&server, "nina", urgent);
        if message.contains("gone") || std::time::Instant::now() > deadline {
            break (state, message);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(state, HELD, "{message}");
    assert!(message.contains("not sent to gone"), "{message}");

    // Released with a badge: the copier gets the pages stamped with owner and date.
    let (_, result) = release_one(&server, &token, "04BB0002", urgent);
    assert_eq!(result["result"], "releasing", "{result}");
    wait_state(&server, "nina", urgent, COMPLETED);
    let received = copier.received(1, Duration::from_secs(20));
    assert_eq!(received.len(), 1);
    let text = String::from_utf8_lossy(&received[0].1).into_owned();
    let today = jiff::Zoned::now().date().to_string();
    assert!(
        text.contains(&format!(r"(Imprim\351 par nina le {today}) Tj")),
        "no watermark in what the copier received"
    );
    assert!(
        text.contains("Folio page 1"),
        "the page itself is still there"
    );
    // The wristband is nina's too: the lane applies the same rules, stamp included.
    let band_text = String::from_utf8_lossy(&labels.received(1, Duration::ZERO)[0].1).into_owned();
    assert!(
        band_text.contains("par nina"),
        "lane jobs follow the same rules"
    );
}
