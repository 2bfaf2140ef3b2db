//! The stages of a scanned document, after its capture was split: identify the patient,
//! classify, QC sampling, seal, deliver. Each returns a [`Verdict`]; the pipeline commits it.

use std::time::Duration;

use base64::Engine;

use super::deliver::{self, FhirRefusal};
use super::identity::Answer;
use super::pipeline::{Effect, Pipeline, Verdict, ENCOUNTER, IDENTITY, PATIENT};
use super::qc;
use super::seal::{self, Meta};
use super::tsa;
use crate::capture::store;
use crate::db::models::qc_lots;
use crate::db::models::scan_captures::{self as captures, CaptureRow};
use crate::db::models::scan_documents::{self as documents, DocumentRow, SealRow};
use crate::db::{self, DbError};

/// How often a document waiting for its QC lot looks again.
const QC_RECHECK: Duration = Duration::from_secs(5);

impl Pipeline {
    pub(super) async fn identify(&self, doc: &DocumentRow) -> Verdict {
        let Some(service) = self.identity.clone() else {
            return Verdict::Quarantine(
                "identity vigilance: no patient identity service is configured ([archive] identity_kind)".into(),
            );
        };
        let master = self.capture.spool().master();
        let Some(patient) = doc
            .patient
            .as_deref()
            .and_then(|p| master.open_text(p, PATIENT))
        else {
            return Verdict::Quarantine("identity vigilance: the document names no patient".into());
        };
        let asked = patient.clone();
        let answer = tokio::task::spawn_blocking(move || service.check(&asked)).await;
        match answer {
            Ok(Answer::Known(identity)) => {
                let json = serde_json::to_string(&identity).unwrap_or_default();
                match master.seal_text(&json, IDENTITY) {
                    Ok(sealed) => Verdict::Next(
                        serde_json::json!({ "deceased": identity.deceased }),
                        Effect::Identity(sealed),
                    ),
                    Err(e) => Verdict::Retry(e.to_string()),
                }
            }
            Ok(Answer::Vigilance(why)) => Verdict::Quarantine(format!("identity vigilance: {why}")),
            Ok(Answer::Unavailable(why)) => Verdict::Retry(why),
            Err(_) => Verdict::Retry("the identity check was interrupted".into()),
        }
    }

    pub(super) fn classify(&self, doc: &DocumentRow) -> Verdict {
        let Some(code) = doc.category.as_deref().filter(|c| !c.is_empty()) else {
            return Verdict::Quarantine("to classify: the cover sheet gives no category".into());
        };
        match self.plan.get(code) {
            Some(c) => Verdict::Next(
                serde_json::json!({ "category": c.code }),
                Effect::Category(c.code.clone(), c.label.clone(), c.retention.clone()),
            ),
            None => Verdict::Quarantine(format!(
                "to classify: category {code} is not in the classification plan"
            )),
        }
    }

    /// The capture a document comes from.
    async fn capture_of(&self, doc: &DocumentRow) -> Result<CaptureRow, String> {
        let id = doc.capture_id;
        self.capture
            .db()
            .run(move |conn| Ok::<_, DbError>(captures::find(conn, id)?))
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("capture {id} is gone"))
    }

    pub(super) async fn qc(&self, doc: &DocumentRow) -> Verdict {
        let rate = self.settings.qc_rate;
        if rate <= 0.0 {
            return Verdict::Next(serde_json::json!({ "qc": "off" }), Effect::None);
        }
        let capture = match self.capture_of(doc).await {
            Ok(c) => c,
            Err(e) => return Verdict::Retry(e),
        };
        let (id, known) = (doc.id, doc.qc_lot.clone());
        let base = qc::lot_of(&capture.device_name, capture.received_at);
        let close_ms = (self.settings.qc_close_secs as i64).saturating_mul(1000);
        let actor = self.node.clone();
        let outcome = self
            .capture
            .db()
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    let now = db::now_ms();
                    let name = match known {
                        Some(l) => l,
                        None => qc_lots::join(conn, id, &base, now)?,
                    };
                    let Some(lot) = qc_lots::find(conn, &name)? else {
                        return Ok::<_, diesel::result::Error>((name, "open".to_owned(), None));
                    };
                    let members = qc_lots::members(conn, &name)?;
                    match lot.state.as_str() {
                        "open" if now - lot.last_added_at >= close_ms => {
                            let seed = rand::random::<i64>() & i64::MAX;
                            let ids: Vec<i64> = members.iter().map(|m| m.0).collect();
                            let sample = qc::draw(&ids, rate, seed as u64);
                            qc_lots::close(conn, &name, seed, ids.len() as i32, &sample)?;
                            let state = if sample.is_empty() { "passed" } else { "review" };
                            crate::audit::append(
                                conn,
                                crate::audit::Event {
                                    actor: "folio",
                                    action: "scan.qc_sampled",
                                    object: &format!("qc-lot:{name}"),
                                    detail: serde_json::json!({ "seed": seed, "size": ids.len(), "sample": sample, "rate": rate }).to_string(),
                                    ..Default::default()
                                },
                            )?;
                            Ok((name, state.to_owned(), None))
                        }
                        "review" => {
                            let sampled: Vec<&(i64, i16, Option<String>)> = members.iter().filter(|m| m.1 == 1).collect();
                            let rejected = sampled.iter().find(|m| m.2.as_deref() == Some("reject")).map(|m| m.0);
                            let all_accepted = sampled.iter().all(|m| m.2.as_deref() == Some("accept"));
                            if rejected.is_some() || all_accepted {
                                qc_lots::decide(conn, &name, rejected.is_none(), &actor, now)?;
                                let state = if rejected.is_none() { "passed" } else { "failed" };
                                return Ok((name, state.to_owned(), rejected));
                            }
                            Ok((name, "review".to_owned(), None))
                        }
                        other => Ok((name, other.to_owned(), None)),
                    }
                })
                .map_err(DbError::from)
            })
            .await;
        match outcome {
            Ok((lot, state, rejected)) => match state.as_str() {
                "passed" => Verdict::Next(serde_json::json!({ "lot": lot }), Effect::None),
                "failed" => Verdict::Quarantine(format!(
                    "QC: lot {lot} failed review{}: scan its documents again",
                    rejected
                        .map(|d| format!(" (document {d} rejected)"))
                        .unwrap_or_default()
                )),
                _ => Verdict::Wait(QC_RECHECK),
            },
            Err(e) => Verdict::Retry(e.to_string()),
        }
    }

    /// The metadata of a document's rendition.
    fn meta(&self, doc: &DocumentRow, capture: &CaptureRow) -> Result<Meta, String> {
        let master = self.capture.spool().master();
        let open =
            |v: &Option<String>, ctx: &str| v.as_deref().and_then(|v| master.open_text(v, ctx));
        let pages: Vec<usize> = serde_json::from_str(&doc.pages).map_err(|e| e.to_string())?;
        let attributes: serde_json::Value =
            serde_json::from_str(&capture.attributes).unwrap_or_default();
        let operator = attributes["display_name"]
            .as_str()
            .map(|n| format!("{n} ({})", capture.uid.as_deref().unwrap_or("-")))
            .or_else(|| capture.uid.clone())
            .unwrap_or_default();
        Ok(Meta {
            document: doc.uuid.clone(),
            patient: open(&doc.patient, PATIENT).ok_or("the document names no patient")?,
            encounter: open(&doc.encounter, ENCOUNTER).unwrap_or_default(),
            category: doc.category.clone().unwrap_or_default(),
            category_label: doc.category_label.clone().unwrap_or_default(),
            operator,
            device: capture.device_name.clone(),
            captured_at: crate::audit::export::utc(capture.received_at),
            master_sha256: capture.sha256.clone(),
            page_map: pages.iter().map(|p| p + 1).collect(),
        })
    }

    pub(super) async fn seal(&self, doc: &DocumentRow) -> Verdict {
        let Some(tsa_url) = Some(self.settings.tsa_url.trim().to_owned()).filter(|u| !u.is_empty())
        else {
            return Verdict::Quarantine(
                "no time-stamping authority is configured ([archive] tsa_url)".into(),
            );
        };
        let capture = match self.capture_of(doc).await {
            Ok(c) => c,
            Err(e) => return Verdict::Retry(e),
        };
        let meta = match self.meta(doc, &capture) {
            Ok(m) => m,
            Err(e) => return Verdict::Quarantine(e),
        };
        let bytes = match self.master(&capture).await {
            Ok(b) => b,
            Err(e) => return Verdict::Retry(e),
        };
        let (pipeline, format, id, name) = (
            self.clone(),
            capture.format.clone().unwrap_or_default(),
            doc.id,
            format!("{}.pdf", doc.uuid),
        );
        let pages: Vec<usize> = meta.page_map.iter().map(|p| p - 1).collect();
        let sealed = tokio::task::spawn_blocking(move || {
            let pdf = pipeline
                .readers
                .rendition(&bytes, &format, &pages, &meta)
                .map_err(|f| match f {
                    super::untrusted::Failure::Scan(why) => Err(why),
                    super::untrusted::Failure::Passing(why) => Ok(why),
                })?;
            let digest = seal::sha256(&pdf);
            let (request, nonce) = tsa::build_request(&digest).map_err(|e| Err(e.to_string()))?;
            let answer = tsa::post_request(&tsa_url, &request).map_err(|e| Ok(e.to_string()))?;
            let stamp = tsa::check_response(&answer, &digest, &nonce)
                .map_err(|e| Err(format!("the time stamp does not fit: {e}")))?;
            if !pipeline.tsa_anchors.is_empty() {
                tsa::verify_token(&stamp.token_der, &digest, &pipeline.tsa_anchors, &[])
                    .map_err(|e| Err(format!("the time stamp does not verify: {e}")))?;
            }
            let dir = pipeline.renditions_dir();
            std::fs::create_dir_all(&dir).map_err(|e| Ok(e.to_string()))?;
            let key = seal::store(&dir, pipeline.capture.spool().master(), &name, &pdf)
                .map_err(|e| Ok(e.to_string()))?;
            Ok::<_, Result<String, String>>(SealRow {
                document_id: id,
                rendition_file: name,
                rendition_key: key,
                rendition_sha256: hex::encode(digest),
                rendition_size: pdf.len() as i64,
                tsa_token: stamp.token_der,
                tsa_time: stamp.gen_time,
                sealed_at: db::now_ms(),
                delivered_at: None,
            })
        })
        .await;
        match sealed {
            Ok(Ok(row)) => Verdict::Next(
                serde_json::json!({ "sha256": row.rendition_sha256, "size": row.rendition_size, "tsa_time": row.tsa_time }),
                Effect::Seal(row),
            ),
            // Ok(e): passing (the TSA or the disk); Err(e): this document's seal is wrong.
            Ok(Err(Ok(e))) => Verdict::Retry(e),
            Ok(Err(Err(e))) => Verdict::Quarantine(e),
            Err(_) => Verdict::Retry("sealing was interrupted".into()),
        }
    }

    pub(super) async fn deliver(&self, doc: &DocumentRow) -> Verdict {
        let deposit_dir = self.settings.deposit_dir.clone();
        let fhir_url = self.settings.fhir_url.trim().to_owned();
        if deposit_dir.as_os_str().is_empty() && fhir_url.is_empty() {
            return Verdict::Quarantine(
                "no archive deposit or FHIR server is configured ([archive] deposit_dir, fhir_url)"
                    .into(),
            );
        }
        let capture = match self.capture_of(doc).await {
            Ok(c) => c,
            Err(e) => return Verdict::Retry(e),
        };
        let meta = match self.meta(doc, &capture) {
            Ok(m) => m,
            Err(e) => return Verdict::Quarantine(e),
        };
        let id = doc.id;
        let seal = match self
            .capture
            .db()
            .run(move |conn| Ok::<_, DbError>(documents::seal_of(conn, id)?))
            .await
        {
            Ok(Some(s)) => s,
            Ok(None) => return Verdict::Quarantine("the document has no seal".into()),
            Err(e) => return Verdict::Retry(e.to_string()),
        };
        let pipeline = self.clone();
        let retention = doc.retention.clone().unwrap_or_default();
        let delivered = tokio::task::spawn_blocking(move || {
            let dir = pipeline.renditions_dir();
            let pdf = store::read_checked(
                &dir,
                pipeline.capture.spool().master(),
                &seal.rendition_file,
                &seal.rendition_key,
                &seal.rendition_sha256,
            )
            .map_err(|e| FhirRefusal::Passing(e.to_string()))?;
            let sealed = deliver::Sealed {
                sha256: seal.rendition_sha256.clone(),
                size: pdf.len() as u64,
                tsa_time: seal.tsa_time.clone(),
                tsa_token: base64::engine::general_purpose::STANDARD.encode(&seal.tsa_token),
                retention,
            };
            if !deposit_dir.as_os_str().is_empty() {
                let month = chrono::DateTime::from_timestamp_millis(capture.received_at)
                    .unwrap_or_default()
                    .format("%Y/%m")
                    .to_string();
                deliver::deposit(&deposit_dir, &month, &meta, &sealed, &pdf).map_err(|e| {
                    FhirRefusal::Passing(format!("the archive deposit failed: {e}"))
                })?;
            }
            if !fhir_url.is_empty() {
                let bundle =
                    deliver::bundle(&meta, &sealed, &pdf, &pipeline.settings.identity_system);
                deliver::post_fhir(&fhir_url, pipeline.fhir_token.as_deref(), &bundle)?;
            }
            Ok::<_, FhirRefusal>(())
        })
        .await;
        match delivered {
            Ok(Ok(())) => Verdict::Next(
                serde_json::json!({ "deposit": !self.settings.deposit_dir.as_os_str().is_empty(), "fhir": !self.settings.fhir_url.is_empty() }),
                Effect::Delivered(db::now_ms()),
            ),
            Ok(Err(FhirRefusal::Passing(e))) => Verdict::Retry(e),
            // The deposit (if any) is written again identically when an operator retries.
            Ok(Err(FhirRefusal::Final(e))) => Verdict::Quarantine(e),
            Err(_) => Verdict::Retry("delivery was interrupted".into()),
        }
    }
}
