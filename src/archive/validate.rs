//! Validation: is the master a scan Folio can archive? Its structure (PDF, TIFF, JPEG), its
//! page count, and its resolution measured from the images against the site's minimum.

/// What validation measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// `pdf`, `tiff` or `jpeg`.
    pub format: &'static str,
    pub pages: u32,
    /// The lowest resolution of the pages' scanned images, when they carry one.
    pub dpi: Option<u32>,
    /// Some page was scanned in colour (RGB, CMYK, Lab), not gray or black & white.
    pub colour: bool,
}

/// Why a scan is refused (quarantine reasons, in words for the operator).
pub fn measure(bytes: &[u8]) -> Result<Measured, String> {
    if bytes.starts_with(b"%PDF-") {
        pdf(bytes)
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        tiff(bytes)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        jpeg(bytes)
    } else {
        Err("not a PDF, TIFF or JPEG file".into())
    }
}

/// Checks the measure against the site's minimum resolution.
/// Checks a scan against what the archive requires: pages, `min_dpi`, and colour when the
/// sending copier's scans must be in colour (`colour_required`).
pub fn check(m: &Measured, min_dpi: u32, colour_required: bool) -> Result<(), String> {
    if m.pages == 0 {
        return Err(format!("the {} has no pages", m.format));
    }
    if let Some(dpi) = m.dpi.filter(|dpi| dpi + 2 < min_dpi) {
        return Err(format!(
            "scanned at {dpi} dpi, below the {min_dpi} dpi the archive requires: scan it again"
        ));
    }
    if colour_required && !m.colour {
        return Err(
            "scanned in black & white or gray, and this copier's scans are archived in colour: \
             scan it again in colour"
                .into(),
        );
    }
    Ok(())
}

/// A PDF image in colour: an RGB, CMYK or Lab space, an ICC profile of 3 or 4 components, or
/// a palette (scanners use palettes for colour only).
fn image_in_colour(doc: &lopdf::Document, image: &lopdf::xobject::PdfImage) -> bool {
    match image.color_space.as_deref() {
        Some("DeviceRGB" | "CalRGB" | "DeviceCMYK" | "Lab" | "Indexed" | "DeviceN") => true,
        Some("ICCBased") => image
            .origin_dict
            .get(b"ColorSpace")
            .and_then(|cs| cs.as_array())
            .ok()
            .and_then(|a| a.get(1))
            .and_then(|r| r.as_reference().ok())
            .and_then(|id| doc.get_object(id).ok())
            .and_then(|o| o.as_stream().ok())
            .and_then(|s| s.dict.get(b"N").and_then(|n| n.as_i64()).ok())
            .is_some_and(|n| n >= 3),
        _ => false,
    }
}

fn pdf(bytes: &[u8]) -> Result<Measured, String> {
    let doc = crate::document::load_pdf(bytes).map_err(|e| format!("the PDF is damaged: {e}"))?;
    let pages = doc.get_pages();
    let mut lowest: Option<u32> = None;
    let mut colour = false;
    for (number, page_id) in &pages {
        // A page declaring an image larger than any scan is refused here, before the split
        // would decode it.
        for image in doc.get_page_images(*page_id).unwrap_or_default() {
            super::pages::check_size(image.width.max(0) as u64, image.height.max(0) as u64)
                .map_err(|e| format!("page {number}: {e}"))?;
        }
        if let Some(dpi) = page_dpi(&doc, *page_id) {
            lowest = Some(lowest.map_or(dpi, |l| l.min(dpi)));
        }
        colour = colour
            || doc
                .get_page_images(*page_id)
                .unwrap_or_default()
                .iter()
                .any(|i| image_in_colour(&doc, i));
    }
    Ok(Measured {
        format: "pdf",
        pages: pages.len() as u32,
        dpi: lowest,
        colour,
    })
}

/// The resolution of a page's largest image, from its pixels and the page's width.
fn page_dpi(doc: &lopdf::Document, page_id: lopdf::ObjectId) -> Option<u32> {
    let page = doc.get_dictionary(page_id).ok()?;
    let media = inherited(doc, page, b"MediaBox")?;
    let width_pt = match media.as_array().ok()?.as_slice() {
        [x0, _, x1, _] => (number(x1)? - number(x0)?).abs(),
        _ => return None,
    };
    if width_pt <= 0.0 {
        return None;
    }
    let images = doc.get_page_images(page_id).ok()?;
    let widest = images.iter().map(|i| i.width).max()?;
    Some((widest as f64 / (width_pt / 72.0)).round() as u32)
}

/// A page attribute, looked up through the page tree's parents.
fn inherited<'a>(
    doc: &'a lopdf::Document,
    mut dict: &'a lopdf::Dictionary,
    key: &[u8],
) -> Option<&'a lopdf::Object> {
    for _ in 0..32 {
        if let Ok(v) = dict.get(key) {
            return match v {
                lopdf::Object::Reference(id) => doc.get_object(*id).ok(),
                other => Some(other),
            };
        }
        let parent = dict.get(b"Parent").ok()?.as_reference().ok()?;
        dict = doc.get_dictionary(parent).ok()?;
    }
    None
}

fn number(o: &lopdf::Object) -> Option<f64> {
    match o {
        lopdf::Object::Integer(i) => Some(*i as f64),
        lopdf::Object::Real(r) => Some(f64::from(*r)),
        _ => None,
    }
}

/// TIFF: every IFD is a page; XResolution (282) with ResolutionUnit (296: 2 inch, 3 cm).
fn tiff(bytes: &[u8]) -> Result<Measured, String> {
    let little = bytes.starts_with(b"II");
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let damaged = || "the TIFF is damaged (an image directory lies outside the file)".to_string();
    let mut next = u32_at(4).ok_or_else(damaged)? as usize;
    let (mut pages, mut lowest, mut colour): (u32, Option<u32>, bool) = (0, None, false);
    while next != 0 {
        if pages > 10_000 {
            return Err("the TIFF's image directories loop".into());
        }
        let count = u16_at(next).ok_or_else(damaged)? as usize;
        let (mut xres, mut unit) = (None, 2u16);
        let (mut width, mut height) = (None, None);
        for i in 0..count {
            let entry = next + 2 + i * 12;
            let tag = u16_at(entry).ok_or_else(damaged)?;
            match tag {
                282 => {
                    let at = u32_at(entry + 8).ok_or_else(damaged)? as usize;
                    let (num, den) = (
                        u32_at(at).ok_or_else(damaged)?,
                        u32_at(at + 4).ok_or_else(damaged)?,
                    );
                    xres = (den > 0).then(|| f64::from(num) / f64::from(den));
                }
                296 => unit = u16_at(entry + 8).ok_or_else(damaged)?,
                // ImageWidth and ImageLength: SHORT (3) or LONG (4).
                256 | 257 => {
                    let kind = u16_at(entry + 2).ok_or_else(damaged)?;
                    let value = if kind == 3 {
                        u32::from(u16_at(entry + 8).ok_or_else(damaged)?)
                    } else {
                        u32_at(entry + 8).ok_or_else(damaged)?
                    };
                    if tag == 256 {
                        width = Some(value);
                    } else {
                        height = Some(value);
                    }
                }
                // PhotometricInterpretation: RGB, CMYK, YCbCr, CIELab, ICCLab.
                262 => {
                    colour |= matches!(u16_at(entry + 8).ok_or_else(damaged)?, 2 | 5 | 6 | 8 | 9)
                }
                _ => {}
            }
        }
        if let (Some(w), Some(h)) = (width, height) {
            super::pages::check_size(u64::from(w), u64::from(h))
                .map_err(|e| format!("page {}: {e}", pages + 1))?;
        }
        if let Some(x) = xres {
            let dpi = if unit == 3 { x * 2.54 } else { x }.round() as u32;
            lowest = Some(lowest.map_or(dpi, |l| l.min(dpi)));
        }
        pages += 1;
        next = u32_at(next + 2 + count * 12).ok_or_else(damaged)? as usize;
    }
    Ok(Measured {
        format: "tiff",
        pages,
        dpi: lowest,
        colour,
    })
}

/// JPEG: one page; the JFIF density when it gives dots per inch or per cm.
fn jpeg(bytes: &[u8]) -> Result<Measured, String> {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder
        .read_info()
        .map_err(|e| format!("the JPEG is damaged: {e}"))?;
    if let Some(i) = decoder.info() {
        super::pages::check_size(u64::from(i.width), u64::from(i.height))?;
    }
    let dpi = bytes
        .windows(5)
        .position(|w| w == b"JFIF\0")
        .and_then(|at| {
            let units = *bytes.get(at + 7)?;
            let x = u16::from_be_bytes([*bytes.get(at + 8)?, *bytes.get(at + 9)?]);
            match units {
                1 => Some(u32::from(x)),
                2 => Some((f64::from(x) * 2.54).round() as u32),
                _ => None,
            }
        });
    let colour = decoder.info().is_some_and(|i| {
        matches!(
            i.pixel_format,
            jpeg_decoder::PixelFormat::RGB24 | jpeg_decoder::PixelFormat::CMYK32
        )
    });
    Ok(Measured {
        format: "jpeg",
        pages: 1,
        dpi,
        colour,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_and_damage_is_named() {
        assert!(measure(b"hello").unwrap_err().contains("not a PDF"));
        assert!(measure(b"%PDF-1.4 garbage")
            .unwrap_err()
            .contains("damaged"));
        let pdf = testkit::sample_pdf(3);
        let m = measure(&pdf).unwrap();
        assert_eq!((m.format, m.pages), ("pdf", 3));
    }

    #[test]
    fn colour_is_told_from_gray() {
        use testkit::scan::{scanned_pdf, ScanPage};
        let gray = scanned_pdf(&[ScanPage::Text(1)], 200.0).unwrap();
        assert!(!measure(&gray).unwrap().colour);
        let mut rgb = Vec::new();
        jpeg_encoder::Encoder::new(&mut rgb, 80)
            .encode(&[200u8; 8 * 8 * 3], 8, 8, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let m = measure(&rgb).unwrap();
        assert!(m.colour && check(&m, 0, true).is_ok());
        let mut luma = Vec::new();
        jpeg_encoder::Encoder::new(&mut luma, 80)
            .encode(&[200u8; 8 * 8], 8, 8, jpeg_encoder::ColorType::Luma)
            .unwrap();
        assert!(!measure(&luma).unwrap().colour);
    }

    #[test]
    fn tiff_pages_and_resolution_are_read() {
        // Little-endian, one IFD with XResolution 200/1 and ResolutionUnit inch.
        let mut t = b"II*\0".to_vec();
        t.extend(8u32.to_le_bytes());
        t.extend(2u16.to_le_bytes());
        t.extend(282u16.to_le_bytes());
        t.extend(5u16.to_le_bytes());
        t.extend(1u32.to_le_bytes());
        t.extend(38u32.to_le_bytes());
        t.extend(296u16.to_le_bytes());
        t.extend(3u16.to_le_bytes());
        t.extend(1u32.to_le_bytes());
        t.extend(2u32.to_le_bytes());
        t.extend(0u32.to_le_bytes());
        t.extend(200u32.to_le_bytes());
        t.extend(1u32.to_le_bytes());
        let m = measure(&t).unwrap();
        assert_eq!((m.format, m.pages, m.dpi), ("tiff", 1, Some(200)));
        assert!(check(&m, 300, false).unwrap_err().contains("200 dpi"));
        assert!(check(&m, 150, false).is_ok());
        assert!(!m.colour);
        assert!(check(&m, 150, true).unwrap_err().contains("in colour"));
        assert!(measure(&t[..12]).unwrap_err().contains("damaged"));
    }
}
