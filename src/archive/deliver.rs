//! Delivery of a sealed document, exactly once in effect: every write is keyed by the
//! document's id, so doing it again after a crash replaces it with the same thing.
//!
//! - The archive deposit: `DIR/YYYY/MM/ID.pdf`, then `DIR/YYYY/MM/ID.json` (the manifest, last:
//!   its presence means the deposit is whole), each written to a temporary name, fsynced and
//!   renamed.
//! - FHIR R4: one `transaction` Bundle with `PUT Binary/ID` and `PUT DocumentReference/ID`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use serde_json::json;
use sha1::Digest as _;

use super::seal::Meta;

/// What the manifest and the DocumentReference say besides the metadata.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sealed {
    pub sha256: String,
    pub size: u64,
    /// The time stamp's time (GeneralizedTime text) and token (base64 DER).
    pub tsa_time: String,
    pub tsa_token: String,
    pub retention: String,
}

fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(&partial)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&partial, path)
}

/// Writes the PDF and its manifest into the deposit; returns the manifest's path.
pub fn deposit(
    dir: &Path,
    month: &str,
    meta: &Meta,
    sealed: &Sealed,
    pdf: &[u8],
) -> std::io::Result<PathBuf> {
    let folder = dir.join(month);
    std::fs::create_dir_all(&folder)?;
    write_whole(&folder.join(format!("{}.pdf", meta.document)), pdf)?;
    let manifest = json!({
        "document": meta,
        "sealed": sealed,
        "file": format!("{}.pdf", meta.document),
    });
    let path = folder.join(format!("{}.json", meta.document));
    write_whole(
        &path,
        &serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?,
    )?;
    std::fs::File::open(&folder)?.sync_all()?;
    Ok(path)
}

/// The FHIR transaction Bundle for a document.
pub fn bundle(meta: &Meta, sealed: &Sealed, pdf: &[u8], patient_system: &str) -> serde_json::Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let id = &meta.document;
    // FHIR R4's Attachment.hash is the SHA-1 of the data, base64.
    let sha1 = b64.encode(sha1::Sha1::digest(pdf));
    let mut context = json!({});
    if !meta.encounter.is_empty() {
        context = json!({ "encounter": [{ "identifier": { "value": meta.encounter } }] });
    }
    json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": format!("urn:uuid:{id}-binary"),
                "resource": {
                    "resourceType": "Binary",
                    "id": id,
                    "contentType": "application/pdf",
                    "data": b64.encode(pdf),
                },
                "request": { "method": "PUT", "url": format!("Binary/{id}") },
            },
            {
                "fullUrl": format!("urn:uuid:{id}"),
                "resource": {
                    "resourceType": "DocumentReference",
                    "id": id,
                    "masterIdentifier": { "system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{id}") },
                    "status": "current",
                    "docStatus": "final",
                    "type": { "coding": [{ "system": "urn:folio:classification", "code": meta.category, "display": meta.category_label }], "text": meta.category_label },
                    "subject": { "identifier": { "system": patient_system, "value": meta.patient } },
                    "date": meta.captured_at,
                    "author": [{ "display": meta.operator }],
                    "description": format!("Scanned at {} ({} pages); sealed {} with an RFC 3161 time stamp", meta.device, meta.page_map.len(), sealed.tsa_time),
                    "securityLabel": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R" }] }],
                    "content": [{
                        "attachment": {
                            "contentType": "application/pdf",
                            "url": format!("Binary/{id}"),
                            "size": sealed.size,
                            "hash": sha1,
                            "title": format!("{} - {}", meta.category_label, meta.patient),
                            "creation": meta.captured_at,
                        },
                    }],
                    "context": context,
                },
                "request": { "method": "PUT", "url": format!("DocumentReference/{id}") },
            },
        ],
    })
}

/// Why a transaction did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FhirRefusal {
    /// Outage, overload, credentials or address: the same bundle may pass later.
    Passing(String),
    /// The server read the bundle and will never take it as it is (400, 413, 422): sending it
    /// again only delays the operator who must look at it.
    Final(String),
}

impl FhirRefusal {
    fn of_status(code: u16, message: String) -> FhirRefusal {
        match code {
            400 | 413 | 422 => FhirRefusal::Final(message),
            _ => FhirRefusal::Passing(message),
        }
    }
}

/// Posts the transaction (blocking).
pub fn post_fhir(
    base: &str,
    token: Option<&str>,
    bundle: &serde_json::Value,
) -> Result<(), FhirRefusal> {
    let mut req = ureq::post(base.trim_end_matches('/'))
        .timeout(Duration::from_secs(60))
        .set("Content-Type", "application/fhir+json")
        .set("Accept", "application/fhir+json");
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    match req.send_string(&bundle.to_string()) {
        Ok(_) => Ok(()),
        Err(ureq::Error::Status(code, r)) => {
            let body: String = r
                .into_string()
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            Err(FhirRefusal::of_status(
                code,
                format!("the FHIR server refused the transaction (HTTP {code}): {body}"),
            ))
        }
        Err(e) => Err(FhirRefusal::Passing(format!(
            "the FHIR server cannot be reached: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bundle_the_server_read_and_refused_is_final() {
        let m = || "x".to_owned();
        assert_eq!(FhirRefusal::of_status(422, m()), FhirRefusal::Final(m()));
        assert_eq!(FhirRefusal::of_status(400, m()), FhirRefusal::Final(m()));
        for passing in [401, 403, 404, 408, 429, 500, 503] {
            assert_eq!(
                FhirRefusal::of_status(passing, m()),
                FhirRefusal::Passing(m())
            );
        }
    }

    fn meta() -> Meta {
        Meta {
            document: "0b7c".into(),
            patient: "800001".into(),
            encounter: "NDA-7".into(),
            category: "CRH".into(),
            category_label: "Compte rendu d'hospitalisation".into(),
            operator: "Nina".into(),
            device: "records-copier".into(),
            captured_at: "2026-11-22T10:00:00.000Z".into(),
            master_sha256: "ab".into(),
            page_map: vec![2, 3],
        }
    }

    fn sealed() -> Sealed {
        Sealed {
            sha256: "cd".into(),
            size: 4,
            tsa_time: "20261122100001Z".into(),
            tsa_token: "MII=".into(),
            retention: "20 ans".into(),
        }
    }

    #[test]
    fn a_deposit_is_written_whole_and_again_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = deposit(dir.path(), "2026/11", &meta(), &sealed(), b"%PDF").unwrap();
        deposit(dir.path(), "2026/11", &meta(), &sealed(), b"%PDF").unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path().join("2026/11"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(manifest["document"]["patient"], "800001");
        assert_eq!(manifest["sealed"]["tsa_time"], "20261122100001Z");
    }

    #[test]
    fn the_bundle_puts_both_resources_under_the_documents_id() {
        let b = bundle(&meta(), &sealed(), b"%PDF", "urn:oid:1.2.3");
        assert_eq!(b["type"], "transaction");
        assert_eq!(b["entry"][0]["request"]["url"], "Binary/0b7c");
        let doc = &b["entry"][1]["resource"];
        assert_eq!(doc["subject"]["identifier"]["value"], "800001");
        assert_eq!(doc["content"][0]["attachment"]["url"], "Binary/0b7c");
        assert_eq!(
            doc["content"][0]["attachment"]["hash"],
            "ObbXPv82STugZ05IJVqdgXJLRSE="
        );
    }
}
