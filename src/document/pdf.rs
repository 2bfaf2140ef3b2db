//! PDF: page count with lopdf for documents that fit in memory, a streaming scan otherwise.

use super::{DocumentError, PDF_IN_MEMORY_LIMIT};

/// Streaming state of a PDF.
pub struct PdfScan {
    /// The whole document while it is small enough to parse in memory.
    buffered: Option<Vec<u8>>,
    /// Last bytes seen, to find markers that straddle two chunks.
    tail: Vec<u8>,
    /// `/Type /Page` objects seen (not `/Pages`).
    page_objects: u32,
}

const TAIL: usize = 1024;

impl PdfScan {
    pub fn new() -> PdfScan {
        PdfScan {
            buffered: Some(Vec::new()),
            tail: Vec::new(),
            page_objects: 0,
        }
    }

    pub fn feed(&mut self, data: &[u8]) {
        if let Some(buf) = &mut self.buffered {
            if buf.len() + data.len() <= PDF_IN_MEMORY_LIMIT {
                buf.extend_from_slice(data);
                return;
            }
            // Too large to parse in memory: from here on, scan the stream.
            let all = std::mem::take(buf);
            self.buffered = None;
            self.scan(&all);
        }
        self.scan(data);
    }

    /// Counts page objects in `data`, in slices so that the window copied with the carried
    /// tail stays small whatever the size of `data`.
    fn scan(&mut self, data: &[u8]) {
        for slice in data.chunks(64 * 1024) {
            self.scan_slice(slice);
        }
    }

    fn scan_slice(&mut self, data: &[u8]) {
        let mut window = std::mem::take(&mut self.tail);
        let carried = window.len();
        window.extend_from_slice(data);
        self.page_objects += count_page_objects(&window, carried);
        let keep = window.len().min(TAIL);
        self.tail = window[window.len() - keep..].to_vec();
    }

    /// The page count, and whether the pages carry colour (known only for PDFs parsed in
    /// memory).
    pub fn finish(
        self,
        inspector: &dyn super::PdfInspector,
    ) -> Result<(Option<u32>, Option<bool>), DocumentError> {
        match self.buffered {
            Some(buf) => {
                parse_in_memory(&buf, inspector).map(|(pages, colour)| (Some(pages), colour))
            }
            None => {
                if !self.tail.windows(5).any(|w| w == b"%%EOF") {
                    return Err(DocumentError::Malformed(
                        "the PDF has no end-of-file marker (truncated?)".into(),
                    ));
                }
                Ok(((self.page_objects > 0).then_some(self.page_objects), None))
            }
        }
    }
}

/// Counts `/Type /Page` (not `/Pages`) markers that end after `skip` bytes of `window`
/// (markers entirely inside the carried tail were already counted).
fn count_page_objects(window: &[u8], skip: usize) -> u32 {
    let mut count = 0;
    let mut i = 0;
    while let Some(pos) = find(&window[i..], b"/Type") {
        let start = i + pos;
        let mut j = start + 5;
        while j < window.len() && window[j].is_ascii_whitespace() {
            j += 1;
        }
        if window[j..].starts_with(b"/Page") {
            let after = window.get(j + 5).copied();
            let end = j + 5;
            if after.is_some() && after != Some(b's') && end >= skip {
                count += 1;
            }
        }
        i = start + 5;
    }
    count
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_in_memory(
    buf: &[u8],
    inspector: &dyn super::PdfInspector,
) -> Result<(u32, Option<bool>), DocumentError> {
    if !buf.windows(5).rev().take(2048).any(|w| w == b"%%EOF") {
        return Err(DocumentError::Malformed(
            "the PDF has no end-of-file marker (truncated?)".into(),
        ));
    }
    let facts = inspector.inspect(buf)?;
    Ok((facts.pages, facts.colour))
}

/// Reads a whole PDF: its pages and whether they carry colour. Untrusted input: the server runs
/// this in a sandboxed worker ([`super::Sandboxed`]); the parser's own limits
/// ([`super::load_pdf`], the colour walk's budget) keep it bounded there too.
pub fn inspect(buf: &[u8]) -> Result<super::PdfFacts, DocumentError> {
    // lopdf is defensive, but a panic on hostile input must fail this document only.
    let parsed = std::panic::catch_unwind(|| {
        super::load_pdf(buf).map(|doc| {
            let pages = doc.get_pages().len() as u32;
            (pages, super::colour::colour_used(&doc))
        })
    });
    let (pages, colour) = match parsed {
        Ok(Ok(pages)) => pages,
        Ok(Err(e)) => return Err(DocumentError::Malformed(format!("invalid PDF: {e}"))),
        Err(_) => return Err(DocumentError::Malformed("invalid PDF structure".into())),
    };
    if pages == 0 {
        return Err(DocumentError::Malformed("the PDF has no pages".into()));
    }
    Ok(super::PdfFacts { pages, colour })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal valid PDF with `pages` pages (used by other tests too).
    pub fn make_pdf(pages: usize) -> Vec<u8> {
        let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", i + 3)).collect();
        let mut objects = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            format!(
                "<< /Type /Pages /Kids [{}] /Count {pages} >>",
                kids.join(" ")
            )
            .into_bytes(),
        ];
        for _ in 0..pages {
            objects.push(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".to_vec());
        }
        testkit::pdf::from_objects(&objects)
    }

    fn scan(data: &[u8], chunk: usize) -> Result<(Option<u32>, Option<bool>), DocumentError> {
        let mut s = PdfScan::new();
        for c in data.chunks(chunk) {
            s.feed(c);
        }
        s.finish(&crate::document::InProcess)
    }

    #[test]
    fn pages_are_counted_with_lopdf() {
        assert_eq!(scan(&make_pdf(3), 7), Ok((Some(3), Some(false))));
    }

    #[test]
    fn a_truncated_pdf_is_malformed() {
        let pdf = make_pdf(2);
        assert!(scan(&pdf[..pdf.len() / 2], 100).is_err());
    }

    #[test]
    fn garbage_after_the_header_is_malformed() {
        let mut bad = b"%PDF-1.4\n".to_vec();
        bad.extend_from_slice(&[0x42; 500]);
        bad.extend_from_slice(b"\n%%EOF\n");
        assert!(scan(&bad, 64).is_err());
    }

    #[test]
    fn the_streaming_scan_counts_page_objects_across_chunk_boundaries() {
        let pdf = make_pdf(5);
        let mut s = PdfScan::new();
        s.buffered = None;
        for c in pdf.chunks(3) {
            s.feed(c);
        }
        assert_eq!(s.finish(&crate::document::InProcess), Ok((Some(5), None)));
    }
}
