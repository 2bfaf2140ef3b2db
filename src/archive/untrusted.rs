//! The archive's readings of scanned masters, run in sandboxed workers: validation, the split's
//! page kinds, the sealed rendition and the reviewers' page pictures. A master that makes its
//! reader overrun or crash is quarantined with the reason; the pipeline goes on.

use super::seal::Meta;
use super::split::PageKind;
use super::validate::Measured;
use crate::sandbox::{Sandbox, SandboxError};

/// Why a reading gave no answer, as the pipeline acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Something is wrong with the scan: quarantine, with the reason in words.
    Scan(String),
    /// Passing (no reader could run): try again later.
    Passing(String),
}

impl From<SandboxError> for Failure {
    fn from(e: SandboxError) -> Failure {
        match e {
            SandboxError::Refused(why) => Failure::Scan(why),
            SandboxError::Overran(how) => {
                Failure::Scan(format!("the scan cannot be read safely: {how}"))
            }
            SandboxError::Unavailable(why) => Failure::Passing(why),
        }
    }
}

/// The scan lane's sandboxed readers.
#[derive(Clone)]
pub struct Readers(pub Sandbox);

#[derive(serde::Serialize, serde::Deserialize)]
struct MeasuredWire {
    format: String,
    pages: u32,
    dpi: Option<u32>,
    colour: bool,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct RenditionParams {
    format: String,
    pages: Vec<usize>,
    meta: Meta,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PageParams {
    format: String,
    page: usize,
    max_width: usize,
}

impl Readers {
    /// [`super::validate::measure`] in a worker.
    pub fn measure(&self, master: &[u8]) -> Result<Measured, Failure> {
        let (m, _): (MeasuredWire, _) = self.0.call("scan.measure", &(), master)?;
        let format = match m.format.as_str() {
            "pdf" => "pdf",
            "tiff" => "tiff",
            "jpeg" => "jpeg",
            other => return Err(Failure::Passing(format!("unexpected format {other}"))),
        };
        Ok(Measured {
            format,
            pages: m.pages,
            dpi: m.dpi,
            colour: m.colour,
        })
    }

    /// [`super::split::kinds_of_master`] in a worker.
    pub fn kinds(&self, master: &[u8], format: &str) -> Result<Vec<PageKind>, Failure> {
        let (kinds, _) = self.0.call(
            "scan.kinds",
            &serde_json::json!({ "format": format }),
            master,
        )?;
        Ok(kinds)
    }

    /// [`super::seal::rendition`] in a worker.
    pub fn rendition(
        &self,
        master: &[u8],
        format: &str,
        pages: &[usize],
        meta: &Meta,
    ) -> Result<Vec<u8>, Failure> {
        let params = RenditionParams {
            format: format.to_owned(),
            pages: pages.to_vec(),
            meta: meta.clone(),
        };
        let (_, pdf): (serde_json::Value, _) = self.0.call("scan.rendition", &params, master)?;
        Ok(pdf)
    }

    /// [`super::preview::page_png`] in a worker.
    pub fn page_png(
        &self,
        master: &[u8],
        format: &str,
        page: usize,
        max_width: usize,
    ) -> Result<Option<Vec<u8>>, Failure> {
        let params = PageParams {
            format: format.to_owned(),
            page,
            max_width,
        };
        let (found, png): (bool, _) = self.0.call("scan.page_png", &params, master)?;
        Ok(found.then_some(png))
    }
}

type Answer = Result<(serde_json::Value, Vec<u8>), String>;

fn params<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| format!("bad parameters: {e}"))
}

fn job_measure(_: serde_json::Value, master: Vec<u8>) -> Answer {
    let m = super::validate::measure(&master)?;
    let wire = MeasuredWire {
        format: m.format.to_owned(),
        pages: m.pages,
        dpi: m.dpi,
        colour: m.colour,
    };
    Ok((serde_json::json!(wire), Vec::new()))
}

fn job_kinds(p: serde_json::Value, master: Vec<u8>) -> Answer {
    let format: String = params(p["format"].clone())?;
    let kinds = super::split::kinds_of_master(&master, &format)?;
    Ok((serde_json::json!(kinds), Vec::new()))
}

fn job_rendition(p: serde_json::Value, master: Vec<u8>) -> Answer {
    let p: RenditionParams = params(p)?;
    let pdf = super::seal::rendition(&master, &p.format, &p.pages, &p.meta)?;
    Ok((serde_json::Value::Null, pdf))
}

fn job_page_png(p: serde_json::Value, master: Vec<u8>) -> Answer {
    let p: PageParams = params(p)?;
    match super::preview::page_png(&master, &p.format, p.page, p.max_width)? {
        Some(png) => Ok((serde_json::json!(true), png)),
        None => Ok((serde_json::json!(false), Vec::new())),
    }
}

/// The jobs this room runs in sandboxed workers.
pub const JOBS: crate::sandbox::worker::Jobs = &[
    ("scan.measure", job_measure),
    ("scan.kinds", job_kinds),
    ("scan.rendition", job_rendition),
    ("scan.page_png", job_page_png),
];
