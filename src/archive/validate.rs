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
pub fn check(m: &Measured, min_dpi: u32) -> Result<(), String> {
    if m.pages == 0 {
        return Err(format!("the {} has no pages", m.format));
    }
    match m.dpi {
        Some(dpi) if dpi + 2 < min_dpi => Err(format!(
            "scanned at {dpi} dpi, below the {min_dpi} dpi the archive requires: scan it again"
        )),
        _ => Ok(()),
    }
}

fn pdf(bytes: &[u8]) -> Result<Measured, String> {
    let doc = lopdf::Document::load_mem(bytes).map_err(|e| format!("the PDF is damaged: {e}"))?;
    let pages = doc.get_pages();
    let mut lowest: Option<u32> = None;
    for page_id in pages.values() {
        if let Some(dpi) = page_dpi(&doc, *page_id) {
            lowest = Some(lowest.map_or(dpi, |l| l.min(dpi)));
        }
    }
    Ok(Measured {
        format: "pdf",
        pages: pages.len() as u32,
        dpi: lowest,
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
    let (mut pages, mut lowest): (u32, Option<u32>) = (0, None);
    while next != 0 {
        if pages > 10_000 {
            return Err("the TIFF's image directories loop".into());
        }
        let count = u16_at(next).ok_or_else(damaged)? as usize;
        let (mut xres, mut unit) = (None, 2u16);
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
                _ => {}
            }
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
    })
}

/// JPEG: one page; the JFIF density when it gives dots per inch or per cm.
fn jpeg(bytes: &[u8]) -> Result<Measured, String> {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder
        .read_info()
        .map_err(|e| format!("the JPEG is damaged: {e}"))?;
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
    Ok(Measured {
        format: "jpeg",
        pages: 1,
        dpi,
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
        let pdf = crate::bench::sample_pdf(3);
        let m = measure(&pdf).unwrap();
        assert_eq!((m.format, m.pages), ("pdf", 3));
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
        assert!(check(&m, 300).unwrap_err().contains("200 dpi"));
        assert!(check(&m, 150).is_ok());
        assert!(measure(&t[..12]).unwrap_err().contains("damaged"));
    }
}
