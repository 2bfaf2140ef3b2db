//! Patient cover sheets: a sheet scanned before each patient's pages, carrying who the pages
//! belong to in a versioned payload with a check value, printed three times: a QR code and a
//! DataMatrix (either is enough), and a Code 128 marker that tells a cover sheet apart even
//! when its 2D codes cannot be read.
//!
//! Payload: `FOLIO1;P=<patient id>;E=<encounter>;C=<category>;K=<check>`, where the check is
//! the first 8 hex digits of the SHA-256 of everything before `;K=`.

use sha2::{Digest, Sha256};

/// The Code 128 text marking a cover sheet.
pub const MARKER: &str = "FOLIO-COVER";
/// The payload's version tag.
const VERSION: &str = "FOLIO1";

/// Who and what the pages after a cover sheet are.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CoverSheet {
    /// The hospital's patient identifier (IPP in French hospitals).
    pub patient: String,
    /// The stay or visit (NDA), may be empty.
    pub encounter: String,
    /// The category code of the classification plan, may be empty (a person classifies).
    pub category: String,
}

/// A value allowed in a payload field: letters, digits and `._-`, at most 32.
fn valid_field(s: &str) -> bool {
    s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn check_of(body: &str) -> String {
    hex::encode_upper(&Sha256::digest(body.as_bytes())[..4])
}

impl CoverSheet {
    pub fn new(patient: &str, encounter: &str, category: &str) -> Result<CoverSheet, String> {
        let sheet = CoverSheet {
            patient: patient.trim().to_owned(),
            encounter: encounter.trim().to_owned(),
            category: category.trim().to_owned(),
        };
        if sheet.patient.is_empty() {
            return Err("a cover sheet needs a patient identifier".into());
        }
        for (name, value) in [
            ("patient", &sheet.patient),
            ("encounter", &sheet.encounter),
            ("category", &sheet.category),
        ] {
            if !valid_field(value) {
                return Err(format!(
                    "the {name} `{value}` may only hold letters, digits and . _ - (32 at most)"
                ));
            }
        }
        Ok(sheet)
    }

    /// The payload printed in the codes.
    pub fn payload(&self) -> String {
        let body = format!(
            "{VERSION};P={};E={};C={}",
            self.patient, self.encounter, self.category
        );
        let check = check_of(&body);
        format!("{body};K={check}")
    }

    /// Reads a payload; the error says what is wrong (an unreadable separator).
    pub fn parse(payload: &str) -> Result<CoverSheet, String> {
        let (body, check) = payload
            .rsplit_once(";K=")
            .ok_or("the cover sheet's code has no check value")?;
        if check_of(body) != check {
            return Err("the cover sheet's code fails its check value (misread or altered)".into());
        }
        let mut parts = body.split(';');
        match parts.next() {
            Some(VERSION) => {}
            Some(other) => return Err(format!("unknown cover sheet version `{other}`")),
            None => return Err("empty cover sheet code".into()),
        }
        let (mut p, mut e, mut c) = (None, None, None);
        for part in parts {
            match part.split_once('=') {
                Some(("P", v)) => p = Some(v),
                Some(("E", v)) => e = Some(v),
                Some(("C", v)) => c = Some(v),
                _ => {
                    return Err(format!(
                        "unexpected field `{part}` in the cover sheet's code"
                    ))
                }
            }
        }
        CoverSheet::new(
            p.ok_or("the cover sheet's code has no patient")?,
            e.unwrap_or(""),
            c.unwrap_or(""),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_misreads_are_caught() {
        let sheet = CoverSheet::new("800123456", "NDA-2026-77", "CRH").unwrap();
        let p = sheet.payload();
        assert!(
            p.starts_with("FOLIO1;P=800123456;E=NDA-2026-77;C=CRH;K="),
            "{p}"
        );
        assert_eq!(CoverSheet::parse(&p).unwrap(), sheet);
        let misread = p.replace("800123456", "800123457");
        assert!(CoverSheet::parse(&misread)
            .unwrap_err()
            .contains("check value"));
        assert!(CoverSheet::parse("FOLIO1;P=1")
            .unwrap_err()
            .contains("no check"));
        assert!(CoverSheet::new("", "", "").is_err());
        assert!(CoverSheet::new("12;K=x", "", "")
            .unwrap_err()
            .contains("letters"));
    }
}
