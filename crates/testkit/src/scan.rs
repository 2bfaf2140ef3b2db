//! Scanned batches made in memory, as a copier sends them: 8-bit gray A4 pages at a given
//! resolution, Folio cover sheets drawn with the printed sheet's layout
//! (`folio::archive::sheet`), so the split finds them where it finds real ones.

use folio::archive::barcodes::{draw, modules};
use folio::archive::cover::MARKER;
use folio::archive::image_pdf::{flate_image, ImagePdf};
use folio::archive::sheet::{A4_MM, BAR_QUIET, DM_AT, DM_QUIET, MARKER_AT, QR_AT, QR_QUIET};
use rxing::common::BitMatrix;
use rxing::BarcodeFormat;

pub use folio::archive::cover::CoverSheet;

const PT_PER_MM: f64 = 72.0 / 25.4;

/// One page of a batch to make.
#[derive(Debug, Clone)]
pub enum ScanPage {
    /// A patient's cover sheet.
    Cover(CoverSheet),
    /// A cover sheet with its 2D codes smudged away (the marker still readable).
    SmudgedCover,
    /// A page of text, `n` varies the drawing.
    Text(u32),
}

/// The 8-bit gray image of a page at `dpi` (paper 250, ink 0–40): `(pixels, width, height)`.
pub fn scan_image(page: &ScanPage, dpi: f64) -> Result<(Vec<u8>, usize, usize), String> {
    let px = |mm: f64| (mm / 25.4 * dpi).round() as usize;
    let (w, h) = (px(A4_MM.0), px(A4_MM.1));
    let mut img = vec![250u8; w * h];
    // A code as the printed sheet places it: scaled to its box, quiet zone inside the box.
    let mut place = |m: &BitMatrix, quiet: u32, (x, y, bw, bh): (f64, f64, f64, f64)| {
        let total = m.width() + 2 * quiet;
        let scale = (px(bw) / total as usize).max(1);
        let top = if m.height() == 1 {
            0
        } else {
            quiet as usize * scale
        };
        let origin = (px(x) + quiet as usize * scale, px(y) + top);
        draw(&mut img, w, m, origin, scale, px(bh));
    };
    match page {
        ScanPage::Cover(sheet) => {
            let payload = sheet.payload();
            place(&modules(&payload, BarcodeFormat::QR_CODE)?, QR_QUIET, QR_AT);
            place(
                &modules(&payload, BarcodeFormat::DATA_MATRIX)?,
                DM_QUIET,
                DM_AT,
            );
            place(
                &modules(MARKER, BarcodeFormat::CODE_128)?,
                BAR_QUIET,
                MARKER_AT,
            );
        }
        ScanPage::SmudgedCover => {
            place(
                &modules(MARKER, BarcodeFormat::CODE_128)?,
                BAR_QUIET,
                MARKER_AT,
            );
            for (x, y, bw, bh) in [QR_AT, DM_AT] {
                for row in px(y)..px(y + bh) {
                    img[row * w + px(x)..row * w + px(x + bw)].fill(40);
                }
            }
        }
        ScanPage::Text(n) => {
            // Lines of "words": dark blocks of varying length, like type at a distance.
            let mut seed = u64::from(*n).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut y = px(25.0);
            while y + px(4.0) < h - px(20.0) {
                let mut x = px(20.0);
                while x < w - px(40.0) {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let word = px(4.0 + (seed % 20) as f64);
                    let end = (x + word).min(w - px(20.0));
                    for row in y..y + px(2.5) {
                        img[row * w + x..row * w + end].fill(30);
                    }
                    x = end + px(2.5);
                }
                y += px(6.0);
            }
        }
    }
    Ok((img, w, h))
}

/// A scanned batch: an image-only PDF, one 8-bit gray Flate image per A4 page at `dpi`.
pub fn scanned_pdf(pages: &[ScanPage], dpi: f64) -> Result<Vec<u8>, String> {
    let mut pdf = ImagePdf::new();
    let (page_w, page_h) = (A4_MM.0 * PT_PER_MM, A4_MM.1 * PT_PER_MM);
    for page in pages {
        let (img, w, h) = scan_image(page, dpi)?;
        let mut image = flate_image(&img, w as i64, h as i64, "DeviceGray")?;
        image.dict.set("Interpolate", false);
        pdf.add_page(image, page_w, page_h);
    }
    let mut out = Vec::new();
    pdf.finish().save_to(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use folio::archive::split::{kind_of, PageKind};
    use folio::archive::{barcodes, pages, validate};

    #[test]
    fn a_scanned_batch_reads_back_page_by_page() {
        let sheet = CoverSheet::new("800123456", "NDA-9", "CRH").unwrap();
        let batch = [
            ScanPage::Cover(sheet.clone()),
            ScanPage::Text(1),
            ScanPage::SmudgedCover,
            ScanPage::Text(2),
        ];
        let pdf = scanned_pdf(&batch, 300.0).unwrap();
        let m = validate::measure(&pdf).unwrap();
        assert_eq!((m.pages, m.dpi), (4, Some(300)));
        let mut kinds = Vec::new();
        pages::each_of_pdf(&pdf, |image| {
            let i = image.expect("every page is one image");
            kinds.push(kind_of(&barcodes::scan_page(&i.luma, i.width, i.height)));
        })
        .unwrap();
        assert_eq!(kinds[0], PageKind::Cover(sheet));
        assert_eq!(kinds[1], PageKind::Content);
        assert!(matches!(kinds[2], PageKind::BadCover(_)), "{:?}", kinds[2]);
        assert_eq!(kinds[3], PageKind::Content);
    }
}
