//! TIFF masters. Many copiers scan to multi-page TIFF, black & white pages compressed with
//! CCITT Group 4. Each page is decoded (one at a time: a colour page at 300 dpi is 26 MB) for
//! the cover-sheet search and the reviewers' preview, and a document's pages are written into
//! its PDF rendition without loss: bilevel pages as CCITT Group 4 again, gray and colour pages
//! Flate-compressed.

use std::io::Cursor;

use lopdf::{dictionary, Document, Stream};
use tiff::decoder::ifd::Value;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;
use tiff::ColorType;

use super::image_pdf::{flate_image, ImagePdf};
use super::pages::{self, PageImage};

/// Resolution assumed for a page that does not state its own (copiers always do).
const DEFAULT_DPI: f64 = 300.0;

/// A page's pixels, as decoded.
pub enum Pixels {
    /// One bit per pixel, each row padded to a whole byte, most significant bit first,
    /// 1 = white.
    Bilevel(Vec<u8>),
    /// 8-bit gray, 0 = black.
    Gray(Vec<u8>),
    /// 8-bit RGB triples.
    Rgb(Vec<u8>),
}

/// One decoded page.
pub struct TiffPage {
    pub width: usize,
    pub height: usize,
    /// Horizontal resolution in dots per inch, when the file states it.
    pub dpi: Option<f64>,
    pub pixels: Pixels,
}

impl TiffPage {
    /// The page as 8-bit gray (0 = black), as the cover-sheet search and the preview want it.
    pub fn into_gray(self) -> PageImage {
        let (width, height) = (self.width, self.height);
        let luma = match self.pixels {
            Pixels::Gray(g) => g,
            Pixels::Rgb(rgb) => pages::luma_of_rgb(&rgb),
            Pixels::Bilevel(bits) => pages::luma_of_bits(&bits, width, height, 255, 0),
        };
        PageImage {
            width,
            height,
            luma,
        }
    }
}

/// Calls `visit` with each page in order (0-based index), one page in memory at a time.
pub fn each_page(
    bytes: &[u8],
    mut visit: impl FnMut(usize, TiffPage) -> Result<(), String>,
) -> Result<(), String> {
    let mut decoder = open(bytes)?;
    let mut index = 0;
    loop {
        visit(index, decode(&mut decoder, index)?)?;
        if !decoder.more_images() {
            return Ok(());
        }
        index += 1;
        decoder
            .next_image()
            .map_err(|e| format!("page {}: the TIFF is damaged: {e}", index + 1))?;
    }
}

/// Page `index` (0-based); `Ok(None)` when the file has no such page.
pub fn page(bytes: &[u8], index: usize) -> Result<Option<TiffPage>, String> {
    let mut decoder = open(bytes)?;
    if decoder.seek_to_image(index).is_err() {
        return Ok(None);
    }
    decode(&mut decoder, index).map(Some)
}

/// A PDF of `pages` (0-based, in that order) of a TIFF master, each page sized from its
/// resolution.
pub fn pdf_of_pages(bytes: &[u8], pages: &[usize]) -> Result<Document, String> {
    let mut pdf = ImagePdf::new();
    for &index in pages {
        let page =
            page(bytes, index)?.ok_or_else(|| format!("the master has no page {}", index + 1))?;
        add_page(&mut pdf, page)?;
    }
    Ok(pdf.finish())
}

fn open(bytes: &[u8]) -> Result<Decoder<Cursor<&[u8]>>, String> {
    Decoder::new(Cursor::new(bytes)).map_err(|e| format!("the TIFF is damaged: {e}"))
}

fn decode(decoder: &mut Decoder<Cursor<&[u8]>>, index: usize) -> Result<TiffPage, String> {
    let page = index + 1;
    let damaged = |e: tiff::TiffError| format!("page {page}: the TIFF cannot be read: {e}");
    let (w, h) = decoder.dimensions().map_err(damaged)?;
    super::pages::check_size(u64::from(w), u64::from(h))
        .map_err(|e| format!("page {page}: {e}"))?;
    let (width, height) = (w as usize, h as usize);
    let colour = decoder.colortype().map_err(damaged)?;
    let dpi = resolution(decoder);
    let data = decoder.read_image().map_err(damaged)?;
    let high_byte = |v: &[u16]| v.iter().map(|s| (s >> 8) as u8).collect::<Vec<u8>>();
    let (pixels, samples) = match (colour, data) {
        (ColorType::Gray(1), DecodingResult::U8(d)) => (Pixels::Bilevel(d), 0),
        (ColorType::Gray(8), DecodingResult::U8(d)) => (Pixels::Gray(d), 1),
        (ColorType::Gray(16), DecodingResult::U16(d)) => (Pixels::Gray(high_byte(&d)), 1),
        (ColorType::RGB(8), DecodingResult::U8(d)) => (Pixels::Rgb(d), 3),
        (ColorType::RGB(16), DecodingResult::U16(d)) => (Pixels::Rgb(high_byte(&d)), 3),
        (ColorType::RGBA(8), DecodingResult::U8(d)) => (
            Pixels::Rgb(d.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect()),
            3,
        ),
        (ColorType::CMYK(8), DecodingResult::U8(d)) => (Pixels::Rgb(rgb_of_cmyk(&d)), 3),
        (other, _) => {
            return Err(format!(
                "page {page}: its pixels are {other:?}, which Folio cannot read"
            ))
        }
    };
    let expected = match samples {
        0 => width.div_ceil(8) * height,
        n => width * height * n,
    };
    let got = match &pixels {
        Pixels::Bilevel(d) | Pixels::Gray(d) | Pixels::Rgb(d) => d.len(),
    };
    if got < expected {
        return Err(format!(
            "page {page}: its image holds fewer pixels than it declares"
        ));
    }
    Ok(TiffPage {
        width,
        height,
        dpi,
        pixels,
    })
}

/// XResolution in dots per inch (ResolutionUnit 3 is centimetres).
fn resolution(decoder: &mut Decoder<Cursor<&[u8]>>) -> Option<f64> {
    let x = match decoder.find_tag(Tag::XResolution).ok()?? {
        Value::Rational(n, d) if d > 0 => f64::from(n) / f64::from(d),
        _ => return None,
    };
    let unit = decoder
        .find_tag_unsigned::<u16>(Tag::ResolutionUnit)
        .ok()
        .flatten()
        .unwrap_or(2);
    let dpi = if unit == 3 { x * 2.54 } else { x };
    (dpi >= 1.0).then_some(dpi)
}

/// CMYK to RGB without a colour profile (enough for a scan's archive rendition).
fn rgb_of_cmyk(cmyk: &[u8]) -> Vec<u8> {
    cmyk.chunks_exact(4)
        .flat_map(|p| {
            let k = 255 - u32::from(p[3]);
            let channel = |c: u8| ((255 - u32::from(c)) * k / 255) as u8;
            [channel(p[0]), channel(p[1]), channel(p[2])]
        })
        .collect()
}

/// Adds one page showing `page` at its size on paper.
fn add_page(pdf: &mut ImagePdf, page: TiffPage) -> Result<(), String> {
    let dpi = page.dpi.unwrap_or(DEFAULT_DPI);
    let (width_pt, height_pt) = (
        page.width as f64 * 72.0 / dpi,
        page.height as f64 * 72.0 / dpi,
    );
    let (w, h) = (page.width as i64, page.height as i64);
    let image = match page.pixels {
        Pixels::Bilevel(bits) => Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image", "Width" => w, "Height" => h,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 1,
                "Filter" => "CCITTFaxDecode",
                // BlackIs1 false: black pixels decode to 0, black in DeviceGray.
                "DecodeParms" => dictionary! { "K" => -1, "Columns" => w, "Rows" => h, "BlackIs1" => false },
            },
            group4(&bits, page.width, page.height)?,
        ),
        Pixels::Gray(gray) => flate_image(&gray[..page.width * page.height], w, h, "DeviceGray")?,
        Pixels::Rgb(rgb) => flate_image(&rgb[..page.width * page.height * 3], w, h, "DeviceRGB")?,
    };
    pdf.add_page(image, width_pt, height_pt);
    Ok(())
}

/// CCITT Group 4 (T.6) of a bilevel page whose rows are packed bits, 1 = white.
pub fn group4(bits: &[u8], width: usize, height: usize) -> Result<Vec<u8>, String> {
    let columns = u16::try_from(width).map_err(|_| "the page is too wide for CCITT Group 4")?;
    let row = width.div_ceil(8);
    let mut encoder = fax::encoder::Encoder::new(fax::VecWriter::new());
    for line in bits.chunks(row).take(height) {
        let pels = (0..width).map(|x| match line.get(x / 8) {
            Some(byte) if byte & (0x80 >> (x % 8)) == 0 => fax::Color::Black,
            _ => fax::Color::White,
        });
        let Ok(()) = encoder.encode_line(pels, columns);
    }
    let Ok(writer) = encoder.finish();
    Ok(writer.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bilevel page: a white sheet with a black square and a black line of text-like runs.
    fn sheet(width: usize, height: usize) -> Vec<u8> {
        let row = width.div_ceil(8);
        let mut bits = vec![0xFFu8; row * height];
        for y in 0..height {
            for x in 0..width {
                let ink = (x > 10 && x < 40 && y > 10 && y < 40) || (y == 60 && x % 7 < 3);
                if ink {
                    bits[y * row + x / 8] &= !(0x80 >> (x % 8));
                }
            }
        }
        bits
    }

    /// A one-page, one-strip Group 4 TIFF (Photometric WhiteIsZero, as copiers write them).
    fn g4_tiff(width: u32, height: u32, dpi: u32) -> Vec<u8> {
        let data = group4(
            &sheet(width as usize, height as usize),
            width as usize,
            height as usize,
        )
        .unwrap();
        let mut entries: Vec<(u16, u16, u32, u32)> = vec![
            (256, 4, 1, width),
            (257, 4, 1, height),
            (258, 3, 1, 1),
            (259, 3, 1, 4),
            (262, 3, 1, 0),
            (273, 4, 1, 0),
            (277, 3, 1, 1),
            (278, 4, 1, height),
            (279, 4, 1, data.len() as u32),
            (282, 5, 1, 0),
            (296, 3, 1, 2),
        ];
        let ifd_len = 2 + entries.len() * 12 + 4;
        let rational_at = 8 + ifd_len as u32;
        let data_at = rational_at + 8;
        for e in &mut entries {
            match e.0 {
                273 => e.3 = data_at,
                282 => e.3 = rational_at,
                _ => {}
            }
        }
        let mut out = b"II*\0".to_vec();
        out.extend(8u32.to_le_bytes());
        out.extend((entries.len() as u16).to_le_bytes());
        for (tag, kind, count, value) in entries {
            out.extend(tag.to_le_bytes());
            out.extend(kind.to_le_bytes());
            out.extend(count.to_le_bytes());
            if kind == 3 {
                out.extend((value as u16).to_le_bytes());
                out.extend([0, 0]);
            } else {
                out.extend(value.to_le_bytes());
            }
        }
        out.extend(0u32.to_le_bytes());
        out.extend(dpi.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn a_group4_page_decodes_white_with_its_ink_where_it_was() {
        let tiff = g4_tiff(100, 80, 200);
        let page = page(&tiff, 0).unwrap().unwrap();
        assert_eq!((page.width, page.height, page.dpi), (100, 80, Some(200.0)));
        let gray = page.into_gray();
        assert_eq!(gray.luma[0], 255, "paper is white");
        assert_eq!(gray.luma[20 * 100 + 20], 0, "the square is black");
        assert_eq!(gray.luma[60 * 100 + 7], 0);
        assert_eq!(gray.luma[60 * 100 + 4], 255);
        assert!(page_count(&tiff) == 1 && super::page(&tiff, 1).unwrap().is_none());
    }

    fn page_count(tiff: &[u8]) -> usize {
        let mut n = 0;
        each_page(tiff, |_, _| {
            n += 1;
            Ok(())
        })
        .unwrap();
        n
    }

    #[test]
    fn the_rendition_of_a_bilevel_page_is_group4_and_reads_back_the_same() {
        let tiff = g4_tiff(100, 80, 200);
        let mut doc = pdf_of_pages(&tiff, &[0]).unwrap();
        let mut pdf = Vec::new();
        doc.save_to(&mut pdf).unwrap();
        assert!(pdf.windows(14).any(|w| w == b"CCITTFaxDecode"));
        let back = crate::archive::pages::of_pdf(&pdf).unwrap();
        let original = page(&tiff, 0).unwrap().unwrap().into_gray();
        let read = back[0].as_ref().unwrap();
        assert_eq!((read.width, read.height), (100, 80));
        assert_eq!(read.luma, original.luma);
        // 100 px at 200 dpi is half an inch: 36 points.
        let (_, page_id) = doc.get_pages().into_iter().next().unwrap();
        let media = doc
            .get_dictionary(page_id)
            .unwrap()
            .get(b"MediaBox")
            .unwrap();
        let width = media.as_array().unwrap()[2].as_float().unwrap();
        assert!((width - 36.0).abs() < 0.01, "{width}");
    }

    #[test]
    fn damaged_or_missing_pages_are_errors_not_panics() {
        let tiff = g4_tiff(100, 80, 200);
        assert!(page(b"II*\0\x08\0\0\0", 0).is_err());
        assert!(each_page(&tiff[..30], |_, _| Ok(())).is_err());
        assert!(pdf_of_pages(&tiff, &[3]).unwrap_err().contains("no page 4"));
    }
}
