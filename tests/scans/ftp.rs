//! Scan to FTP(S) with `curl -T`, as copiers do: the copier's own login (its device token; the
//! scan is attributed by the badge session at that copier) or a person's (their directory
//! password; the scan is theirs), 226 only once the master is safe, nothing readable or
//! deletable, refused logins audited, a temporary 452 when the disk is low, and FTPS required
//! when the site has a certificate.

use std::path::Path;
use std::process::Command;

use crate::common::archive::{add_copier, scan};
use crate::common::directory::{password_of, write_ldif, TestUser};
use crate::common::release::terminal;
use crate::common::tls::{certificate, printed_address};
use crate::common::{both_backends, folio_cli, Backend, Settings, TestApp};
use sha2::Digest;

fn users() -> Vec<TestUser> {
    let mut nina = TestUser::new("nina");
    nina.badges = vec!["0A1B2C3D".into()];
    vec![nina, TestUser::new("omar")]
}

/// Runs curl (Debian package curl): its exit code and what it said.
fn curl(args: &[&str]) -> (i32, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("curl is needed (Debian package curl): {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

/// A server on `backend` with the test users and plain FTP (no certificate), with `extra`
/// settings.
fn plain_ftp_server(backend: Backend, data: &Path, change: impl FnOnce(&mut Settings)) -> TestApp {
    TestApp::builder(backend)
        .data_dir(data)
        .directory(&users())
        .settings(|s| {
            s.scan.ftp_listen = "127.0.0.1:0".into();
            s.scan.ftp_require_tls = false;
            change(s);
        })
        .start()
}

/// No master on disk shows a PDF in clear.
fn masters_are_encrypted(data: &Path) {
    for entry in std::fs::read_dir(data.join("captures")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(4).any(|w| w == b"%PDF"));
    }
}

both_backends!(
    copiers_scan_to_ftp_with_their_token_or_a_persons_login,
    |backend| {
        let data = tempfile::tempdir().unwrap();
        let files = tempfile::tempdir().unwrap();
        let server = plain_ftp_server(backend, data.path(), |_| {});
        // The copier's URI names 127.0.0.1: scans from there with a person's login come from it.
        let token = add_copier(&server, "records-copier");
        let ftp = printed_address(&server, "listening for FTP scans on ");
        let url = |user: &str, pass: &str, path: &str| format!("ftp://{user}:{pass}@{ftp}/{path}");

        // Nina badges in; the copier sends her scan with its own login: hers, by the session.
        let session = terminal(
            &server,
            &token,
            "POST",
            "/api/v1/release/sessions",
            r#"{"badge":"0A1B2C3D"}"#,
        );
        assert_eq!(session.status, 201);
        let first = testkit::sample_pdf(2);
        let file = write(files.path(), "scan-0001.pdf", &first);
        let (code, said) = curl(&["-T", &file, &url("records-copier", &token, "")]);
        assert_eq!(code, 0, "{said}");
        // The 226 came after the capture: it is recorded.
        let v = scan(&server, &format!("Bearer {token}"), 1).json();
        assert_eq!(v["channel"], "ftp", "{v}");
        assert_eq!(v["file_name"], "scan-0001.pdf");
        assert_eq!(v["user"], "nina");
        assert_eq!(v["attribution"]["method"], "badge-session");
        assert_eq!(v["sha256"], hex::encode(sha2::Sha256::digest(&first)));
        assert_eq!(v["size_bytes"], first.len());

        // Omar logs in with his own password, into a folder: his scan, strongly, from that copier.
        let second = testkit::sample_pdf(3);
        let file = write(files.path(), "scan-0002.pdf", &second);
        let (code, said) = curl(&[
            "--ftp-create-dirs",
            "-T",
            &file,
            &url("omar", &password_of("omar"), "scans/omar/"),
        ]);
        assert_eq!(code, 0, "{said}");
        let v = scan(&server, &format!("Bearer {token}"), 2).json();
        assert_eq!(v["user"], "omar", "{v}");
        assert_eq!(v["attribution"]["method"], "ftp-login");
        assert_eq!(v["attribution"]["strength"], "strong");
        assert_eq!(v["device"], "records-copier");
        assert_eq!(v["file_name"], "scan-0002.pdf");
        masters_are_encrypted(data.path());

        // A drop box: nothing to read back, nothing to delete, the listing is empty.
        let omar = password_of("omar");
        let (code, _) = curl(&["-o", "-", &url("omar", &omar, "scan-0002.pdf")]);
        assert_ne!(code, 0, "a scan was read back over FTP");
        let (code, _) = curl(&["-Q", "DELE scan-0002.pdf", &url("omar", &omar, "")]);
        assert_ne!(code, 0, "a scan was deleted over FTP");
        let listing = Command::new("curl")
            .args(["-sS", &url("omar", &omar, "")])
            .output()
            .unwrap();
        assert!(listing.status.success() && listing.stdout.is_empty());

        // An empty file is refused for good; the same scan again is recorded as a duplicate.
        let empty = write(files.path(), "empty.pdf", b"");
        let (code, said) = curl(&["-T", &empty, &url("omar", &omar, "")]);
        assert_ne!(code, 0);
        assert!(said.contains("550"), "{said}");
        let (code, said) = curl(&["-T", &file, &url("omar", &omar, "")]);
        assert_eq!(code, 0, "{said}");
        let again = scan(&server, &format!("Bearer {token}"), 3).json();
        assert_eq!(again["duplicate_of"], 2, "{again}");

        // Wrong password, wrong token: refused and audited, the password never recorded.
        let (code, _) = curl(&["-T", &file, &url("omar", "not-his-password", "")]);
        assert_eq!(code, 67, "curl: login denied");
        let (code, _) = curl(&["-T", &file, &url("records-copier", "fdt_forged", "")]);
        assert_eq!(code, 67);
        let out = folio_cli(
            data.path(),
            server.db_url.as_deref(),
            &["audit", "export", "--format", "json"],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let refused: Vec<serde_json::Value> =
            serde_json::from_str::<Vec<serde_json::Value>>(&out.stdout)
                .unwrap()
                .into_iter()
                .filter(|e| e["action"] == "scan.ftp_login")
                .collect();
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(refused.iter().all(|e| e["outcome"] == "failure"));
        assert!(!out.stdout.contains("not-his-password") && !out.stdout.contains("fdt_forged"));
    }
);

#[test]
fn a_low_disk_answers_452_and_keeps_nothing() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let server = plain_ftp_server(Backend::Sqlite, data.path(), |s| {
        s.scan.min_free_mb = 100_000_000
    });
    let token = add_copier(&server, "records-copier");
    let ftp = printed_address(&server, "listening for FTP scans on ");
    let file = write(files.path(), "scan.pdf", &testkit::sample_pdf(1));
    let (code, said) = curl(&["-T", &file, &format!("ftp://records-copier:{token}@{ftp}/")]);
    // 452 is temporary: the copier keeps the scan and sends it again.
    assert_eq!(code, 18, "{said}");
    assert!(said.contains("452"), "{said}");
    assert_eq!(scan(&server, &format!("Bearer {token}"), 1).status, 404);
}

#[test]
fn with_a_certificate_scans_travel_over_ftps_only() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    let (cert, key, ca) = certificate(certs.path(), "folio");
    write_ldif(&data.path().join("directory.ldif"), &users());
    let server = TestApp::builder(Backend::Sqlite)
        .data_dir(data.path())
        .settings(|s| {
            s.scan.ftp_listen = "127.0.0.1:0".into();
            s.tls.listen = "127.0.0.1:0".into();
            s.tls.certificate_file = cert.clone().into();
            s.tls.key_file = key.clone().into();
        })
        .start();
    let token = add_copier(&server, "records-copier");
    let port = printed_address(&server, "listening for FTP scans on ").port();
    let file = write(files.path(), "scan.pdf", &testkit::sample_pdf(1));
    let url = format!("ftp://localhost:{port}/");
    let user = format!("records-copier:{token}");

    // In clear, the login itself is refused: the token never crosses the network unprotected.
    let (code, said) = curl(&["-u", &user, "-T", &file, &url]);
    assert_ne!(code, 0, "{said}");
    assert_eq!(scan(&server, &format!("Bearer {token}"), 1).status, 404);

    // TLS for the login but pages in clear (curl's --ftp-ssl-control: PROT C; the bypass once
    // was PROT C then EPSV, or PASV):
    // refused before any data connection, nothing taken.
    for passive in [&[][..], &["--disable-epsv"][..]] {
        let mut args = vec!["-v", "--ftp-ssl-control", "--cacert", &ca, "-u", &user];
        args.extend_from_slice(passive);
        args.extend_from_slice(&["-T", &file, &url]);
        let (code, said) = curl(&args);
        assert_ne!(code, 0, "{said}");
        assert!(said.contains("< 534") || said.contains("< 521"), "{said}");
        assert!(
            !said.contains("< 150"),
            "no data connection was opened: {said}"
        );
    }
    assert_eq!(scan(&server, &format!("Bearer {token}"), 1).status, 404);

    // Over TLS, checked against the hospital's CA.
    let (code, said) = curl(&[
        "--ssl-reqd",
        "--cacert",
        &ca,
        "-u",
        &user,
        "-T",
        &file,
        &url,
    ]);
    assert_eq!(code, 0, "{said}");
    let v = scan(&server, &format!("Bearer {token}"), 1).json();
    assert_eq!(
        (&v["channel"], &v["file_name"]),
        (&"ftp".into(), &"scan.pdf".into())
    );
}

/// A minimal FTP client on plain FTP: what a copier's firmware sends, line by line.
struct Ftp {
    reader: std::io::BufReader<std::net::TcpStream>,
    writer: std::net::TcpStream,
}

impl Ftp {
    fn connect(address: std::net::SocketAddr) -> Ftp {
        let s = std::net::TcpStream::connect(address).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut f = Ftp {
            reader: std::io::BufReader::new(s.try_clone().unwrap()),
            writer: s,
        };
        assert!(f.answer().starts_with("220"));
        f
    }

    fn answer(&mut self) -> String {
        use std::io::BufRead;
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line
    }

    fn send(&mut self, command: &str) -> String {
        use std::io::Write;
        self.writer
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        self.answer()
    }
}

#[test]
fn a_data_connection_from_another_host_is_turned_away() {
    use std::io::Write;
    let data = tempfile::tempdir().unwrap();
    let server = plain_ftp_server(Backend::Sqlite, data.path(), |_| {});
    let token = add_copier(&server, "records-copier");
    let ftp = printed_address(&server, "listening for FTP scans on ");
    let mut copier = Ftp::connect(ftp);
    assert!(copier.send("USER records-copier").starts_with("331"));
    assert!(copier.send(&format!("PASS {token}")).starts_with("230"));
    assert!(
        copier.send("PORT 127,0,0,1,200,1").starts_with("502"),
        "no active mode"
    );
    let epsv = copier.send("EPSV");
    assert!(epsv.starts_with("229"), "{epsv}");
    let port: u16 = epsv
        .split("|||")
        .nth(1)
        .unwrap()
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .unwrap();
    // Another host (127.0.0.2) races to the data port first with its own "scan".
    let mut stranger = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap()
        .block_on(async {
            let s = tokio::net::TcpSocket::new_v4().unwrap();
            s.bind("127.0.0.2:0".parse().unwrap()).unwrap();
            let stream = s.connect(([127, 0, 0, 1], port).into()).await.unwrap();
            let std = stream.into_std().unwrap();
            std.set_nonblocking(false).unwrap();
            std
        });
    let _ = stranger.write_all(b"%PDF-1.4 forged pages");
    let _ = stranger.shutdown(std::net::Shutdown::Write);
    let stor = copier.send("STOR scan-0042.pdf");
    assert!(stor.starts_with("150"), "{stor}");
    let mut data = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let pdf = testkit::sample_pdf(2);
    data.write_all(&pdf).unwrap();
    drop(data);
    let done = copier.answer();
    assert!(done.starts_with("226"), "{done}");
    let v = scan(&server, &format!("Bearer {token}"), 1).json();
    assert_eq!(
        v["sha256"],
        hex::encode(sha2::Sha256::digest(&pdf)),
        "the copier's scan, not the stranger's"
    );
    assert_eq!(scan(&server, &format!("Bearer {token}"), 2).status, 404);
    let out = folio_cli(
        &server.data_dir,
        server.db_url.as_deref(),
        &["audit", "export", "--format", "json"],
    );
    assert!(
        out.stdout.contains("scan.ftp_data_refused") && out.stdout.contains("127.0.0.2"),
        "{}",
        out.stdout
    );
}
