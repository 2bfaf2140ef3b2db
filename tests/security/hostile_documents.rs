//! Hostile documents cannot take Folio down (issue 17, `docs/security.md`): print jobs and
//! scans built to overflow the stack, exhaust memory or the processor, or stall a request fail
//! alone (a clear IPP error, or a quarantine with its reason) while the server goes on answering,
//! and Folio starts again cleanly after a stage that stopped it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::archive::{add_copier, upload, wait_for, wait_until};
use crate::common::{
    both_backends, op, parse_response, status, tag, Backend, RawIpp, TestApp, TestJob,
};

use testkit::pdf::from_objects as pdf;

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut s = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    s.extend_from_slice(data);
    s.extend_from_slice(b"\nendstream");
    s
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// One page drawing `content` with `resources`, then `extra` objects from number 5.
fn one_page(content: &[u8], resources: &str, extra: Vec<Vec<u8>>) -> Vec<u8> {
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources {resources} >>").into_bytes(),
        stream("", content),
    ];
    objects.extend(extra);
    pdf(&objects)
}

fn print(server: &TestApp, doc: &[u8]) -> (crate::common::IppResponse, Duration) {
    let started = Instant::now();
    let answer = TestJob::document(doc.to_vec())
        .format("application/pdf")
        .owner("alice")
        .submit(server);
    (answer, started.elapsed())
}

/// The server still answers, and a plain job still prints.
fn still_serving(server: &mut TestApp) {
    assert!(
        server.try_exit_status().is_none(),
        "the server died\n{}",
        server.log_excerpt()
    );
    let (r, _) = print(server, &testkit::sample_pdf(1));
    assert_eq!(
        r.status,
        status::SUCCESSFUL_OK,
        "{:?}",
        r.text("status-message")
    );
}

/// Peak resident memory of a process, in MB.
fn peak_rss_mb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = s.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        / 1024
}

#[test]
fn a_print_job_whose_palette_names_itself_is_read_without_harm() {
    // 600 bytes: an Indexed colour space whose base is itself (the walk once recursed until the
    // stack overflowed and the whole server died).
    let doc = one_page(
        b"/CS0 cs 0 scn 0 0 10 10 re f",
        "<< /ColorSpace << /CS0 5 0 R >> >>",
        vec![b"[/Indexed 5 0 R 0 <000000>]".to_vec()],
    );
    assert!(doc.len() < 700);
    let mut server = TestApp::start(Backend::Sqlite);
    for _ in 0..3 {
        let (r, _) = print(&server, &doc);
        assert_eq!(
            r.status,
            status::SUCCESSFUL_OK,
            "{:?}",
            r.text("status-message")
        );
    }
    still_serving(&mut server);
}

#[test]
fn a_print_job_that_inflates_to_gigabytes_costs_the_server_no_memory() {
    // A palette whose lookup stream is compressed twice: 7 KB that once took the server to 4.4 GB.
    let bomb = zlib(&zlib(&vec![0u8; 256 * 1024 * 1024]));
    assert!(bomb.len() < 512 * 1024, "{}", bomb.len());
    let doc = one_page(
        b"/CS0 cs 0 scn 0 0 10 10 re f",
        "<< /ColorSpace << /CS0 [/Indexed /DeviceRGB 255 5 0 R] >> >>",
        vec![stream("/Filter [/FlateDecode /FlateDecode]", &bomb)],
    );
    let mut server = TestApp::start(Backend::Sqlite);
    let (r, elapsed) = print(&server, &doc);
    assert!(
        matches!(
            r.status,
            status::SUCCESSFUL_OK | status::CLIENT_ERROR_DOCUMENT_FORMAT_ERROR
        ),
        "{:?}",
        r.text("status-message")
    );
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
    let peak = peak_rss_mb(server.pid());
    assert!(peak < 300, "the server itself peaked at {peak} MB");
    still_serving(&mut server);
}

#[test]
fn a_print_job_built_to_spin_the_processor_is_answered_within_its_budget() {
    // 40 pages, each drawing a form that draws the next 40 times, five deep: 40^5 walks per page
    // without a budget (a 21 KB file once took 63 s of processor time).
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count 40 >>",
            (0..40)
                .map(|i| format!("{} 0 R", 10 + i))
                .collect::<Vec<_>>()
                .join(" ")
        )
        .into_bytes(),
    ];
    // Objects 3..=7: the forms, 3 the innermost; 8: the page content.
    objects.push(stream(
        "/Type /XObject /Subtype /Form /BBox [0 0 1 1]",
        b"0 g",
    ));
    for f in 4..=7 {
        objects.push(stream(
            &format!("/Type /XObject /Subtype /Form /BBox [0 0 1 1] /Resources << /XObject << /F {} 0 R >> >>", f - 1),
            "/F Do ".repeat(40).as_bytes(),
        ));
    }
    objects.push(stream("", b"/F Do"));
    objects.push(b"null".to_vec());
    for _ in 0..40 {
        objects.push(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 8 0 R /Resources << /XObject << /F 7 0 R >> >> >>".to_vec());
    }
    let doc = pdf(&objects);
    assert!(doc.len() < 32 * 1024);
    let mut server = TestApp::start(Backend::Sqlite);
    let (r, elapsed) = print(&server, &doc);
    assert_eq!(
        r.status,
        status::SUCCESSFUL_OK,
        "{:?}",
        r.text("status-message")
    );
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    still_serving(&mut server);
}

#[test]
fn a_print_job_that_overruns_its_reader_is_refused_alone() {
    // A reader limited to 32 MB meets a page of four million drawing operators (16 MB of
    // content compressed to 40 KB, several hundred MB once parsed): the worker dies, the job is
    // refused with the reason, and the server, its held jobs and its next job are untouched.
    let content = "0 g\n".repeat(4 * 1024 * 1024);
    let doc = pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_vec(),
        stream("/Filter /FlateDecode", &zlib(content.as_bytes())),
    ]);
    assert!(doc.len() < 100 * 1024);
    let mut server = TestApp::builder(Backend::Sqlite)
        .settings(|s| {
            s.sandbox.memory_mb = 32;
        })
        .start();
    let (held, _) = print(&server, &testkit::sample_pdf(1));
    assert_eq!(held.status, status::SUCCESSFUL_OK);
    let (r, _) = print(&server, &doc);
    assert_eq!(r.status, status::CLIENT_ERROR_DOCUMENT_FORMAT_ERROR);
    let message = r.text("status-message").unwrap_or_default();
    assert!(message.contains("more than 32 MB"), "{message}");
    let spooled = std::fs::read_dir(server.data_dir.join("spool"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_file())
        .count();
    assert_eq!(spooled, 1, "only the good job is kept");
    still_serving(&mut server);
    let metrics = crate::common::http_get(server.port, "/metrics").1;
    assert!(
        metrics.contains("folio_sandbox_worker_deaths_total{lane=\"print\",reason=\"memory\"} 1"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("sandbox"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn a_worker_cannot_reach_the_network_files_or_programs() {
    let out = crate::common::folio_command()
        .args(["sandbox-worker", "--memory-mb", "256"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = out;
    let request = serde_json::json!({ "job": "sandbox.selftest", "cpu_secs": 5, "params": { "mode": "probe" } });
    let header = serde_json::to_vec(&request).unwrap();
    let stdin = child.stdin.as_mut().unwrap();
    stdin
        .write_all(&(header.len() as u32).to_be_bytes())
        .unwrap();
    stdin.write_all(&header).unwrap();
    stdin.write_all(&0u64.to_be_bytes()).unwrap();
    stdin.flush().unwrap();
    let stdout = child.stdout.as_mut().unwrap();
    let mut len = [0u8; 4];
    stdout.read_exact(&mut len).unwrap();
    let mut reply = vec![0u8; u32::from_be_bytes(len) as usize];
    stdout.read_exact(&mut reply).unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    let probe = &reply["result"]["Ok"];
    for what in ["network", "read_file", "write_file", "run_program"] {
        assert!(
            probe[what]
                .as_str()
                .is_some_and(|e| e.contains("not permitted")),
            "{what}: {probe}"
        );
    }
    assert_eq!(
        probe["core"], 0,
        "no core files: they would hold patient pages"
    );
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());

    // The server's own workers hold their three pipes and nothing of the server's (database
    // connections, listening sockets, the key file). What the test harness leaves open to the
    // server is inherited, and of no use: only descriptors 0 to 2 can be read or written.
    let server = TestApp::start(Backend::Postgres);
    let (r, _) = print(&server, &testkit::sample_pdf(1));
    assert_eq!(r.status, status::SUCCESSFUL_OK);
    let workers: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(1));
            ppid == Some(server.pid().to_string().as_str())
        })
        .collect();
    assert!(!workers.is_empty(), "the server runs its readers apart");
    for pid in workers {
        let held: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .map(|t| t.display().to_string())
            .collect();
        assert!(held.len() >= 3, "worker {pid} holds {held:?}");
        let data_dir = server.data_dir.display().to_string();
        assert!(
            held.iter()
                .all(|t| !t.starts_with("socket:") && !t.starts_with(&data_dir)),
            "worker {pid} holds {held:?}"
        );
    }
}

#[test]
fn request_bodies_have_a_deadline_and_a_declared_size_is_checked_first() {
    let server = TestApp::builder(Backend::Sqlite)
        .settings(|s| {
            s.limits.body_timeout_secs = 3;
        })
        .start();
    // A declared gigabyte: refused after its attribute section, in IPP, before a byte of the
    // document is read; a scan upload the same, in HTTP.
    let mut big = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let started = Instant::now();
    let attributes = RawIpp::new(op::PRINT_JOB)
        .operation_prelude(&server.ipp_uri())
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "alice")
        .build();
    big.write_all(
        b"POST /ipp/print HTTP/1.1\r\nHost: x\r\nContent-Type: application/ipp\r\nContent-Length: 1073741824\r\n\r\n",
    )
    .unwrap();
    big.write_all(&attributes).unwrap();
    big.write_all(&[b'%'; 8192]).unwrap();
    big.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = Vec::new();
    let _ = big.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body = &answer[answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    let ipp = parse_response(body).unwrap();
    assert_eq!(
        ipp.status,
        status::CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE,
        "{text} {:?}",
        ipp.text("status-message")
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let mut scan = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    scan.write_all(
        b"POST /api/v1/scans HTTP/1.1\r\nHost: x\r\nContent-Type: application/pdf\r\nContent-Length: 1073741824000\r\n\r\n",
    )
    .unwrap();
    scan.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = [0u8; 64];
    let n = scan.read(&mut answer).unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 413"));

    // A trickle: one byte a second of a declared 100 KB, cut off at the deadline.
    let mut slow = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let header = RawIpp::new(op::PRINT_JOB)
        .operation_prelude(&server.ipp_uri())
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "alice")
        .build();
    slow.write_all(
        format!("POST /ipp/print HTTP/1.1\r\nHost: x\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\n\r\n", header.len() + 100_000).as_bytes(),
    )
    .unwrap();
    slow.write_all(&header).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    while started.elapsed() < Duration::from_secs(20) {
        if slow.write_all(b"%").is_err() {
            break;
        }
        let mut buf = [0u8; 4096];
        match slow.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(800));
    }
    let cut = started.elapsed();
    assert!(cut < Duration::from_secs(10), "still open after {cut:?}");
    assert!(cut >= Duration::from_secs(2), "cut at {cut:?}");
    let files = std::fs::read_dir(server.data_dir.join("spool"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_file())
        .count();
    assert_eq!(files, 0, "nothing kept of a cut request");
    assert_eq!(crate::common::http_get(server.port, "/healthz").0, 200);
}

/// A PDF scan whose page declares a 300,000 × 300,000 image with `filter` and one byte of data.
fn giant_scan(filter: &str) -> Vec<u8> {
    one_page(
        b"q 595 0 0 842 0 0 cm /Im Do Q",
        "<< /XObject << /Im 5 0 R >> >>",
        vec![stream(
            &format!("/Type /XObject /Subtype /Image /Width 300000 /Height 300000 /ColorSpace /DeviceGray /BitsPerComponent 1 {filter}"),
            b"\x00",
        )],
    )
}

both_backends!(
    a_scan_declaring_a_giant_image_is_quarantined_and_folio_restarts_cleanly,
    |backend| {
        let mut server = TestApp::start(backend);
        let token = add_copier(&server, "records-copier");
        let mut ids = Vec::new();
        for filter in [
            "",
            "/Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns 300000 /Rows 300000 >>",
        ] {
            let answer = upload(
                &server,
                &token,
                &giant_scan(filter),
                &[("X-Folio-Metadata", r#"{"user":"alice"}"#)],
            );
            assert_eq!(
                answer.status,
                201,
                "{}",
                String::from_utf8_lossy(&answer.body)
            );
            ids.push(answer.json()["id"].as_i64().unwrap());
        }
        for id in &ids {
            let v = wait_until(&server, &token, *id, "quarantined");
            assert_eq!(v["quarantine"]["stage"], "validate");
            let reason = v["quarantine"]["reason"].as_str().unwrap();
            assert!(reason.contains("300000 × 300000"), "{reason}");
        }
        still_serving(&mut server);
        server.restart();
        for id in &ids {
            let v = wait_until(&server, &token, *id, "quarantined");
            assert_eq!(v["attempts"], 1, "{v}");
        }
        still_serving(&mut server);
    }
);

both_backends!(
    a_stage_that_stops_folio_again_and_again_is_set_aside,
    |backend| {
        use testkit::scan::{scanned_pdf, ScanPage};
        // A batch long enough to stop the server in the middle of its split, as a crash would.
        let pages: Vec<ScanPage> = (0..60).map(ScanPage::Text).collect();
        let batch = scanned_pdf(&pages, 300.0).unwrap();
        let mut server = TestApp::builder(backend)
            .settings(|s| {
                s.scan.max_attempts = 2;
            })
            .start();
        let token = add_copier(&server, "records-copier");
        let answer = upload(
            &server,
            &token,
            &batch,
            &[("X-Folio-Metadata", r#"{"user":"alice"}"#)],
        );
        assert_eq!(answer.status, 201);
        let id = answer.json()["id"].as_i64().unwrap();
        for attempt in 1..=2 {
            wait_for(&server, &token, id, |v| {
                v["stage"] == "split" && v["attempts"] == attempt
            });
            server.restart();
        }
        let v = wait_until(&server, &token, id, "quarantined");
        assert_eq!(v["quarantine"]["stage"], "split");
        let reason = v["quarantine"]["reason"].as_str().unwrap();
        assert!(
            reason.contains("started 2 times without finishing"),
            "{reason}"
        );
        still_serving(&mut server);
    }
);
