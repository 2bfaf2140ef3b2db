//! The scanned image of each page of a master, as 8-bit gray, to look for cover sheets on.
//! A page whose image Folio cannot decode stops the split: a cover sheet on it would be missed
//! and its pages attached to the wrong patient. PDF pages may hold JPEG (DCT), Flate or raw
//! images, or bilevel CCITT Group 4 images; TIFF masters are read in [`super::tiff`].
//!
//! Hostile scans declare images far larger than their data: every size is checked against
//! [`MAX_PAGE_PIXELS`] before anything is allocated, and image data shorter than its declared
//! size is refused rather than padded.

use std::io::Read;

/// The most pixels a scanned page may have: an A3 page at 600 dpi has 70 million, an A4 page
/// at 1200 dpi 140 million. More is not a scan.
pub const MAX_PAGE_PIXELS: u64 = 150_000_000;

/// Refuses an image of `width` × `height` pixels before anything is decoded.
pub fn check_size(width: u64, height: u64) -> Result<(), String> {
    if width == 0 || height == 0 {
        return Err(format!("its image declares {width} × {height} pixels"));
    }
    match width.checked_mul(height) {
        Some(n) if n <= MAX_PAGE_PIXELS => Ok(()),
        _ => Err(format!(
            "its image declares {width} × {height} pixels, more than any scanner makes"
        )),
    }
}

/// One page's image: width, height, gray pixels (0 = black).
pub struct PageImage {
    pub width: usize,
    pub height: usize,
    pub luma: Vec<u8>,
}

/// Calls `visit` with every page of a PDF master, in order, one page image in memory at a
/// time; `None` for a page without a scanned image (a page made on a computer: it cannot be a
/// scanned cover sheet).
pub fn each_of_pdf(bytes: &[u8], mut visit: impl FnMut(Option<PageImage>)) -> Result<(), String> {
    let doc = load(bytes)?;
    for (number, page_id) in doc.get_pages() {
        visit(image_of(&doc, number, page_id)?);
    }
    Ok(())
}

/// Every page of a PDF master at once (tests: a real batch is read one page at a time).
#[cfg(test)]
pub(crate) fn of_pdf(bytes: &[u8]) -> Result<Vec<Option<PageImage>>, String> {
    let mut all = Vec::new();
    each_of_pdf(bytes, |i| all.push(i))?;
    Ok(all)
}

fn load(bytes: &[u8]) -> Result<lopdf::Document, String> {
    crate::document::load_pdf(bytes).map_err(|e| format!("the PDF is damaged: {e}"))
}

/// One page of a PDF master (0-based), decoding only that page; `Ok(None)` when the master
/// has no such page or the page has no scanned image.
pub fn one_of_pdf(bytes: &[u8], index: usize) -> Result<Option<PageImage>, String> {
    let doc = load(bytes)?;
    match doc.get_pages().into_iter().nth(index) {
        Some((number, page_id)) => image_of(&doc, number, page_id),
        None => Ok(None),
    }
}

/// The largest image on a page: its scan.
fn image_of(
    doc: &lopdf::Document,
    number: u32,
    page_id: lopdf::ObjectId,
) -> Result<Option<PageImage>, String> {
    let images = doc.get_page_images(page_id).unwrap_or_default();
    let Some(largest) = images.iter().max_by_key(|i| i.width * i.height) else {
        return Ok(None);
    };
    decode(doc, largest)
        .map(Some)
        .map_err(|e| format!("page {number}: {e}"))
}

/// A JPEG master's one page.
pub fn of_jpeg(bytes: &[u8]) -> Result<Vec<Option<PageImage>>, String> {
    Ok(vec![Some(jpeg(bytes)?)])
}

impl PageImage {
    /// A `width` × `height` page, refused when `luma` holds fewer pixels.
    fn checked(width: usize, height: usize, luma: Vec<u8>) -> Result<PageImage, String> {
        check_size(width as u64, height as u64)?;
        if luma.len() < width * height {
            return Err("its image holds fewer pixels than it declares".into());
        }
        Ok(PageImage {
            width,
            height,
            luma,
        })
    }
}

/// Gray from rows of packed bits (most significant first, each row a whole number of bytes):
/// set bits painted `one`, clear bits `zero`; bytes missing at the end count as all set.
pub(crate) fn luma_of_bits(bits: &[u8], width: usize, height: usize, one: u8, zero: u8) -> Vec<u8> {
    let row = width.div_ceil(8);
    let mut luma = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let byte = bits.get(y * row + x / 8).copied().unwrap_or(0xFF);
            luma.push(if byte & (0x80 >> (x % 8)) != 0 {
                one
            } else {
                zero
            });
        }
    }
    luma
}

/// Gray from 8-bit RGB triples (ITU-R BT.601 weights).
pub(crate) fn luma_of_rgb(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .map(|p| {
            ((u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000) as u8
        })
        .collect()
}

fn jpeg(bytes: &[u8]) -> Result<PageImage, String> {
    let mut d = jpeg_decoder::Decoder::new(bytes);
    d.read_info()
        .map_err(|e| format!("the JPEG image is damaged: {e}"))?;
    let info = d.info().ok_or("the JPEG image has no header")?;
    check_size(u64::from(info.width), u64::from(info.height))?;
    d.set_max_decoding_buffer_size(MAX_PAGE_PIXELS as usize * 4);
    let pixels = d
        .decode()
        .map_err(|e| format!("the JPEG image is damaged: {e}"))?;
    let info = d.info().ok_or("the JPEG image has no header")?;
    let (w, h) = (usize::from(info.width), usize::from(info.height));
    let luma = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => pixels,
        jpeg_decoder::PixelFormat::L16 => pixels.chunks_exact(2).map(|p| p[0]).collect(),
        jpeg_decoder::PixelFormat::RGB24 => luma_of_rgb(&pixels),
        jpeg_decoder::PixelFormat::CMYK32 => pixels
            .chunks_exact(4)
            // Adobe CMYK JPEGs are stored inverted: K is darkness.
            .map(|p| 255 - p[3])
            .collect(),
    };
    Ok(PageImage {
        width: w,
        height: h,
        luma,
    })
}

fn decode(doc: &lopdf::Document, image: &lopdf::xobject::PdfImage) -> Result<PageImage, String> {
    let filters = image.filters.clone().unwrap_or_default();
    check_size(image.width.max(0) as u64, image.height.max(0) as u64)?;
    let (w, h) = (image.width as usize, image.height as usize);
    let raw = match filters.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["DCTDecode"] => return jpeg(image.content),
        ["CCITTFaxDecode"] => {
            let params = decode_parms(doc, image.id);
            return ccitt(image.content, &params, w, h, inverted_decode(doc, image.id));
        }
        [] => image.content.to_vec(),
        ["FlateDecode"] => {
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(image.content)
                .take(w as u64 * h as u64 * 4 + 1024)
                .read_to_end(&mut out)
                .map_err(|e| format!("the image's compressed data is damaged: {e}"))?;
            let predicted =
                image_dict(doc, image.id).is_some_and(|d| d.get(b"DecodeParms").is_ok());
            if predicted {
                return Err("the image uses a PNG predictor, which Folio does not read yet".into());
            }
            out
        }
        other => {
            return Err(format!(
                "its image is compressed with {} which Folio cannot read: cover sheets cannot be looked for",
                other.join("+")
            ))
        }
    };
    let bits = image.bits_per_component.unwrap_or(8);
    let space = image.color_space.as_deref().unwrap_or("DeviceGray");
    let needed = match (space, bits) {
        ("DeviceRGB" | "CalRGB", 8) => w * h * 3,
        (_, 1) => w.div_ceil(8) * h,
        _ => w * h,
    };
    if raw.len() < needed {
        return Err("its image holds fewer pixels than it declares".into());
    }
    let luma = match (space, bits) {
        ("DeviceGray" | "CalGray", 8) => raw,
        ("DeviceRGB" | "CalRGB", 8) => luma_of_rgb(&raw),
        ("DeviceGray", 1) => {
            let (one, zero) = if inverted_decode(doc, image.id) {
                (0, 255)
            } else {
                (255, 0)
            };
            luma_of_bits(&raw, w, h, one, zero)
        }
        (space, bits) => {
            return Err(format!(
                "its image is {space} at {bits} bits, which Folio cannot read: cover sheets cannot be looked for"
            ))
        }
    };
    PageImage::checked(w, h, luma)
}

/// The image's stream dictionary.
fn image_dict(doc: &lopdf::Document, id: lopdf::ObjectId) -> Option<&lopdf::Dictionary> {
    Some(&doc.get_object(id).ok()?.as_stream().ok()?.dict)
}

/// `/Decode [1 0]` on a one-component image: 1 is black.
fn inverted_decode(doc: &lopdf::Document, id: lopdf::ObjectId) -> bool {
    let number = |o: &lopdf::Object| {
        o.as_float()
            .ok()
            .or_else(|| o.as_i64().ok().map(|i| i as f32))
    };
    image_dict(doc, id)
        .and_then(|d| d.get(b"Decode").ok())
        .and_then(|o| o.as_array().ok())
        .is_some_and(|a| a.len() == 2 && number(&a[0]) == Some(1.0) && number(&a[1]) == Some(0.0))
}

/// The CCITT parameters that matter here, with the PDF defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CcittParams {
    /// < 0: Group 4; 0: Group 3 one-dimensional; > 0: Group 3 two-dimensional.
    k: i64,
    black_is_1: bool,
    byte_aligned: bool,
}

fn decode_parms(doc: &lopdf::Document, id: lopdf::ObjectId) -> CcittParams {
    let mut params = CcittParams {
        k: 0,
        black_is_1: false,
        byte_aligned: false,
    };
    let Some(parms) = image_dict(doc, id).and_then(|d| d.get(b"DecodeParms").ok()) else {
        return params;
    };
    // A filter array has an array of parameters; there is one filter here.
    let parms = match parms {
        lopdf::Object::Array(a) => a.first(),
        other => Some(other),
    };
    let parms = match parms {
        Some(lopdf::Object::Reference(r)) => doc.get_object(*r).ok(),
        other => other,
    };
    if let Some(d) = parms.and_then(|p| p.as_dict().ok()) {
        params.k = d.get(b"K").and_then(|o| o.as_i64()).unwrap_or(0);
        params.black_is_1 = d
            .get(b"BlackIs1")
            .and_then(|o| o.as_bool())
            .unwrap_or(false);
        params.byte_aligned = d
            .get(b"EncodedByteAlign")
            .and_then(|o| o.as_bool())
            .unwrap_or(false);
    }
    params
}

/// A CCITT fax image as gray. The code says which runs are white and which black; BlackIs1
/// and an inverted Decode each swap how they are painted.
fn ccitt(
    data: &[u8],
    params: &CcittParams,
    w: usize,
    h: usize,
    inverted: bool,
) -> Result<PageImage, String> {
    let width = u16::try_from(w).map_err(|_| "its CCITT image is too wide".to_string())?;
    // The `fax` crate reads Group 3 only with end-of-line codes, which PDF writers leave out.
    if params.k >= 0 || params.byte_aligned {
        return Err(
            "its image is CCITT Group 3, which Folio cannot read yet (Group 4 it can): cover sheets cannot be looked for"
                .into(),
        );
    }
    let (white, black) = if params.black_is_1 != inverted {
        (0u8, 255u8)
    } else {
        (255u8, 0u8)
    };
    // Grown as lines are decoded: a few bytes of code cannot claim the whole page's memory.
    let mut luma = Vec::new();
    let mut line = |transitions: &[u16]| {
        if luma.len() < w * h {
            luma.extend(fax::decoder::pels(transitions, width).map(|c| match c {
                fax::Color::White => white,
                fax::Color::Black => black,
            }));
        }
    };
    let done = fax::decoder::decode_g4(
        data.iter().copied(),
        width,
        u16::try_from(h).ok(),
        &mut line,
    );
    if done.is_none() && luma.len() < w * h {
        return Err("its CCITT image is damaged".into());
    }
    PageImage::checked(w, h, luma)
}
