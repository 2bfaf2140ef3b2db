//! Small valid PDFs written by hand (no library): what a print job carries in the tests and
//! in `folio-bench intake`.

/// A minimal valid PDF of `pages` A4 pages with a little black text on each ("Folio page N").
pub fn sample_pdf(pages: usize) -> Vec<u8> {
    pdf_in_ink(pages, "0 g")
}

/// The same with red text: a document with colour on every page.
pub fn sample_colour_pdf(pages: usize) -> Vec<u8> {
    pdf_in_ink(pages, "0.8 0.1 0.1 rg")
}

/// A PDF of `objects` (numbered from 1; the first is the catalog) with a correct xref table:
/// any structure, hostile ones included, written exactly as given.
pub fn from_objects(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, obj) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(obj);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// Text drawn after the colour operator `ink`.
fn pdf_in_ink(pages: usize, ink: &str) -> Vec<u8> {
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            (0..pages)
                .map(|i| format!("{} 0 R", 4 + 2 * i))
                .collect::<Vec<_>>()
                .join(" ")
        )
        .into_bytes(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ];
    for i in 0..pages {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ).into_bytes());
        let content = format!("{ink} BT /F1 24 Tf 72 760 Td (Folio page {}) Tj ET", i + 1);
        objects.push(
            format!(
                "<< /Length {} >>\nstream\n{content}\nendstream",
                content.len()
            )
            .into_bytes(),
        );
    }
    from_objects(&objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_pdfs_read_back_with_their_pages_and_text() {
        let doc = lopdf::Document::load_mem(&sample_pdf(3)).unwrap();
        assert_eq!(doc.get_pages().len(), 3);
        assert!(doc.extract_text(&[2]).unwrap().contains("Folio page 2"));
        let colour = String::from_utf8_lossy(&sample_colour_pdf(1)).into_owned();
        assert!(colour.contains("0.8 0.1 0.1 rg"), "{colour}");
    }
}
