//! Fault injection on the way to the copier:
//! - `kill -9` of Folio at random points of the outgoing document stream (3 per database, 30
//!   with `FOLIO_FAULTS_LONG=1`): nothing is sent again by itself, and after the restart the job
//!   awaits its owner's decision at the copier;
//! - copiers that stall (accept the connection, never read), reset the connection in the middle
//!   of the document, or close their side early: the release ends within the copier timeout,
//!   the job is never resent by itself, and Folio goes on serving.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::copier::{ipp_operation, request_complete, scripted, Misbehaviour};
use crate::common::directory::{write_ldif, TestUser};
use crate::common::release::{add_device, job_state, release_one, terminal};
use crate::common::{both_backends, TestApp, TestJob};
use rand::{Rng, SeedableRng};

const PROCESSING_STOPPED: i32 = 6;
const PRINT_JOB: u16 = 0x0002;

/// What a stream copier does with a Print-Job once it has its head.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Copier {
    /// Reads 8 KB every 5 ms and never answers (Folio is killed meanwhile).
    Slow,
    /// Never reads another byte and never answers.
    Stalls,
    /// Reads 4 KB of the document, then closes with unread data: the kernel sends a reset.
    Resets,
    /// Closes its sending side at once (a FIN before any answer) and reads on.
    ClosesEarly,
}

/// A fake copier on loopback that answers status requests and misbehaves on Print-Job.
struct StreamCopier {
    port: u16,
    /// Print-Job requests that reached it.
    print_jobs: Arc<AtomicUsize>,
    /// Bytes of Print-Job requests it read.
    bytes: Arc<AtomicUsize>,
}

impl StreamCopier {
    fn start(how: Copier) -> StreamCopier {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let print_jobs = Arc::new(AtomicUsize::new(0));
        let bytes = Arc::new(AtomicUsize::new(0));
        let (jobs, read) = (print_jobs.clone(), bytes.clone());
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (jobs, read) = (jobs.clone(), read.clone());
                thread::spawn(move || serve(conn, how, &jobs, &read));
            }
        });
        StreamCopier {
            port,
            print_jobs,
            bytes,
        }
    }

    fn uri(&self) -> String {
        format!("ipp://127.0.0.1:{}/ipp/print", self.port)
    }
}

fn serve(mut conn: TcpStream, how: Copier, jobs: &AtomicUsize, read: &AtomicUsize) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(120)));
    let mut all = Vec::new();
    let mut buf = vec![0u8; 8192];
    // Enough of the request to know its operation.
    let operation = loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
        if let Some(op) = ipp_operation(&all) {
            break op;
        }
    };
    if operation != PRINT_JOB {
        while !request_complete(&all) {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
        let _ = conn.write_all(&scripted(Misbehaviour::Silent, operation, 0));
        return;
    }
    jobs.fetch_add(1, Ordering::SeqCst);
    read.fetch_add(all.len(), Ordering::SeqCst);
    match how {
        Copier::Stalls => thread::sleep(Duration::from_secs(120)),
        Copier::Resets => {
            let mut taken = all.len();
            while taken < 4096 {
                match conn.read(&mut buf[..4096]) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => taken += n,
                }
            }
            read.fetch_add(taken - all.len(), Ordering::SeqCst);
            // Dropped with Folio's next bytes unread: the kernel answers them with a reset.
            thread::sleep(Duration::from_millis(50));
        }
        Copier::ClosesEarly | Copier::Slow => {
            if how == Copier::ClosesEarly {
                let _ = conn.shutdown(Shutdown::Write);
            }
            while !request_complete(&all) {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        all.extend_from_slice(&buf[..n]);
                        read.fetch_add(n, Ordering::SeqCst);
                    }
                }
                if how == Copier::Slow {
                    thread::sleep(Duration::from_millis(5));
                }
            }
            // Never answers: a copier that took the bytes and went quiet.
            thread::sleep(Duration::from_secs(120));
        }
    }
}

fn alice(data: &std::path::Path) {
    let mut users = vec![TestUser::new("alice")];
    users[0].badges = vec!["04A1B2C3".into()];
    write_ldif(&data.join("directory.ldif"), &users);
}

/// Prints a PDF of `pages` pages as alice; its job id.
fn print_pages(server: &TestApp, pages: usize) -> i32 {
    TestJob::pdf(pages).owner("alice").held(server)
}

/// The job as a badge session at the copier shows it to alice.
fn session_state(server: &TestApp, token: &str, job: i32) -> String {
    let s = terminal(
        server,
        token,
        "POST",
        "/api/v1/release/sessions",
        r#"{"badge":"04A1B2C3"}"#,
    );
    let session = s.json();
    let found = session["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == job as i64)
        .cloned();
    found.map_or_else(|| "absent".into(), |j| j["state"].as_str().unwrap().into())
}

both_backends!(kill_9_at_random_points_of_a_release_stream, |backend| {
    let points = if crate::common::faults_long_run() {
        30
    } else {
        3
    };
    let seed = crate::common::faults_seed();
    eprintln!("{points} kill points, FOLIO_FAULTS_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let data = tempfile::tempdir().unwrap();
    alice(data.path());
    let mut server = TestApp::builder(backend).data_dir(data.path()).start();
    // A document of about 400 KB that the slow copier takes about half a second to read.
    let pages = 1500;
    for point in 0..points {
        let copier = StreamCopier::start(Copier::Slow);
        let token = add_device(
            data.path(),
            server.db_url.as_deref(),
            &format!("ward-{point}"),
            &copier.uri(),
        );
        let job = print_pages(&server, pages);
        let (_, result) = release_one(&server, &token, "04A1B2C3", job);
        assert_eq!(result["result"], "releasing", "{result}");
        // Kill when the copier has read a random share of the document (0: at once).
        let size = testkit::sample_pdf(pages).len();
        let at = if point == 0 {
            0
        } else {
            rng.gen_range(0..size)
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while copier.bytes.load(Ordering::SeqCst) < at {
            assert!(Instant::now() < deadline, "the copier stopped reading");
            thread::sleep(Duration::from_micros(200));
        }
        let seen = copier.bytes.load(Ordering::SeqCst);
        server.kill9();
        eprintln!("killed at {seen} of about {size} bytes");

        server.restart();
        let (state, message) = job_state(&server, "alice", job);
        assert_eq!(
            state, PROCESSING_STOPPED,
            "after a kill at {seen}: {message}"
        );
        assert!(message.contains("may or may not have printed"), "{message}");
        assert_eq!(session_state(&server, &token, job), "needs-decision");
        thread::sleep(Duration::from_secs(1));
        assert!(
            copier.print_jobs.load(Ordering::SeqCst) <= 1,
            "sent again by itself"
        );
    }
});

/// Releases one job to a copier that misbehaves `how`; returns (state, message) once the
/// release has ended, and checks that Folio serves meanwhile and nothing is resent.
fn release_to(how: Copier) -> (i32, String) {
    let data = tempfile::tempdir().unwrap();
    alice(data.path());
    let server = TestApp::builder(crate::common::Backend::Sqlite)
        .data_dir(data.path())
        .settings(|s| {
            s.release.copier_timeout_secs = 3;
        })
        .start();
    let copier = StreamCopier::start(how);
    let token = add_device(
        data.path(),
        server.db_url.as_deref(),
        "ward-3",
        &copier.uri(),
    );
    // Large enough (about 2.5 MB) to outgrow the loopback socket buffers of a stalled copier.
    let job = print_pages(&server, 10_000);
    let started = Instant::now();
    let (_, result) = release_one(&server, &token, "04A1B2C3", job);
    assert_eq!(result["result"], "releasing", "{how:?}: {result}");
    let (state, message) = loop {
        // Folio answers while the release hangs on the copier.
        let t = Instant::now();
        let (state, message) = job_state(&server, "alice", job);
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "{how:?}: Folio stalled"
        );
        if state != 5 {
            break (state, message);
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{how:?}: the release never ended"
        );
        thread::sleep(Duration::from_millis(100));
    };
    thread::sleep(Duration::from_secs(2));
    assert_eq!(
        copier.print_jobs.load(Ordering::SeqCst),
        1,
        "{how:?}: never resent by itself"
    );
    (state, message)
}

#[test]
fn a_copier_that_stalls_resets_or_closes_early_never_gets_the_job_twice() {
    for how in [Copier::Stalls, Copier::Resets, Copier::ClosesEarly] {
        let (state, message) = release_to(how);
        eprintln!("{how:?}: {state} {message}");
        assert!(
            state == 4 || state == PROCESSING_STOPPED,
            "{how:?}: held again or awaiting its owner, not {state}: {message}"
        );
        if state == PROCESSING_STOPPED {
            assert!(message.contains("may or may not"), "{how:?}: {message}");
        }
    }
}
