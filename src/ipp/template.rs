//! Reading what a client asks for at job creation: operation attributes (job-name,
//! document-format, compression, fidelity) and job template attributes, into domain types.
//! Unsupported values are collected for the unsupported-attributes group, or refuse the job
//! when the client asked for fidelity.

use super::printer_attrs::JOB_CREATION_ATTRIBUTES;
use super::values::*;
use super::wire::{tag, Attr};
use super::{status, Ctx, IppError, IppValue};
use crate::domain::{ColorMode, DocumentFormat, Sides};
use crate::policy::{Requested, MAX_COPIES};
use crate::spool::Compression;

/// Everything a job creation request asks for.
#[derive(Debug)]
pub struct JobRequest {
    pub job_name: String,
    pub document_name: Option<String>,
    /// `None`: application/octet-stream, detect from content.
    pub format: Option<DocumentFormat>,
    pub compression: Compression,
    pub requested: Requested,
    pub media: Option<String>,
    /// Attributes ignored or substituted, reported to the client.
    pub unsupported: Vec<Attr>,
}

fn single(attr: &Attr) -> Option<&IppValue> {
    match attr.values.as_slice() {
        [v] => Some(v),
        _ => None,
    }
}

/// Reads `document-format` and `compression` (also used by Send-Document).
pub fn document_options(ctx: &Ctx<'_>) -> Result<(Option<DocumentFormat>, Compression), IppError> {
    let format = match ctx.op().get("document-format") {
        None => None,
        Some(a) => {
            match single(a) {
                Some(IppValue::MimeMediaType(m)) => {
                    let m = m.as_str();
                    if m.eq_ignore_ascii_case("application/octet-stream") {
                        None
                    } else {
                        Some(DocumentFormat::from_mime(m).ok_or_else(|| {
                        let mut e = IppError::new(
                            status::DOCUMENT_FORMAT_NOT_SUPPORTED,
                            format!("{m} is not supported; send PDF, PWG raster, Apple raster or JPEG"),
                        );
                        e.unsupported.push(a.clone());
                        e
                    })?)
                    }
                }
                _ => {
                    return Err(IppError::bad_request(
                        "document-format must be one mimeMediaType",
                    ))
                }
            }
        }
    };
    let compression = match ctx.op().get("compression") {
        None => Compression::None,
        Some(a) => match single(a).and_then(as_keyword) {
            Some(k) => Compression::parse(k).ok_or_else(|| {
                let mut e = IppError::new(
                    status::COMPRESSION_NOT_SUPPORTED,
                    format!("compression {k} is not supported"),
                );
                e.unsupported.push(a.clone());
                e
            })?,
            None => return Err(IppError::bad_request("compression must be one keyword")),
        },
    };
    Ok((format, compression))
}

fn name_value(
    ctx: &Ctx<'_>,
    name: &str,
    unsupported: &mut Vec<Attr>,
) -> Result<Option<String>, IppError> {
    let Some(a) = ctx.op().get(name) else {
        return Ok(None);
    };
    match single(a) {
        Some(v @ (IppValue::NameWithoutLanguage(_) | IppValue::NameWithLanguage { .. })) => {
            if a.truncated {
                // Longer than name(MAX): kept cut to 255 bytes, reported as substituted.
                unsupported.push(a.clone());
            }
            Ok(as_text(v).map(str::to_owned))
        }
        _ => Err(IppError::bad_request(format!(
            "{name} must be one name value"
        ))),
    }
}

/// Reads and checks a job creation request (Print-Job, Validate-Job, Create-Job).
pub fn job_request(ctx: &Ctx<'_>) -> Result<JobRequest, IppError> {
    let mut unsupported = Vec::new();
    let fidelity = match ctx.op().get("ipp-attribute-fidelity").and_then(single) {
        None => false,
        Some(IppValue::Boolean(b)) => *b,
        Some(_) => {
            return Err(IppError::bad_request(
                "ipp-attribute-fidelity must be a boolean",
            ))
        }
    };
    let job_name = name_value(ctx, "job-name", &mut unsupported)?;
    let document_name = name_value(ctx, "document-name", &mut unsupported)?;
    let (format, compression) = document_options(ctx)?;

    let mut requested = Requested::default();
    let mut media = None;
    for group in ctx.groups_of(tag::JOB) {
        for a in &group.attrs {
            let ok = match (a.name.as_str(), single(a)) {
                ("copies", Some(IppValue::Integer(n))) if (1..=MAX_COPIES as i32).contains(n) => {
                    requested.copies = Some(*n as u32);
                    true
                }
                ("sides", Some(v)) => as_keyword(v)
                    .and_then(Sides::parse)
                    .map(|s| requested.sides = Some(s))
                    .is_some(),
                ("print-color-mode", Some(v)) => as_keyword(v)
                    .and_then(ColorMode::parse)
                    .map(|c| requested.color_mode = Some(c))
                    .is_some(),
                ("media", Some(v @ (IppValue::Keyword(_) | IppValue::NameWithoutLanguage(_)))) => {
                    media = as_keyword(v).or_else(|| as_text(v)).map(str::to_owned);
                    true
                }
                ("job-hold-until", Some(v)) => {
                    // Every job is held until released at a copier, whatever was asked.
                    let asked = as_keyword(v).or_else(|| as_text(v)).unwrap_or("");
                    asked == "indefinite" || {
                        unsupported.push(a.clone());
                        continue;
                    }
                }
                ("media-col", Some(IppValue::Collection(_))) => true,
                // Typed above: a value that did not match there is unsupported.
                ("copies" | "sides" | "print-color-mode" | "media" | "media-col", _) => false,
                (n, _) if JOB_CREATION_ATTRIBUTES.contains(&n) => true,
                _ => false,
            };
            if !ok {
                unsupported.push(a.clone());
            }
        }
    }
    if fidelity && !unsupported.is_empty() {
        let mut e = IppError::new(
            status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
            "some requested attributes cannot be honoured and ipp-attribute-fidelity is true",
        );
        e.unsupported = unsupported;
        return Err(e);
    }
    Ok(JobRequest {
        job_name: job_name
            .or_else(|| document_name.clone())
            .unwrap_or_else(|| "Untitled".to_owned()),
        document_name,
        format,
        compression,
        requested,
        media,
        unsupported,
    })
}
