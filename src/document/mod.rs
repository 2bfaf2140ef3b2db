//! What a document is: its format (declared or sniffed) and its page count, learned while the
//! document streams past, with bounded memory whatever its size.
//!
//! PDFs up to [`PDF_IN_MEMORY_LIMIT`] are parsed with lopdf (page tree, and a corrupt or
//! truncated file is refused) by a [`PdfInspector`]: in the server, a sandboxed worker
//! ([`Sandboxed`]), so that a hostile PDF fails alone. Larger PDFs are checked for their header
//! and end marker and their pages counted by scanning for page objects; a PDF whose page
//! objects are all inside compressed object streams then has an unknown page count.

mod colour;
mod pdf;
mod raster;
pub mod watermark;

pub use pdf::inspect as inspect_pdf;

use crate::domain::DocumentFormat;
use crate::sandbox::{Sandbox, SandboxError};

/// PDFs up to this size are parsed fully in memory.
pub const PDF_IN_MEMORY_LIMIT: usize = 8 * 1024 * 1024;

/// Most bytes one stream of a PDF may decompress to (a decompression bomb is refused).
pub const MAX_STREAM_BYTES: usize = 64 * 1024 * 1024;

/// Loads a PDF with every stream's decompression bounded by [`MAX_STREAM_BYTES`]. Every
/// reader of untrusted PDFs loads them through this.
pub fn load_pdf(bytes: &[u8]) -> Result<lopdf::Document, lopdf::Error> {
    lopdf::Document::load_mem_with_options(
        bytes,
        lopdf::LoadOptions::with_max_decompressed_size(MAX_STREAM_BYTES),
    )
}

/// What reading a whole PDF tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PdfFacts {
    pub pages: u32,
    /// Colour on some page (`None`: could not be told within the walk's limits).
    pub colour: Option<bool>,
}

/// Reads a whole PDF held in memory.
pub trait PdfInspector {
    fn inspect(&self, pdf: &[u8]) -> Result<PdfFacts, DocumentError>;
}

/// Reads PDFs in this process: for tests, fuzzing and tools reading a file of their own.
pub struct InProcess;

impl PdfInspector for InProcess {
    fn inspect(&self, pdf: &[u8]) -> Result<PdfFacts, DocumentError> {
        pdf::inspect(pdf)
    }
}

/// Reads PDFs in a sandboxed worker: what the server does with every document it receives.
#[derive(Clone)]
pub struct Sandboxed(pub Sandbox);

impl Sandboxed {
    fn refusal(e: SandboxError) -> DocumentError {
        match e {
            SandboxError::Refused(why) => DocumentError::Malformed(why),
            SandboxError::Overran(how) => {
                DocumentError::Malformed(format!("the document cannot be read safely: {how}"))
            }
            SandboxError::Unavailable(why) => DocumentError::Unavailable(why),
        }
    }

    /// `pdf` with `text` at the foot of every page, made in a worker ([`watermark::stamp`]).
    pub fn stamp(&self, pdf: &[u8], text: &str) -> Result<Vec<u8>, DocumentError> {
        self.0
            .call::<_, serde_json::Value>("pdf.stamp", &serde_json::json!({ "text": text }), pdf)
            .map(|(_, bytes)| bytes)
            .map_err(Sandboxed::refusal)
    }
}

impl PdfInspector for Sandboxed {
    fn inspect(&self, pdf: &[u8]) -> Result<PdfFacts, DocumentError> {
        self.0
            .call("pdf.inspect", &(), pdf)
            .map(|(facts, _)| facts)
            .map_err(Sandboxed::refusal)
    }
}

fn job_inspect(_: serde_json::Value, pdf: Vec<u8>) -> Result<(serde_json::Value, Vec<u8>), String> {
    let facts = pdf::inspect(&pdf).map_err(|e| e.to_string())?;
    Ok((serde_json::json!(facts), Vec::new()))
}

fn job_stamp(
    params: serde_json::Value,
    pdf: Vec<u8>,
) -> Result<(serde_json::Value, Vec<u8>), String> {
    let text = params["text"].as_str().unwrap_or_default();
    let stamped = watermark::stamp(&pdf, text).map_err(|e| e.to_string())?;
    Ok((serde_json::Value::Null, stamped))
}

/// The jobs this room runs in sandboxed workers.
pub const JOBS: crate::sandbox::worker::Jobs =
    &[("pdf.inspect", job_inspect), ("pdf.stamp", job_stamp)];

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// The bytes are not a format Folio prints.
    #[error("unsupported document format{0}")]
    Unsupported(String),
    /// The bytes claim a format but are damaged or truncated, or cannot be read safely.
    #[error("the document is damaged or truncated: {0}")]
    Malformed(String),
    /// The document could not be read now (no sandboxed reader could start): not the
    /// document's fault.
    #[error("the document reader is unavailable: {0}")]
    Unavailable(String),
}

/// What the analysis learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    /// The format, declared or sniffed.
    pub format: DocumentFormat,
    /// Pages, when they could be counted.
    pub pages: Option<u32>,
    /// Whether the pages carry colour, when it could be told (PDFs parsed in memory, see
    /// [`colour`]; raster and JPEG documents are not examined).
    pub color_used: Option<bool>,
}

enum Inner {
    /// Not enough bytes seen yet to know the format.
    Sniffing(Vec<u8>),
    Pdf(pdf::PdfScan),
    Pwg(raster::PwgScan),
    Urf(raster::UrfScan),
    Jpeg(raster::JpegScan),
}

/// A streaming analyser: feed it the document's bytes in order, then call `finish`.
pub struct Analyzer {
    declared: Option<DocumentFormat>,
    inner: Inner,
}

const SNIFF_BYTES: usize = 1024;

impl Analyzer {
    /// An analyser for a document declared as `declared` (`None`: detect it).
    pub fn new(declared: Option<DocumentFormat>) -> Analyzer {
        Analyzer {
            declared,
            inner: Inner::Sniffing(Vec::new()),
        }
    }

    /// Feeds the next bytes of the document.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), DocumentError> {
        if let Inner::Sniffing(head) = &mut self.inner {
            head.extend_from_slice(data);
            if head.len() < SNIFF_BYTES {
                return Ok(());
            }
            let head = std::mem::take(head);
            self.start(&head)?;
            return Ok(());
        }
        self.feed_inner(data)
    }

    fn start(&mut self, head: &[u8]) -> Result<(), DocumentError> {
        let sniffed = DocumentFormat::sniff(head);
        let format = match (self.declared, sniffed) {
            (None, Some(found)) => found,
            (Some(declared), Some(found)) if declared == found => found,
            (Some(declared), Some(found)) => {
                return Err(DocumentError::Malformed(format!(
                    "declared as {} but the content is {}",
                    declared.mime(),
                    found.mime()
                )))
            }
            (Some(declared), None) => {
                return Err(DocumentError::Malformed(format!(
                    "declared as {} but the content is not",
                    declared.mime()
                )))
            }
            (None, None) => {
                return Err(DocumentError::Unsupported(
                    ": the content is not PDF, PWG raster, Apple raster or JPEG".into(),
                ))
            }
        };
        self.inner = match format {
            DocumentFormat::Pdf => Inner::Pdf(pdf::PdfScan::new()),
            DocumentFormat::PwgRaster => Inner::Pwg(raster::PwgScan::new()),
            DocumentFormat::Urf => Inner::Urf(raster::UrfScan::new()),
            DocumentFormat::Jpeg => Inner::Jpeg(raster::JpegScan::new()),
        };
        self.feed_inner(head)
    }

    fn feed_inner(&mut self, data: &[u8]) -> Result<(), DocumentError> {
        match &mut self.inner {
            Inner::Sniffing(_) => Ok(()),
            Inner::Pdf(s) => {
                s.feed(data);
                Ok(())
            }
            Inner::Pwg(s) => s.feed(data),
            Inner::Urf(s) => s.feed(data),
            Inner::Jpeg(s) => {
                s.feed(data);
                Ok(())
            }
        }
    }

    /// Ends the document and returns what was learned, or why it is refused; a PDF held in
    /// memory is read by `inspector`.
    pub fn finish(mut self, inspector: &dyn PdfInspector) -> Result<Analysis, DocumentError> {
        if let Inner::Sniffing(head) = &mut self.inner {
            let head = std::mem::take(head);
            if head.is_empty() {
                return Err(DocumentError::Malformed("the document is empty".into()));
            }
            self.start(&head)?;
        }
        let (format, (pages, color_used)) = match self.inner {
            Inner::Sniffing(_) => unreachable!("start() replaced the sniffing state"),
            Inner::Pdf(s) => (DocumentFormat::Pdf, s.finish(inspector)?),
            Inner::Pwg(s) => (DocumentFormat::PwgRaster, (Some(s.finish()?), None)),
            Inner::Urf(s) => (DocumentFormat::Urf, (Some(s.finish()?), None)),
            Inner::Jpeg(s) => (DocumentFormat::Jpeg, (Some(s.finish()?), None)),
        };
        Ok(Analysis {
            format,
            pages,
            color_used,
        })
    }
}

/// Analyses a whole document held in memory, in this process (tests, fuzzing, tools).
pub fn analyze(declared: Option<DocumentFormat>, data: &[u8]) -> Result<Analysis, DocumentError> {
    let mut a = Analyzer::new(declared);
    for chunk in data.chunks(8192) {
        a.feed(chunk)?;
    }
    a.finish(&InProcess)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_document_is_refused() {
        assert!(matches!(
            analyze(None, b""),
            Err(DocumentError::Malformed(_))
        ));
    }

    #[test]
    fn unknown_content_is_unsupported() {
        assert!(matches!(
            analyze(None, b"hello world"),
            Err(DocumentError::Unsupported(_))
        ));
    }

    #[test]
    fn a_declared_pdf_that_is_a_jpeg_is_malformed() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0xFF, 0xD9];
        assert!(matches!(
            analyze(Some(DocumentFormat::Pdf), &jpeg),
            Err(DocumentError::Malformed(_))
        ));
        assert_eq!(
            analyze(None, &jpeg).unwrap(),
            Analysis {
                format: DocumentFormat::Jpeg,
                pages: Some(1),
                color_used: None,
            }
        );
    }
}
