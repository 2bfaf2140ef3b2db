//! Fault injection: `kill -9` at random points while 16 clients submit at least 1,000 jobs (20
//! kills, more jobs if the kills need them; 200 kills over 10,000 jobs with
//! `FOLIO_FAULTS_LONG=1`). Every job answered `successful-ok` is there
//! after the last restart, byte-identical after decryption and stored once; no plaintext PDF
//! and no patient name is on disk; the audit chain verifies.
//!
//! The seed of the kill points is printed; `FOLIO_FAULTS_SEED=N` replays a run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{both_backends, folio_cli, op, parse_response, status, tag, RawIpp, TestApp};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

/// The patient name every document and job name carries: it must never be on disk in clear.
const CANARY: &str = "CANARY-DUPONT-Jeanne";

/// A unique one-page PDF naming the patient and the job's number.
fn document(n: usize) -> Vec<u8> {
    let base = testkit::sample_pdf(1);
    String::from_utf8_lossy(&base)
        .replace("Folio page 1", &format!("{CANARY} {n:05}"))
        .into_bytes()
}

enum Outcome {
    /// The server could not be reached: nothing was sent, the same job can be sent again.
    NotSent,
    /// Sent, but no answer (the server died meanwhile): the job may or may not be stored.
    NoAnswer,
    Answered(u16, Option<i64>),
}

/// One Print-Job on a fresh connection, telling "never sent" apart from "no answer".
fn submit(port: &AtomicUsize, request: &[u8]) -> Outcome {
    let port = port.load(Ordering::SeqCst);
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port as u16)) else {
        return Outcome::NotSent;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    let head = format!(
        "POST /ipp/print HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        request.len()
    );
    if stream.write_all(head.as_bytes()).is_err() || stream.write_all(request).is_err() {
        return Outcome::NoAnswer;
    }
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut length = None;
    let mut code = 0;
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return Outcome::NoAnswer,
            Ok(_) => {}
        }
        let l = line.trim_end().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if let Some(rest) = l.strip_prefix("http/1.1 ") {
            code = rest.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        }
        if let Some(v) = l.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length.unwrap_or(0)];
    if code != 200 || reader.read_exact(&mut body).is_err() {
        return Outcome::NoAnswer;
    }
    match parse_response(&body) {
        Ok(r) => Outcome::Answered(r.status, r.integer("job-id").map(i64::from)),
        Err(_) => Outcome::NoAnswer,
    }
}

both_backends!(
    kill_9_at_random_points_during_concurrent_submissions,
    |backend| {
        let (jobs, kills) = if crate::common::faults_long_run() {
            (10_000, 200)
        } else {
            (1_000, 20)
        };
        let seed = crate::common::faults_seed();
        eprintln!("{} jobs, {kills} kills, FOLIO_FAULTS_SEED={seed}", jobs);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut server = TestApp::start(backend);
        let port = Arc::new(AtomicUsize::new(server.port as usize));
        let next = Arc::new(AtomicUsize::new(0));
        // At least `jobs` submissions, and more until every kill has landed: how many jobs a
        // kill leaves unanswered depends on the machine's pace, and running out of jobs must
        // not cut the kills short.
        let kills_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let acked: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
        let unanswered = Arc::new(AtomicUsize::new(0));

        let mut clients = Vec::new();
        for _ in 0..16 {
            let (port, next, acked, unanswered, kills_done) = (
                port.clone(),
                next.clone(),
                acked.clone(),
                unanswered.clone(),
                kills_done.clone(),
            );
            clients.push(std::thread::spawn(move || loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= jobs && kills_done.load(Ordering::SeqCst) {
                    return;
                }
                let pdf = document(n);
                let request = RawIpp::new(op::PRINT_JOB)
                    .operation_prelude("ipp://127.0.0.1/ipp/print")
                    .attr_str(
                        tag::NAME_WITHOUT_LANGUAGE,
                        "requesting-user-name",
                        &format!("user{}", n % 50),
                    )
                    .attr_str(
                        tag::NAME_WITHOUT_LANGUAGE,
                        "job-name",
                        &format!("{CANARY} compte rendu {n}"),
                    )
                    .attr_str(tag::MIME_MEDIA_TYPE, "document-format", "application/pdf")
                    .document(&pdf)
                    .build();
                // Like a print client: a job never sent is kept and sent again; a job sent
                // without an answer is not (it may be stored: sending it again could print it
                // twice, which is the client's choice, not the server's).
                loop {
                    match submit(&port, &request) {
                        Outcome::NotSent => std::thread::sleep(Duration::from_millis(20)),
                        Outcome::NoAnswer => {
                            unanswered.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        Outcome::Answered(code, id) => {
                            if code == status::SUCCESSFUL_OK {
                                let id = id.expect("an acknowledged job has an id");
                                acked
                                    .lock()
                                    .unwrap()
                                    .push((id, hex::encode(Sha256::digest(&pdf))));
                            }
                            break;
                        }
                    }
                }
            }));
        }

        // The kills: each after a random number of new acknowledgements (and a random extra
        // delay of up to 20 ms, so that they land between, inside and after commits).
        let mut killed = 0;
        let deadline = Instant::now()
            + Duration::from_secs(if crate::common::faults_long_run() {
                1800
            } else {
                300
            });
        while killed < kills {
            let before = acked.lock().unwrap().len();
            // About a third of the jobs are acknowledged between kills; the others are in flight
            // when a kill lands, or sent to the dying process (the kernel still completes
            // connections on its listening socket until it is gone).
            let wait_for = rng.gen_range(5..=(jobs / kills / 3).max(6));
            while acked.lock().unwrap().len() < before + wait_for {
                assert!(Instant::now() < deadline, "the submissions stalled");
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_micros(rng.gen_range(0..20_000)));
            server.restart();
            port.store(server.port as usize, Ordering::SeqCst);
            killed += 1;
        }
        kills_done.store(true, Ordering::SeqCst);
        for c in clients {
            c.join().unwrap();
        }
        let acked = acked.lock().unwrap().clone();
        eprintln!(
            "{killed} kills; {} acknowledged, {} sent without an answer",
            acked.len(),
            unanswered.load(Ordering::SeqCst)
        );
        assert!(
            killed == kills,
            "only {killed} kills landed during the submissions"
        );
        assert!(
            unanswered.load(Ordering::SeqCst) > 0,
            "no kill interrupted a submission"
        );

        server.restart();
        let stored = crate::common::verify_spool(&server);
        let mut ids: Vec<_> = stored.iter().map(|(id, _, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), stored.len(), "a job has two documents");
        for (id, hash) in &acked {
            let matching: Vec<_> = stored.iter().filter(|(sid, _, _)| sid == id).collect();
            assert_eq!(matching.len(), 1, "acknowledged job {id} is missing");
            assert_eq!(&matching[0].1, hash, "job {id} is not byte-identical");
            assert!(matching[0].2, "job {id} does not decrypt to its hash");
        }
        let mut hashes: Vec<_> = stored.iter().map(|(_, h, _)| h.clone()).collect();
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), stored.len(), "a document is stored twice");
        assert!(
            stored.len() <= next.load(Ordering::SeqCst),
            "more jobs stored ({}) than submitted",
            stored.len()
        );

        for path in crate::common::files_under(&server.data_dir) {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !crate::common::contains(&bytes, b"%PDF"),
                "plaintext PDF in {}",
                path.display()
            );
            assert!(
                !crate::common::contains(&bytes, CANARY.as_bytes()),
                "the patient's name in clear in {}",
                path.display()
            );
        }
        let audit = folio_cli(
            &server.data_dir,
            server.db_url.as_deref(),
            &["audit", "verify"],
        );
        assert_eq!(audit.code, 0, "{}{}", audit.stdout, audit.stderr);
    }
);
