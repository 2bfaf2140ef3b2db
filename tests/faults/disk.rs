//! Fault injection: the data directory on a small tmpfs that fills up. New jobs are refused
//! within a second with `server-error-busy` (below the free-space reserve) or
//! `server-error-temporary-error` (the disk itself full), nothing hangs, held jobs still
//! release, and submissions are accepted again as soon as space comes back.
//!
//! Needs root (or CAP_SYS_ADMIN) to mount the tmpfs: the test fails, never skips, without it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::copier::IppEvePrinter;
use crate::common::directory::{write_ldif, TestUser};
use crate::common::release::{add_device, print_as, release_one, wait_state};
use crate::common::{both_backends, op, parse_response, status, RawIpp, TestApp, TestJob};

/// A tmpfs of `mb` MB mounted on a fresh directory, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mb: u32) -> SmallDisk {
        let dir = tempfile::Builder::new()
            .prefix("folio-small-disk-")
            .tempdir()
            .unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mb}m,mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("running mount: {e}"));
        assert!(
            out.status.success(),
            "mounting a {mb} MB tmpfs failed (the disk-full test needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn free_bytes(path: &Path) -> u64 {
    folio::spool::store::free_bytes(path).unwrap()
}

/// Writes `path` until only `leave` bytes are free (0: until the disk refuses a single byte).
fn fill(path: &Path, leave: u64) -> PathBuf {
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0x5Au8; 1 << 20];
    while free_bytes(path.parent().unwrap()) > leave + (1 << 20) {
        if file.write_all(&block).is_err() {
            break;
        }
    }
    if leave == 0 {
        while file.write_all(&block[..4096]).is_ok() {}
        while file.write_all(&block[..1]).is_ok() {}
    }
    let _ = file.sync_all();
    path.to_owned()
}

fn print(server: &TestApp, user: &str, pages: usize) -> (u16, Duration) {
    let started = Instant::now();
    let status = TestJob::pdf(pages).owner(user).submit(server).status;
    (status, started.elapsed())
}

fn spool_files(server: &TestApp) -> usize {
    std::fs::read_dir(server.data_dir.join("spool"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".fdoc"))
        .count()
}

both_backends!(
    a_full_disk_refuses_new_jobs_at_once_and_held_jobs_still_release,
    |backend| {
        let disk = SmallDisk::mount(48);
        let data = disk.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let mut alice = TestUser::new("alice");
        alice.badges = vec!["04A1B2C3".into()];
        write_ldif(&data.join("directory.ldif"), &[alice, TestUser::new("bob")]);
        let mut server = TestApp::builder(backend)
            .data_dir(&data)
            .settings(|s| {
                s.spool_reserve_mb = 8;
            })
            .start();
        let copier = IppEvePrinter::start("Ward Copier", true, false);
        let token = add_device(&data, server.db_url.as_deref(), "ward-3", &copier.uri());
        let first = print_as(&server, "alice", "Compte rendu");
        let second = print_as(&server, "alice", "Ordonnance");
        let held = spool_files(&server);

        // Below the reserve (4 MB left of 8): refused at once, busy, nothing written.
        let filler = fill(&disk.path().join("filler-1"), 4 << 20);
        let (code, took) = print(&server, "bob", 1);
        assert_eq!(
            code,
            status::SERVER_ERROR_BUSY,
            "below the reserve: server-error-busy"
        );
        assert!(took < Duration::from_secs(1), "refused in {took:?}");
        assert_eq!(
            spool_files(&server),
            held,
            "nothing written for a refused job"
        );

        // A held job still releases: the reserve kept room for the database and the audit.
        let (_, result) = release_one(&server, &token, "04A1B2C3", first);
        assert_eq!(result["result"], "releasing", "{result}");
        assert_eq!(copier.received(1, Duration::from_secs(30)).len(), 1);
        wait_state(&server, "alice", first, 9);

        // The disk itself full: still refused at once, and the server answers everything else.
        let full = fill(&disk.path().join("filler-2"), 0);
        assert_eq!(free_bytes(disk.path()), 0, "the disk is full");
        let (code, took) = print(&server, "bob", 1);
        assert_eq!(code, status::SERVER_ERROR_BUSY);
        assert!(took < Duration::from_secs(1), "refused in {took:?}");
        let gpa = RawIpp::new(op::GET_PRINTER_ATTRIBUTES)
            .operation_prelude(&server.ipp_uri())
            .build();
        let r = parse_response(&server.post_ipp(&gpa).1).unwrap();
        assert_eq!(r.status, status::SUCCESSFUL_OK);
        let (code, _) = crate::common::http_get(server.port, "/healthz");
        assert_eq!(code, 200);

        // Space comes back: accepted again at once.
        std::fs::remove_file(&filler).unwrap();
        std::fs::remove_file(&full).unwrap();
        let (code, _) = print(&server, "bob", 1);
        assert_eq!(code, status::SUCCESSFUL_OK, "accepted once space is back");

        // Without a reserve the disk fills for real: the write fails, the client is told to
        // come back (temporary error), the partial file is removed, and space coming back is
        // enough to recover.
        server.restart_with(|s| {
            s.spool_reserve_mb = 0;
        });
        let before = spool_files(&server);
        let full = fill(&disk.path().join("filler-3"), 0);
        let (code, took) = print(&server, "bob", 20);
        assert!(
            code == status::SERVER_ERROR_TEMPORARY_ERROR || code == status::SERVER_ERROR_BUSY,
            "a full disk is a temporary error, got {code:#06x}"
        );
        assert!(took < Duration::from_secs(1), "refused in {took:?}");
        assert_eq!(spool_files(&server), before, "no partial file left");
        std::fs::remove_file(&full).unwrap();
        let (code, _) = print(&server, "bob", 20);
        assert_eq!(code, status::SUCCESSFUL_OK);

        // The other held job is intact and still releases.
        let (_, result) = release_one(&server, &token, "04A1B2C3", second);
        assert_eq!(result["result"], "releasing", "{result}");
        assert_eq!(copier.received(2, Duration::from_secs(30)).len(), 2);
        wait_state(&server, "alice", second, 9);
        for (id, _, ok) in crate::common::verify_spool(&server) {
            assert!(ok, "job {id} does not verify");
        }
        server.kill9();
    }
);
