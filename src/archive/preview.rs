//! A scanned page as a PNG for the QC reviewers' screen: decoded from the master, reduced to
//! screen size, gray (what the split and the reviewers look at is the page's content, not its
//! colour). Made on demand and never stored: patient pages stay only in the encrypted master.

use super::pages::{self, PageImage};

/// Widest picture sent to a browser, in pixels.
pub const SCREEN_WIDTH: usize = 1200;

/// Page `index` (0-based) of a master of `format` as a gray PNG at most `max_width` wide;
/// `Ok(None)` when there is no such page or it holds no scanned image.
pub fn page_png(
    master: &[u8],
    format: &str,
    index: usize,
    max_width: usize,
) -> Result<Option<Vec<u8>>, String> {
    let image = match format {
        "pdf" => pages::one_of_pdf(master, index)?,
        "jpeg" if index == 0 => pages::of_jpeg(master)?.into_iter().next().flatten(),
        "jpeg" => None,
        "tiff" => super::tiff::page(master, index)?.map(|p| p.into_gray()),
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
    let failed = |e: png::EncodingError| format!("the page cannot be drawn: {e}");
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, image.width as u32, image.height as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(failed)?;
    writer.write_image_data(&image.luma).map_err(failed)?;
    writer.finish().map_err(failed)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::scan::{scanned_pdf, ScanPage};

    #[test]
    fn a_scanned_page_comes_back_as_a_reduced_png() {
        let pdf = scanned_pdf(&[ScanPage::Text(1), ScanPage::Text(2)], 300.0).unwrap();
        let drawn = page_png(&pdf, "pdf", 1, 600).unwrap().unwrap();
        let reader = png::Decoder::new(std::io::Cursor::new(drawn))
            .read_info()
            .unwrap();
        let width = reader.info().width;
        assert!((300..=600).contains(&width), "{width}");
        assert!(page_png(&pdf, "pdf", 2, 600).unwrap().is_none());
        assert!(page_png(b"%PDF-broken", "pdf", 0, 600).is_err());
    }
}
