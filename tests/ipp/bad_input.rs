//! Bad input gets the right IPP status in an HTTP 200, never a panic or a dropped connection,
//! and leaves nothing behind in the spool.

use crate::common::{both_backends, op, parse_response, status, tag, RawIpp, TestApp, TestJob};

fn post(server: &TestApp, body: &[u8]) -> crate::common::IppResponse {
    let (http, bytes) = server.post_ipp(body);
    assert_eq!(http, 200, "IPP errors travel in an HTTP 200");
    parse_response(&bytes).expect("a well-formed IPP response")
}

fn print(server: &TestApp, format: &str, doc: &[u8]) -> crate::common::IppResponse {
    TestJob::document(doc.to_vec())
        .format(format)
        .owner("alice")
        .submit(server)
}

fn spool_files(server: &TestApp) -> usize {
    std::fs::read_dir(server.data_dir.join("spool"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .count()
        })
        .unwrap_or(0)
}

fn gpa(server: &TestApp) -> RawIpp {
    RawIpp::new(op::GET_PRINTER_ATTRIBUTES).operation_prelude(&server.ipp_uri())
}

both_backends!(malformed_envelopes_get_ipp_errors, |backend| {
    let server = TestApp::start(backend);
    let valid = gpa(&server).build();

    // Truncated header.
    assert_eq!(
        post(&server, &valid[..5]).status,
        status::CLIENT_ERROR_BAD_REQUEST
    );
    // Wrong version.
    let v9 = gpa(&server).version(9, 0).build();
    assert_eq!(
        post(&server, &v9).status,
        status::SERVER_ERROR_VERSION_NOT_SUPPORTED
    );
    // Groups out of order: a job group before the operation group.
    let out_of_order = RawIpp::new(op::PRINT_JOB)
        .group(tag::JOB_ATTRIBUTES)
        .attr_i32(tag::INTEGER, "copies", 1)
        .raw(&gpa(&server).build()[8..])
        .build();
    assert_eq!(
        post(&server, &out_of_order).status,
        status::CLIENT_ERROR_BAD_REQUEST
    );
    // Missing charset and natural language.
    let bare = RawIpp::new(op::GET_PRINTER_ATTRIBUTES)
        .group(tag::OPERATION_ATTRIBUTES)
        .attr_str(tag::URI, "printer-uri", &server.ipp_uri())
        .build();
    assert_eq!(
        post(&server, &bare).status,
        status::CLIENT_ERROR_BAD_REQUEST
    );
    // A value length that runs past the end of the request.
    let past_end = gpa(&server)
        .raw(&[tag::KEYWORD, 0, 1, b'x', 0xFF, 0xFF, b'y'])
        .without_end_tag()
        .build();
    assert_eq!(
        post(&server, &past_end).status,
        status::CLIENT_ERROR_BAD_REQUEST
    );
    // No end-of-attributes tag at all.
    let no_end = gpa(&server).without_end_tag().build();
    assert_eq!(
        post(&server, &no_end).status,
        status::CLIENT_ERROR_BAD_REQUEST
    );
    // Request-id 0.
    let rid0 = gpa(&server).request_id(0).build();
    assert_eq!(
        post(&server, &rid0).status,
        status::CLIENT_ERROR_BAD_REQUEST
    );
    // An unsupported operation.
    let unknown_op = RawIpp::new(0x4242)
        .operation_prelude(&server.ipp_uri())
        .build();
    assert_eq!(
        post(&server, &unknown_op).status,
        status::SERVER_ERROR_OPERATION_NOT_SUPPORTED
    );
    // Unknown value tags are carried, not fatal.
    let unknown_tag = gpa(&server).attr(0x5F, "x-vendor", b"abc").build();
    assert_eq!(post(&server, &unknown_tag).status, status::SUCCESSFUL_OK);
    // The server is still healthy.
    assert_eq!(post(&server, &valid).status, status::SUCCESSFUL_OK);
});

both_backends!(the_ipp_crate_panic_reproducer_is_a_bad_request, |backend| {
    let server = TestApp::start(backend);
    // ipp 8.0.0 panics on this request (a malformed textWithLanguage value).
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/ipp/panic-textwithlang.bin");
    let bytes = std::fs::read(&fixture).unwrap_or_else(|_| {
        // The same shape, for checkouts without ../shared.
        let mut b = RawIpp::new(op::PRINT_JOB)
            .group(tag::OPERATION_ATTRIBUTES)
            .attr_str(tag::CHARSET, "attributes-charset", "utf-8")
            .attr_str(tag::NATURAL_LANGUAGE, "attributes-natural-language", "en")
            .attr(tag::TEXT_WITH_LANGUAGE, "job-name", &[0x00, 0x10])
            .build();
        b.truncate(b.len());
        b
    });
    assert_eq!(
        post(&server, &bytes).status,
        status::CLIENT_ERROR_BAD_REQUEST
    );
    assert_eq!(
        post(&server, &gpa(&server).build()).status,
        status::SUCCESSFUL_OK
    );
});

both_backends!(a_ten_megabyte_attribute_section_is_too_large, |backend| {
    let server = TestApp::start(backend);
    let mut req = gpa(&server);
    let chunk = vec![b'a'; 60_000];
    for i in 0..170 {
        req = req.attr(tag::OCTET_STRING, &format!("x-filler-{i}"), &chunk);
    }
    let resp = post(&server, &req.build());
    assert_eq!(resp.status, status::CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE);
    assert_eq!(
        post(&server, &gpa(&server).build()).status,
        status::SUCCESSFUL_OK
    );
});

both_backends!(a_300_byte_job_name_is_cut_and_reported, |backend| {
    let server = TestApp::start(backend);
    let long = "Résultats ".repeat(30); // 330 bytes
    let req = RawIpp::new(op::PRINT_JOB)
        .operation_prelude(&server.ipp_uri())
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "alice")
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "job-name", &long)
        .document(&testkit::sample_pdf(1))
        .build();
    let resp = post(&server, &req);
    assert_eq!(
        resp.status,
        status::SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES
    );
    assert!(resp.has_group(tag::UNSUPPORTED_ATTRIBUTES));
    let id = resp.integer("job-id").expect("the job was accepted");
    let attrs = RawIpp::new(op::GET_JOB_ATTRIBUTES)
        .operation_prelude(&server.ipp_uri())
        .attr_i32(tag::INTEGER, "job-id", id)
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "alice")
        .build();
    let name = post(&server, &attrs).text("job-name").unwrap();
    assert!(name.len() <= 255 && long.starts_with(&name), "{name}");
});

both_backends!(bad_documents_are_refused_and_leave_nothing, |backend| {
    let server = TestApp::builder(backend)
        .settings(|s| {
            s.max_job_mb = 1;
        })
        .start();
    let pdf = testkit::sample_pdf(2);

    let truncated = print(&server, "application/pdf", &pdf[..pdf.len() / 2]);
    assert_eq!(truncated.status, status::CLIENT_ERROR_DOCUMENT_FORMAT_ERROR);
    let mut corrupt = b"%PDF-1.7\n".to_vec();
    corrupt.extend(std::iter::repeat_n(0x5Au8, 4000));
    corrupt.extend_from_slice(b"\n%%EOF\n");
    assert_eq!(
        print(&server, "application/pdf", &corrupt).status,
        status::CLIENT_ERROR_DOCUMENT_FORMAT_ERROR
    );
    let declared_other = print(&server, "text/plain", b"hello");
    assert_eq!(
        declared_other.status,
        status::CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED
    );
    let sniffed_other = print(
        &server,
        "application/octet-stream",
        b"just some text, not a document",
    );
    assert_eq!(
        sniffed_other.status,
        status::CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED
    );

    let mut big = pdf.clone();
    big.extend(std::iter::repeat_n(b' ', 2 * 1024 * 1024));
    let too_big = print(&server, "application/pdf", &big);
    assert_eq!(
        too_big.status,
        status::CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE
    );

    let bad_gzip = RawIpp::new(op::PRINT_JOB)
        .operation_prelude(&server.ipp_uri())
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "alice")
        .attr_str(tag::KEYWORD, "compression", "gzip")
        .document(b"this is not gzip data at all")
        .build();
    assert_eq!(
        post(&server, &bad_gzip).status,
        status::CLIENT_ERROR_COMPRESSION_ERROR
    );

    assert_eq!(
        spool_files(&server),
        0,
        "refused documents leave no file behind"
    );
    assert_eq!(
        print(&server, "application/pdf", &pdf).status,
        status::SUCCESSFUL_OK
    );
    assert_eq!(spool_files(&server), 1);
});
