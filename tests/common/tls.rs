//! Certificates for TLS tests, made by openssl, and the addresses a server prints.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::TestApp;

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("openssl is needed (Debian package openssl): {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A certificate for `localhost` and 127.0.0.1 signed by a throwaway hospital CA, made with
/// openssl: (certificate, key, CA certificate), as paths.
pub fn certificate(dir: &Path, name: &str) -> (String, String, String) {
    let path = |f: &str| dir.join(format!("{name}-{f}")).display().to_string();
    let (ca, ca_key, key, csr, cert, ext) = (
        path("ca.pem"),
        path("ca.key"),
        path("key.pem"),
        path("csr.pem"),
        path("cert.pem"),
        path("ext.cnf"),
    );
    let rsa = ["-newkey", "rsa:2048", "-nodes"];
    openssl(
        &[
            &[
                "req",
                "-x509",
                "-days",
                "2",
                "-subj",
                "/CN=Test Hospital CA",
                "-keyout",
                &ca_key,
                "-out",
                &ca,
            ][..],
            &rsa,
        ]
        .concat(),
        dir,
    );
    openssl(
        &[
            &[
                "req",
                "-subj",
                "/CN=localhost",
                "-keyout",
                &key,
                "-out",
                &csr,
            ][..],
            &rsa,
        ]
        .concat(),
        dir,
    );
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-extfile",
            &ext,
            "-out",
            &cert,
        ],
        dir,
    );
    (cert, key, ca)
}

/// An address the server printed on stdout after `prefix` (`listening with TLS on `,
/// `listening for FTP scans on `).
pub fn printed_address(server: &TestApp, prefix: &str) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = std::fs::read_to_string(server.data_dir.join("test-server-stdout.log"))
            .unwrap_or_default();
        if let Some(addr) = out.lines().rev().find_map(|l| l.strip_prefix(prefix)) {
            return addr.trim().parse::<SocketAddr>().unwrap();
        }
        assert!(Instant::now() < deadline, "no `{prefix}` line in\n{out}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
