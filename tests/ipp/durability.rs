//! Durable before yes: `kill -9` during 200 concurrent submissions loses no acknowledged job,
//! duplicates none, and leaves no plaintext document on disk.

use std::sync::{Arc, Mutex};

use crate::common::{both_backends, op, parse_response, status, tag, RawIpp, TestApp};
use sha2::{Digest, Sha256};

/// A unique one-page PDF: the text carries the client and sequence numbers.
fn unique_pdf(client: usize, n: usize) -> Vec<u8> {
    let base = testkit::sample_pdf(1);
    let text =
        String::from_utf8_lossy(&base).replace("Folio page 1", &format!("Job {client:02}-{n:03}"));
    text.into_bytes()
}

both_backends!(
    kill_9_during_concurrent_submissions_loses_no_acknowledged_job,
    |backend| {
        let mut server = TestApp::start(backend);
        let port = server.port;
        let uri = server.ipp_uri();
        let acked: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
        // 200 clients submitting at once, more jobs queued behind them than can finish before the
        // kill: the kill always lands in the middle of the stream.
        let clients = 200;
        let per_client = 5;
        let mut handles = Vec::new();
        for client in 0..clients {
            let (acked, uri) = (acked.clone(), uri.clone());
            handles.push(std::thread::spawn(move || {
                for n in 0..per_client {
                    let pdf = unique_pdf(client, n);
                    let req = RawIpp::new(op::PRINT_JOB)
                        .operation_prelude(&uri)
                        .attr_str(
                            tag::NAME_WITHOUT_LANGUAGE,
                            "requesting-user-name",
                            &format!("user{client}"),
                        )
                        .attr_str(tag::MIME_MEDIA_TYPE, "document-format", "application/pdf")
                        .document(&pdf)
                        .build();
                    // The server may die at any moment: failures are expected, acks are promises.
                    let Ok((200, body)) = crate::common::try_post_ipp(port, &req) else {
                        return;
                    };
                    let Ok(resp) = parse_response(&body) else {
                        return;
                    };
                    if resp.status == status::SUCCESSFUL_OK {
                        let id = resp
                            .integer("job-id")
                            .expect("an acknowledged job has an id");
                        acked
                            .lock()
                            .unwrap()
                            .push((id as i64, hex::encode(Sha256::digest(&pdf))));
                    }
                }
            }));
        }
        // Kill the server in the middle of the stream of submissions.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while acked.lock().unwrap().len() < 100 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        server.kill9();
        for h in handles {
            h.join().unwrap();
        }
        let acked = acked.lock().unwrap().clone();
        assert!(
            acked.len() >= 100,
            "only {} jobs were acknowledged before the kill",
            acked.len()
        );
        assert!(
            acked.len() < clients * per_client,
            "the kill came after every submission"
        );

        server.restart();
        let stored = crate::common::verify_spool(&server);
        for (id, hash) in &acked {
            let matching: Vec<_> = stored.iter().filter(|(sid, _, _)| sid == id).collect();
            assert_eq!(
                matching.len(),
                1,
                "job {id} must be stored exactly once: {matching:?}"
            );
            assert_eq!(&matching[0].1, hash, "job {id} is not byte-identical");
            assert!(matching[0].2, "job {id} does not verify");
        }
        let mut hashes: Vec<_> = stored.iter().map(|(_, h, _)| h.clone()).collect();
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), stored.len(), "no document is stored twice");

        for path in crate::common::files_under(&server.data_dir) {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !crate::common::contains(&bytes, b"%PDF"),
                "plaintext PDF bytes in {}",
                path.display()
            );
            assert!(
                !crate::common::contains(&bytes, b"Job 0"),
                "plaintext document text in {}",
                path.display()
            );
        }
    }
);
