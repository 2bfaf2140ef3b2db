//! Tests of the integration-test harness itself (`tests/common`): the raw IPP builder and
//! reader, ipptool output parsing, the throwaway PostgreSQL cluster and the conformance
//! directory. None of them starts `folio`.

use std::fs;

use crate::common::{
    conformance_dir, fresh_postgres_database, op, parse_ipptool_output, parse_response,
    parse_status, postgres_sql, status, tag, RawIpp,
};

#[test]
fn raw_ipp_encodes_header_attributes_and_end_tag() {
    let bytes = RawIpp::new(op::GET_PRINTER_ATTRIBUTES)
        .request_id(7)
        .group(tag::OPERATION_ATTRIBUTES)
        .attr_str(tag::CHARSET, "attributes-charset", "utf-8")
        .value(tag::CHARSET, b"us-ascii")
        .build();
    let expected = [
        &[2, 0, 0x00, 0x0B, 0, 0, 0, 7, 0x01, 0x47, 0, 18][..],
        b"attributes-charset",
        &[0, 5],
        b"utf-8",
        &[0x47, 0, 0, 0, 8],
        b"us-ascii",
        &[0x03],
    ]
    .concat();
    assert_eq!(bytes, expected);
}

#[test]
fn raw_ipp_can_be_broken_on_purpose() {
    let bytes = RawIpp::new(op::PRINT_JOB)
        .version(0, 0)
        .raw(&[0x47, 0xFF])
        .without_end_tag()
        .document(b"%PDF-")
        .build();
    assert_eq!(
        bytes,
        [&[0, 0, 0, 2, 0, 0, 0, 1, 0x47, 0xFF][..], b"%PDF-"].concat()
    );
}

#[test]
fn a_response_is_read_back_with_its_status_message_and_groups() {
    // A response has the same layout as a request, with the status code in place of the
    // operation id.
    let body = RawIpp::new(status::CLIENT_ERROR_BAD_REQUEST)
        .request_id(42)
        .group(tag::OPERATION_ATTRIBUTES)
        .attr_str(tag::CHARSET, "attributes-charset", "utf-8")
        .attr_str(tag::NATURAL_LANGUAGE, "attributes-natural-language", "en")
        .attr_str(
            tag::TEXT_WITHOUT_LANGUAGE,
            "status-message",
            "bad request-id",
        )
        .group(tag::UNSUPPORTED_ATTRIBUTES)
        .attr_i32(tag::INTEGER, "copies", 5)
        .value(tag::INTEGER, &6i32.to_be_bytes())
        .build();
    assert_eq!(
        parse_status(&body),
        (0x0400, Some("bad request-id".to_owned()))
    );
    let response = parse_response(&body).expect("a well-formed response");
    assert_eq!(response.version, (2, 0));
    assert_eq!(response.request_id, 42);
    assert!(response.has_group(tag::UNSUPPORTED_ATTRIBUTES));
    let copies: Vec<Option<i32>> = response.all("copies").iter().map(|v| v.integer()).collect();
    assert_eq!(copies, [Some(5), Some(6)]);
}

#[test]
fn a_status_message_with_language_is_read_as_its_text() {
    let value = [&[0, 2][..], b"en", &[0, 11], b"no such job"].concat();
    let body = RawIpp::new(status::CLIENT_ERROR_NOT_FOUND)
        .group(tag::OPERATION_ATTRIBUTES)
        .attr(tag::TEXT_WITH_LANGUAGE, "status-message", &value)
        .build();
    assert_eq!(
        parse_status(&body),
        (0x0406, Some("no such job".to_owned()))
    );
}

#[test]
fn truncated_responses_are_errors_not_panics() {
    let body = RawIpp::new(0)
        .group(tag::OPERATION_ATTRIBUTES)
        .raw(&[tag::TEXT_WITHOUT_LANGUAGE, 0, 50, b'x'])
        .without_end_tag()
        .build();
    assert!(parse_response(&body).is_err());
    assert_eq!(parse_status(&body), (0, None));
    assert!(parse_response(&[2, 0, 0]).is_err());
    let no_end = RawIpp::new(0).without_end_tag().build();
    assert!(parse_response(&no_end).is_err());
}

/// Shaped like ipptool 2.4.2 `-t` output (stdout then stderr).
const TRANSCRIPT: &str = "\"ipp-1.1.test\":
    RFC 8011 section 4.1.1: Bad request-id value 0                       [PASS]
    RFC 8011 section 4.2.1: Print-Job Operation                          [0001]
    RFC 8011 section 4.2.1: Print-Job Operation                          [PASS]
    RFC 8011 section 4.2.4: Create-Job Operation                         [FAIL]
        RECEIVED: 122 bytes in response
        status-code = server-error-busy (Currently printing another job.)
        EXPECTED: STATUS successful-ok (got server-error-busy)
    Print-Job with A4 PDF, Duplex                                        [SKIP]
    Print-Job with US Letter PDF                                         [PASS]

Summary: 5 tests, 3 passed, 1 failed, 1 skipped
Score: 80%
";

#[test]
fn ipptool_output_is_counted_from_result_lines() {
    let result = parse_ipptool_output(TRANSCRIPT, Some(1));
    assert_eq!(
        (result.passed, result.failed, result.skipped),
        (3, 1, 1),
        "{result:?}"
    );
    assert_eq!(result.summary, Some((5, 3, 1, 1)));
    assert!(result.problems.is_empty(), "{:?}", result.problems);
    assert_eq!(
        result.failure_report(),
        "    RFC 8011 section 4.2.4: Create-Job Operation                         [FAIL]
        RECEIVED: 122 bytes in response
        status-code = server-error-busy (Currently printing another job.)
        EXPECTED: STATUS successful-ok (got server-error-busy)
"
    );
}

#[test]
fn an_aborted_or_timed_out_ipptool_run_is_a_problem_even_with_exit_code_0() {
    let aborted = TRANSCRIPT.to_owned()
        + "ipptool: Filename \"\" (mapped to \"\") on line 150 of \"ipp-1.1.test\" cannot be read.\n";
    let result = parse_ipptool_output(&aborted, Some(0));
    assert_eq!(result.problems.len(), 1, "{:?}", result.problems);

    let result = parse_ipptool_output(TRANSCRIPT, Some(124));
    assert_eq!(result.problems.len(), 1, "{:?}", result.problems);

    let result = parse_ipptool_output(
        "ipptool: Unable to connect to \"127.0.0.1\" on port 1 - Connection refused\n",
        Some(1),
    );
    assert_eq!(result.problems.len(), 2, "{:?}", result.problems);
}

#[test]
fn postgres_databases_are_fresh_and_reachable() {
    let a = fresh_postgres_database();
    let b = fresh_postgres_database();
    assert_ne!(a, b);
    assert!(a.starts_with("postgres://postgres@127.0.0.1:"), "{a}");
    let name = a.rsplit('/').next().expect("a URL has a path");
    assert_eq!(postgres_sql(&a, "SELECT current_database()").trim(), name);
    postgres_sql(&a, "CREATE TABLE harness_probe (x integer)");
    assert_eq!(
        postgres_sql(
            &b,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'harness_probe'"
        )
        .trim(),
        "0"
    );
}

#[test]
fn the_conformance_directory_holds_the_suites_and_every_file_they_name() {
    let dir = conformance_dir();
    let fixed = fs::read_to_string(dir.join("ipp-everywhere-fixed.test")).expect("fixed suite");
    let original = fs::read_to_string(dir.join("ipp-everywhere.test")).expect("original suite");
    assert!(fixed.contains("WITH-VALUE \"document-numbers\""));
    assert!(!fixed.contains("\"document-number\""));
    assert_eq!(
        original.replace("\"document-number\"", "\"document-numbers\""),
        fixed
    );

    for suite in ["ipp-1.1.test", "ipp-2.0.test", "ipp-everywhere-fixed.test"] {
        let text = fs::read_to_string(dir.join(suite)).expect("suite");
        for line in text.lines() {
            let Some(file) = line.trim().strip_prefix("FILE ") else {
                continue;
            };
            let file = file.trim();
            if !file.starts_with('$') {
                assert!(dir.join(file).is_file(), "{suite} names {file}, missing");
            }
        }
    }
    for pdf in [
        "document-letter.pdf",
        "document-a4.pdf",
        "onepage-letter.pdf",
        "onepage-a4.pdf",
        "testfile.pdf",
    ] {
        let bytes = fs::read(dir.join(pdf)).expect("sample PDF");
        assert!(bytes.starts_with(b"%PDF-"), "{pdf} is not a PDF");
    }
    for jpg in ["color.jpg", "gray.jpg", "testfile.jpg"] {
        let bytes = fs::read(dir.join(jpg)).expect("sample JPEG");
        assert!(
            bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            "{jpg} is not a JPEG"
        );
    }
    let raster =
        fs::read(dir.join("pwg-raster-samples-600dpi/sgray-8/document-letter-sgray-8-600dpi.pwg"))
            .expect("PWG raster sample");
    assert!(raster.starts_with(b"RaS2"), "not PWG raster");
}
