//! A scanned page as a JPEG for the QC reviewers' screen: decoded from the master, reduced to
//! screen size, gray (what the split and the reviewers look at is the page's content, not its
//! colour). Made on demand and never stored: patient pages stay only in the encrypted master.

use super::pages::{self, PageImage};

/// Widest picture sent to a browser, in pixels.
pub const SCREEN_WIDTH: usize = 1200;

/// Page `index` (0-based) of a master of `format` as a JPEG at most `max_width` wide;
/// `Ok(None)` when there is no such page or it holds no scanned image.
pub fn page_jpeg(
    master: &[u8],
    format: &str,
    index: usize,
    max_width: usize,
) -> Result<Option<Vec<u8>>, String> {
    let image = match format {
        "pdf" => pages::one_of_pdf(master, index)?,
        "jpeg" if index == 0 => pages::of_jpeg(master)?.into_iter().next().flatten(),
        "jpeg" => None,
        other => return Err(format!("{other} pages cannot be shown yet")),
    };
    image.map(|i| encode(&reduce(i, max_width))).transpose()
}

/// Shrinks by a whole factor (box filter) until the width fits.
fn reduce(image: PageImage, max_width: usize) -> PageImage {
    let factor = image.width.div_ceil(max_width.max(1)).max(1);
    if factor == 1 {
        return image;
    }
    let (w, h) = (image.width / factor, image.height / factor);
    let mut luma = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let mut sum = 0u32;
            for dy in 0..factor {
                let row = (y * factor + dy) * image.width;
                for dx in 0..factor {
                    sum += u32::from(image.luma[row + x * factor + dx]);
                }
            }
            luma.push((sum / (factor * factor) as u32) as u8);
        }
    }
    PageImage {
        width: w,
        height: h,
        luma,
    }
}

fn encode(image: &PageImage) -> Result<Vec<u8>, String> {
    let (w, h) = (
        u16::try_from(image.width).map_err(|_| "the page is too large to show")?,
        u16::try_from(image.height).map_err(|_| "the page is too large to show")?,
    );
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 80)
        .encode(&image.luma, w, h, jpeg_encoder::ColorType::Luma)
        .map_err(|e| format!("the page cannot be encoded: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::sheet::{scanned_pdf, ScanPage};

    #[test]
    fn a_scanned_page_comes_back_as_a_reduced_jpeg() {
        let pdf = scanned_pdf(&[ScanPage::Text(1), ScanPage::Text(2)], 300.0).unwrap();
        let jpeg = page_jpeg(&pdf, "pdf", 1, 600).unwrap().unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        let mut d = jpeg_decoder::Decoder::new(&jpeg[..]);
        d.decode().unwrap();
        let info = d.info().unwrap();
        assert!(info.width <= 600 && info.width >= 300, "{}", info.width);
        assert!(page_jpeg(&pdf, "pdf", 2, 600).unwrap().is_none());
        assert!(page_jpeg(b"%PDF-broken", "pdf", 0, 600).is_err());
    }
}
