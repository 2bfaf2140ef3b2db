//! Peers of the archive tests, on loopback: a patient identity service (JSON or FHIR), an
//! RFC 3161 time-stamping authority made with `openssl ts`, and a FHIR server that checks the
//! transaction bundles it receives strictly.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::directory::{http, HttpAnswer};
use super::{folio_cli, TestApp};

/// A patient identity service on loopback: `800001` and `800004` are active, `800002` was
/// merged into `800003`, everybody else is unknown. `fhir` answers as a FHIR server would.
pub fn identity_service(fhir: bool) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 4096];
            let n = std::io::Read::read(&mut stream, &mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            let path = head.split(' ').nth(1).unwrap_or("").replace("%7C", "|");
            let id = path.rsplit(['/', '|']).next().unwrap_or("").to_owned();
            let known = |id: &str| {
                format!(
                    r#"{{"resourceType":"Bundle","type":"searchset","total":1,"entry":[{{"resource":{{"resourceType":"Patient","id":"p{id}","active":true}}}}]}}"#
                )
            };
            let merged = r#"{"resourceType":"Bundle","type":"searchset","total":1,"entry":[{"resource":{"resourceType":"Patient","id":"p800002","link":[{"type":"replaced-by","other":{"reference":"Patient/p800003"}}]}}]}"#;
            let (status, body) = match (fhir, id.as_str()) {
                (false, "800001" | "800004") => (200, format!(r#"{{"id":"{id}","active":true}}"#)),
                (false, "800002") => (
                    200,
                    r#"{"id":"800002","active":false,"merged_into":"800003"}"#.to_owned(),
                ),
                (false, _) => (404, "{}".to_owned()),
                (true, "800001" | "800004") => (200, known(&id)),
                (true, "800002") => (200, merged.to_owned()),
                (true, _) => (
                    200,
                    r#"{"resourceType":"Bundle","type":"searchset","total":0}"#.to_owned(),
                ),
            };
            let _ = std::io::Write::write_all(
                &mut stream,
                format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    format!("http://127.0.0.1:{port}")
}

const TSA_CNF: &str = r#"
[ req ]
distinguished_name = req_dn
prompt             = no
[ req_dn ]
CN = unused
[ v3_ca ]
basicConstraints       = critical, CA:true
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
[ v3_tsa ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature, nonRepudiation
extendedKeyUsage       = critical, timeStamping
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid, issuer
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir            = .
serial         = $dir/tsaserial
signer_cert    = $dir/tsa.pem
certs          = $dir/ca.pem
signer_key     = $dir/tsa.key
signer_digest  = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests        = sha256, sha384, sha512
accuracy       = secs:1
ess_cert_id_alg = sha256
"#;

pub fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("openssl is needed (Debian package openssl): {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A time-stamping authority: a CA and a TSA certificate (EC P-256) made in `dir`, answering
/// `POST` with `openssl ts -reply`, one request at a time. Returns its URL; the CA is
/// `dir/ca.pem`.
pub fn tsa(dir: &Path) -> String {
    std::fs::write(dir.join("tsa.cnf"), TSA_CNF).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        dir,
        &[
            &["req", "-x509", "-new"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "30",
                "-subj",
                "/CN=Test TSA Root",
                "-config",
                "tsa.cnf",
                "-extensions",
                "v3_ca",
            ],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            &["req", "-new"][..],
            &ec,
            &[
                "-keyout",
                "tsa.key",
                "-out",
                "tsa.csr",
                "-subj",
                "/CN=Test TSA",
                "-config",
                "tsa.cnf",
            ],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "tsa.pem",
            "-days",
            "30",
            "-extfile",
            "tsa.cnf",
            "-extensions",
            "v3_tsa",
        ],
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/tsa", listener.local_addr().unwrap());
    let dir: PathBuf = dir.to_owned();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let Some(body) = read_request(&mut stream) else {
                continue;
            };
            let (q, r) = (format!("req{i}.tsq"), format!("resp{i}.tsr"));
            std::fs::write(dir.join(&q), &body).unwrap();
            let ok = Command::new("openssl")
                .args([
                    "ts",
                    "-reply",
                    "-config",
                    "tsa.cnf",
                    "-queryfile",
                    &q,
                    "-out",
                    &r,
                ])
                .current_dir(&dir)
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            match std::fs::read(dir.join(&r)) {
                Ok(b) if ok => respond(&mut stream, 200, "application/timestamp-reply", &b),
                _ => respond(&mut stream, 500, "text/plain", b"openssl failed"),
            }
        }
    });
    url
}

/// Reads one HTTP request's body (Content-Length).
fn read_request(stream: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    let mut rd = BufReader::new(stream.try_clone().ok()?);
    let (mut len, mut line) = (0usize, String::new());
    loop {
        line.clear();
        if rd.read_line(&mut line).ok()? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; len];
    rd.read_exact(&mut body).ok()?;
    Some(body)
}

fn respond(stream: &mut std::net::TcpStream, status: u16, content_type: &str, body: &[u8]) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(body);
}

/// What the FHIR test server received: document id → (times PUT, the PDF).
pub type Received = Arc<Mutex<std::collections::BTreeMap<String, (u32, Vec<u8>)>>>;

/// Checks a transaction bundle as a FHIR server would, strictly; the document's id and PDF.
pub fn check_bundle(b: &serde_json::Value) -> Result<(String, Vec<u8>), String> {
    use base64::Engine;
    use sha1::Digest;
    let b64 = base64::engine::general_purpose::STANDARD;
    if b["resourceType"] != "Bundle" || b["type"] != "transaction" {
        return Err("not a transaction Bundle".into());
    }
    let entries = b["entry"].as_array().ok_or("no entries")?;
    let [binary, reference] = entries.as_slice() else {
        return Err(format!("{} entries, want 2", entries.len()));
    };
    let (bin, doc) = (&binary["resource"], &reference["resource"]);
    let id = doc["id"].as_str().ok_or("DocumentReference without id")?;
    if bin["resourceType"] != "Binary"
        || doc["resourceType"] != "DocumentReference"
        || bin["id"] != id
    {
        return Err("want a Binary and a DocumentReference with the same id".into());
    }
    for (entry, kind) in [(binary, "Binary"), (reference, "DocumentReference")] {
        if entry["request"]["method"] != "PUT" || entry["request"]["url"] != format!("{kind}/{id}")
        {
            return Err(format!("{kind} must be PUT {kind}/{id}"));
        }
        if !entry["fullUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with("urn:uuid:"))
        {
            return Err("fullUrl must be a urn:uuid".into());
        }
    }
    let pdf = b64
        .decode(bin["data"].as_str().ok_or("Binary without data")?)
        .map_err(|e| e.to_string())?;
    if bin["contentType"] != "application/pdf" || !pdf.starts_with(b"%PDF-") {
        return Err("the Binary is not a PDF".into());
    }
    if doc["status"] != "current"
        || doc["subject"]["identifier"]["value"]
            .as_str()
            .is_none_or(str::is_empty)
    {
        return Err("DocumentReference needs status current and a subject".into());
    }
    let att = &doc["content"][0]["attachment"];
    if att["url"] != format!("Binary/{id}") || att["contentType"] != "application/pdf" {
        return Err("the attachment must point at the Binary".into());
    }
    if att["size"].as_u64() != Some(pdf.len() as u64)
        || att["hash"] != b64.encode(sha1::Sha1::digest(&pdf))
    {
        return Err("the attachment's size or hash does not match the Binary".into());
    }
    if doc["type"]["coding"][0]["code"]
        .as_str()
        .is_none_or(str::is_empty)
    {
        return Err("DocumentReference needs a type".into());
    }
    Ok((id.to_owned(), pdf))
}

/// A FHIR endpoint taking transactions at `POST /fhir`, refusing with 400 any bundle
/// [`check_bundle`] refuses. Returns its base URL and what it received.
pub fn fhir_server() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/fhir", listener.local_addr().unwrap());
    let received: Received = Arc::default();
    let store = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some(body) = read_request(&mut stream) else {
                continue;
            };
            let checked = serde_json::from_slice::<serde_json::Value>(&body)
                .map_err(|e| e.to_string())
                .and_then(|b| check_bundle(&b));
            match checked {
                Ok((id, pdf)) => {
                    let mut all = store.lock().unwrap();
                    let e = all.entry(id).or_insert((0, Vec::new()));
                    e.0 += 1;
                    e.1 = pdf;
                    drop(all);
                    respond(
                        &mut stream,
                        200,
                        "application/fhir+json",
                        br#"{"resourceType":"Bundle","type":"transaction-response"}"#,
                    );
                }
                Err(e) => {
                    let outcome = format!(
                        r#"{{"resourceType":"OperationOutcome","issue":[{{"severity":"error","code":"invalid","diagnostics":"{e}"}}]}}"#
                    );
                    respond(
                        &mut stream,
                        400,
                        "application/fhir+json",
                        outcome.as_bytes(),
                    );
                }
            }
        }
    });
    (url, received)
}

/// A FHIR endpoint that refuses every transaction with `status`: its URL and how many it got.
pub fn refusing_fhir_server(status: u16) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/fhir", listener.local_addr().unwrap());
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            if read_request(&mut stream).is_none() {
                continue;
            }
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            respond(
                &mut stream,
                status,
                "application/fhir+json",
                br#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"business-rule","diagnostics":"DocumentReference.type not in the site's value set"}]}"#,
            );
        }
    });
    (url, count)
}

/// A copier registered with the CLI (its scans need no print connection): its token.
/// The archive's outside services as the tests set them: the JSON identity service at
/// `identity`, the time-stamp authority at `tsa_url`, no quality-control sampling (a test that
/// wants it sets `qc_rate` afterwards).
pub fn archive_services(s: &mut super::Settings, identity: &str, tsa_url: &str) {
    s.archive.identity_kind = "json".into();
    s.archive.identity_url = identity.to_owned();
    s.archive.qc_rate = 0.0;
    s.archive.tsa_url = tsa_url.to_owned();
}

pub fn add_copier(server: &TestApp, name: &str) -> String {
    super::TestDevice::new(name, "socket://127.0.0.1:9")
        .driver("generic-pjl-pdf")
        .add(server)
}

/// POSTs a raw scan with the copier's token and extra headers.
pub fn upload(server: &TestApp, token: &str, body: &[u8], headers: &[(&str, &str)]) -> HttpAnswer {
    let mut req = ureq::post(&server.http_url("/api/v1/scans"))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", "application/pdf")
        .timeout(Duration::from_secs(30));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let resp = match req.send_bytes(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let status = resp.status();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut out).unwrap();
    HttpAnswer {
        status,
        challenge: None,
        body: out,
    }
}

/// Uploads a scan that must be accepted (201); its id.
pub fn upload_accepted(
    server: &TestApp,
    token: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> i64 {
    let answer = upload(server, token, body, headers);
    assert_eq!(
        answer.status,
        201,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()["id"].as_i64().unwrap()
}

/// A multipart form with `file` and `metadata` parts.
pub fn form(file: &[u8], metadata: &str) -> (String, Vec<u8>) {
    let boundary = "folio-test-boundary-7d1";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\
             Content-Type: application/json\r\n\r\n{metadata}\r\n--{boundary}\r\n\
             Content-Disposition: form-data; name=\"file\"; filename=\"scan-0042.pdf\"\r\n\
             Content-Type: application/pdf\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub fn scan(server: &TestApp, auth: &str, id: i64) -> HttpAnswer {
    http(
        "GET",
        &server.http_url(&format!("/api/v1/scans/{id}")),
        Some(auth),
        "",
        b"",
    )
}

/// Waits until scan `id` reaches `stage`.
pub fn wait_until(server: &TestApp, token: &str, id: i64, stage: &str) -> serde_json::Value {
    wait_for(server, token, id, |v| v["stage"] == stage)
}

/// Waits until scan `id`'s view satisfies `done`.
pub fn wait_for(
    server: &TestApp,
    token: &str,
    id: i64,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = scan(server, &format!("Bearer {token}"), id).json();
        if done(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "scan {id} did not get there: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
