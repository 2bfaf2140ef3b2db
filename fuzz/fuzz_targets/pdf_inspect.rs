//! Fuzzes the reading of a whole PDF (its page tree and the colour walk over contents, forms,
//! colour spaces, palettes and images): the fuzz input becomes a page's content stream, its
//! resources and the objects they name, inside a well-formed file, so that the walk itself is
//! reached rather than the parser's first refusal. Any input must give facts or a clear error,
//! never a panic, and stay within the walk's budget.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// `content` | `resources` | object 5 | object 6 …, split on 0xFF.
fn pdf_from(data: &[u8]) -> Vec<u8> {
    let mut parts = data.split(|b| *b == 0xFF);
    let content = parts.next().unwrap_or_default();
    let resources = parts.next().unwrap_or_default();
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
    ];
    let mut page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources ".to_vec();
    page.extend_from_slice(if resources.is_empty() { b"<< >>" } else { resources });
    page.extend_from_slice(b" >>");
    objects.push(page);
    let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    stream.extend_from_slice(content);
    stream.extend_from_slice(b"\nendstream");
    objects.push(stream);
    objects.extend(parts.map(<[u8]>::to_vec));
    testkit::pdf::from_objects(&objects)
}

fuzz_target!(|data: &[u8]| {
    let _ = folio::document::inspect_pdf(&pdf_from(data));
    // The bytes as a file of their own too (the parser's refusals).
    let _ = folio::document::inspect_pdf(data);
});
