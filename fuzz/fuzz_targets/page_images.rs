//! Fuzzes the decoding of scanned page images, where a scan's declared sizes meet its data:
//! PDF image objects (raw, Flate, DCT, CCITT Group 4 with its parameters), JPEG and TIFF
//! masters (CCITT, LZW, Deflate inside). The first byte picks the path. Any input must give
//! page images or a clear error, never a panic, and never allocate more than a page's worth.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// A one-page PDF showing an image whose dictionary entries and data come from the input:
/// `dictionary entries` 0xFF `data`.
fn pdf_with_image(data: &[u8]) -> Vec<u8> {
    let mut parts = data.splitn(2, |b| *b == 0xFF);
    let dict = parts.next().unwrap_or_default();
    let image = parts.next().unwrap_or_default();
    let content = b"q 595 0 0 842 0 0 cm /Im Do Q";
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /XObject << /Im 5 0 R >> >> >>".to_vec(),
    ];
    let mut c = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    c.extend_from_slice(content);
    c.extend_from_slice(b"\nendstream");
    objects.push(c);
    let mut i = b"<< /Type /XObject /Subtype /Image ".to_vec();
    i.extend_from_slice(dict);
    i.extend_from_slice(format!(" /Length {} >>\nstream\n", image.len()).as_bytes());
    i.extend_from_slice(image);
    i.extend_from_slice(b"\nendstream");
    objects.push(i);
    testkit::pdf::from_objects(&objects)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 4 {
        0 => {
            let pdf = pdf_with_image(rest);
            if folio::archive::validate::measure(&pdf).is_ok() {
                let _ = folio::archive::pages::each_of_pdf(&pdf, |_| {});
            }
        }
        1 => {
            if folio::archive::validate::measure(rest).is_ok() {
                let _ = folio::archive::pages::of_jpeg(rest);
            }
        }
        2 => {
            if folio::archive::validate::measure(rest).is_ok() {
                let _ = folio::archive::tiff::each_page(rest, |_, _| Ok(()));
            }
        }
        _ => {
            let _ = folio::archive::pages::each_of_pdf(rest, |_| {});
        }
    }
});
