//! Barcodes on scanned pages (rxing): drawing the cover sheet's codes, and finding them on a
//! page. Pages are searched in bands (the top and bottom thirds, where a cover sheet's codes
//! are, upright or upside down) at half resolution: a cover sheet's modules are large, and
//! decoding a whole 300-dpi page costs ten times more.

use std::collections::HashSet;

use rxing::common::{BitMatrix, DetectorRXingResult, HybridBinarizer};
use rxing::datamatrix::decoder::Decoder as DataMatrixDecoder;
use rxing::datamatrix::detector::zxing_cpp_detector;
use rxing::datamatrix::encoder::SymbolShapeHint;
use rxing::multi::MultipleBarcodeReader;
use rxing::qrcode::cpp_port::QrReader;
use rxing::{
    BarcodeFormat, BinaryBitmap, DecodeHints, EncodeHints, Luma8Source, MultiFormatWriter, Reader,
    Writer,
};

/// A code found on a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub format: &'static str,
    pub text: String,
}

/// The modules of a code, one pixel each, no quiet zone (true = dark).
pub fn modules(text: &str, format: BarcodeFormat) -> Result<BitMatrix, String> {
    let hints = match format {
        BarcodeFormat::QR_CODE => EncodeHints {
            ErrorCorrection: Some("Q".to_owned()),
            Margin: Some("0".to_owned()),
            ..Default::default()
        },
        BarcodeFormat::DATA_MATRIX => EncodeHints {
            DataMatrixShape: Some(SymbolShapeHint::FORCE_SQUARE),
            ..Default::default()
        },
        _ => EncodeHints {
            Margin: Some("0".to_owned()),
            ..Default::default()
        },
    };
    let height = if format == BarcodeFormat::CODE_128 {
        1
    } else {
        0
    };
    MultiFormatWriter
        .encode_with_hints(text, &format, 0, height, &hints)
        .map_err(|e| format!("cannot draw the code: {e}"))
}

/// Draws `m` into an 8-bit gray image (`width` pixels per row, 0 = black) with its top-left
/// corner at (`x`, `y`), `scale` pixels per module; 1D codes (one row) are `bar_height` tall.
pub fn draw(
    image: &mut [u8],
    width: usize,
    m: &BitMatrix,
    (x, y): (usize, usize),
    scale: usize,
    bar_height: usize,
) {
    let rows = if m.height() == 1 {
        bar_height
    } else {
        m.height() as usize * scale
    };
    let height = image.len() / width.max(1);
    for py in 0..rows {
        let my = if m.height() == 1 {
            0
        } else {
            (py / scale) as u32
        };
        let Some(row) = y.checked_add(py).filter(|r| *r < height) else {
            break;
        };
        for mx in 0..m.width() {
            if m.get(mx, my) {
                let x0 = x + mx as usize * scale;
                let x1 = (x0 + scale).min(width);
                if x0 < width {
                    image[row * width + x0..row * width + x1].fill(0);
                }
            }
        }
    }
}

/// Halves an image by averaging 2×2 blocks.
fn half(luma: &[u8], w: usize, h: usize) -> (Vec<u8>, usize, usize) {
    let (hw, hh) = (w / 2, h / 2);
    let mut out = vec![0u8; hw * hh];
    for y in 0..hh {
        let (r0, r1) = (2 * y * w, (2 * y + 1) * w);
        for x in 0..hw {
            let sum = u16::from(luma[r0 + 2 * x])
                + u16::from(luma[r0 + 2 * x + 1])
                + u16::from(luma[r1 + 2 * x])
                + u16::from(luma[r1 + 2 * x + 1]);
            out[y * hw + x] = (sum / 4) as u8;
        }
    }
    (out, hw, hh)
}

/// The codes in one band of an image.
fn scan_band(luma: &[u8], w: usize, h: usize) -> Vec<Found> {
    let mut found = Vec::new();
    let Ok(source) = Luma8Source::new_with_slice(luma, w as u32, h as u32) else {
        return found;
    };
    let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
    let hints = |f: BarcodeFormat| DecodeHints {
        PossibleFormats: Some(HashSet::from([f])),
        TryHarder: Some(true),
        ..Default::default()
    };
    if let Ok(results) =
        QrReader.decode_multiple_with_hints(&mut bitmap, &hints(BarcodeFormat::QR_CODE))
    {
        found.extend(results.iter().map(|r| Found {
            format: "qr",
            text: r.getText().to_owned(),
        }));
    }
    if let Ok(candidates) = zxing_cpp_detector::detect(bitmap.get_black_matrix(), true, true) {
        let decoder = DataMatrixDecoder::new();
        for c in candidates {
            if let Ok(d) = decoder.decode(c.getBits()) {
                let f = Found {
                    format: "datamatrix",
                    text: d.getText().to_owned(),
                };
                if !found.contains(&f) {
                    found.push(f);
                }
            }
        }
    }
    if let Ok(r) =
        rxing::oned::Code128Reader.decode_with_hints(&mut bitmap, &hints(BarcodeFormat::CODE_128))
    {
        found.push(Found {
            format: "code128",
            text: r.getText().to_owned(),
        });
    }
    found
}

/// The codes in the top and bottom thirds of a page image (8-bit gray, 0 = black).
pub fn scan_page(luma: &[u8], w: usize, h: usize) -> Vec<Found> {
    if w == 0 || h == 0 || luma.len() < w * h {
        return Vec::new();
    }
    // Pages scanned at 200 dpi or more are searched at half resolution.
    let (small, sw, sh) = if w >= 1600 {
        half(luma, w, h)
    } else {
        (luma[..w * h].to_vec(), w, h)
    };
    let band = sh.div_ceil(3);
    let mut found = scan_band(&small[..band * sw], sw, band);
    let bottom = scan_band(&small[(sh - band) * sw..], sw, band);
    for f in bottom {
        if !found.contains(&f) {
            found.push(f);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_drawn_on_a_page_are_found_in_its_top_band() {
        let (w, h) = (1240, 1754); // A4 at 150 dpi
        let mut page = vec![255u8; w * h];
        let text = "FOLIO1;P=800123456;E=NDA-1;C=CRH;K=0A1B2C3D";
        draw(
            &mut page,
            w,
            &modules(text, BarcodeFormat::QR_CODE).unwrap(),
            (100, 100),
            6,
            0,
        );
        draw(
            &mut page,
            w,
            &modules(text, BarcodeFormat::DATA_MATRIX).unwrap(),
            (800, 100),
            6,
            0,
        );
        draw(
            &mut page,
            w,
            &modules("FOLIO-COVER", BarcodeFormat::CODE_128).unwrap(),
            (300, 450),
            3,
            80,
        );
        let found = scan_page(&page, w, h);
        for format in ["qr", "datamatrix"] {
            assert!(
                found.iter().any(|f| f.format == format && f.text == text),
                "{format}: {found:?}"
            );
        }
        assert!(
            found
                .iter()
                .any(|f| f.format == "code128" && f.text == "FOLIO-COVER"),
            "{found:?}"
        );
        assert!(scan_page(&vec![255u8; w * h], w, h).is_empty());
    }
}
