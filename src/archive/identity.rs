//! The patient identity service: before a document is filed under a patient, the hospital's
//! identity server must know the patient, as active and not merged into another record. Two
//! kinds: FHIR (`GET {url}/Patient?identifier={system}|{id}`) and plain JSON
//! (`GET {url}/{id}` → `{"id", "active", "deceased", "merged_into"}`). Anything else than a
//! clear, matching answer is identity vigilance's to look at.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[archive]` identity settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IdentityKind {
    Fhir,
    Json,
}

/// Where to ask.
#[derive(Debug, Clone)]
pub struct IdentityService {
    pub kind: IdentityKind,
    pub url: String,
    /// The FHIR identifier system of the hospital's patient ids.
    pub system: String,
    pub token: Option<String>,
}

/// What the service said, kept (sealed) with the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub id: String,
    pub active: bool,
    pub deceased: bool,
}

/// The answer: filed, refused for vigilance, or ask again later.
#[derive(Debug)]
pub enum Answer {
    Known(Identity),
    Vigilance(String),
    Unavailable(String),
}

impl IdentityService {
    /// Asks about `patient` (blocking: run it on the blocking pool).
    pub fn check(&self, patient: &str) -> Answer {
        let url = match self.kind {
            IdentityKind::Fhir => format!(
                "{}/Patient?identifier={}",
                self.url.trim_end_matches('/'),
                form_urlencoded::byte_serialize(format!("{}|{patient}", self.system).as_bytes())
                    .collect::<String>()
            ),
            IdentityKind::Json => format!(
                "{}/{}",
                self.url.trim_end_matches('/'),
                form_urlencoded::byte_serialize(patient.as_bytes()).collect::<String>()
            ),
        };
        let accept = match self.kind {
            IdentityKind::Fhir => "application/fhir+json",
            IdentityKind::Json => "application/json",
        };
        let mut req = ureq::get(&url)
            .timeout(Duration::from_secs(10))
            .set("Accept", accept);
        if let Some(t) = &self.token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        let body: serde_json::Value = match req.call() {
            Ok(r) => match r
                .into_string()
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
            {
                Ok(v) => v,
                Err(e) => {
                    return Answer::Unavailable(format!(
                        "the identity service's answer is not JSON: {e}"
                    ))
                }
            },
            Err(ureq::Error::Status(404, _)) if self.kind == IdentityKind::Json => {
                return Answer::Vigilance(format!(
                    "patient {patient} is unknown to the identity service"
                ))
            }
            Err(ureq::Error::Status(code, _)) => {
                return Answer::Unavailable(format!("the identity service answered HTTP {code}"))
            }
            Err(e) => {
                return Answer::Unavailable(format!("the identity service cannot be reached: {e}"))
            }
        };
        match self.kind {
            IdentityKind::Fhir => fhir_answer(patient, &body),
            IdentityKind::Json => json_answer(patient, &body),
        }
    }
}

fn judge(patient: &str, active: bool, deceased: bool, merged_into: Option<String>) -> Answer {
    if let Some(other) = merged_into {
        return Answer::Vigilance(format!(
            "patient {patient} was merged into {other}: print a cover sheet for {other}"
        ));
    }
    if !active {
        return Answer::Vigilance(format!("patient {patient}'s record is not active"));
    }
    Answer::Known(Identity {
        id: patient.to_owned(),
        active,
        deceased,
    })
}

fn json_answer(patient: &str, v: &serde_json::Value) -> Answer {
    if v["id"].as_str() != Some(patient) {
        return Answer::Vigilance(format!(
            "the identity service answered for {} when asked about {patient}",
            v["id"].as_str().unwrap_or("nobody")
        ));
    }
    judge(
        patient,
        v["active"].as_bool().unwrap_or(false),
        v["deceased"].as_bool().unwrap_or(false),
        v["merged_into"].as_str().map(str::to_owned),
    )
}

fn fhir_answer(patient: &str, bundle: &serde_json::Value) -> Answer {
    if bundle["resourceType"] != "Bundle" {
        return Answer::Unavailable("the FHIR server did not answer with a Bundle".into());
    }
    let patients: Vec<&serde_json::Value> = bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| &x["resource"])
                .filter(|r| r["resourceType"] == "Patient")
                .collect()
        })
        .unwrap_or_default();
    let p = match patients.as_slice() {
        [] => {
            return Answer::Vigilance(format!(
                "patient {patient} is unknown to the identity service"
            ))
        }
        [one] => *one,
        _ => {
            return Answer::Vigilance(format!(
                "{} patient records carry the identifier {patient}",
                patients.len()
            ))
        }
    };
    let merged = p["link"].as_array().and_then(|links| {
        links.iter().find(|l| l["type"] == "replaced-by").map(|l| {
            l["other"]["reference"]
                .as_str()
                .unwrap_or("another record")
                .to_owned()
        })
    });
    let deceased =
        p["deceasedBoolean"].as_bool().unwrap_or(false) || p["deceasedDateTime"].is_string();
    // FHIR: a Patient without `active` is active.
    judge(
        patient,
        p["active"].as_bool().unwrap_or(true),
        deceased,
        merged,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fhir_answers_are_judged() {
        let one = |p: serde_json::Value| json!({ "resourceType": "Bundle", "entry": [{ "resource": p }] });
        let known = fhir_answer(
            "42",
            &one(json!({ "resourceType": "Patient", "deceasedBoolean": true })),
        );
        assert!(matches!(
            known,
            Answer::Known(Identity { deceased: true, .. })
        ));
        let merged = fhir_answer(
            "42",
            &one(json!({ "resourceType": "Patient",
            "link": [{ "type": "replaced-by", "other": { "reference": "Patient/43" } }] })),
        );
        assert!(matches!(merged, Answer::Vigilance(m) if m.contains("merged into Patient/43")));
        let inactive = fhir_answer(
            "42",
            &one(json!({ "resourceType": "Patient", "active": false })),
        );
        assert!(matches!(inactive, Answer::Vigilance(m) if m.contains("not active")));
        let none = fhir_answer("42", &json!({ "resourceType": "Bundle", "total": 0 }));
        assert!(matches!(none, Answer::Vigilance(m) if m.contains("unknown")));
        assert!(matches!(
            fhir_answer("42", &json!({})),
            Answer::Unavailable(_)
        ));
    }

    #[test]
    fn json_answers_must_be_about_the_patient_asked() {
        let ok = json_answer("42", &json!({ "id": "42", "active": true }));
        assert!(matches!(ok, Answer::Known(_)));
        let other = json_answer("42", &json!({ "id": "24", "active": true }));
        assert!(matches!(other, Answer::Vigilance(m) if m.contains("answered for 24")));
    }
}
