//! The printed cover sheet (`folio scan cover-sheet`). Its layout is public: the split looks
//! for the codes where it puts them, and the test kit (`crates/testkit`) draws scanned batches
//! with the same layout.
//!
//! Layout (A4, mm from the top-left corner): QR code at (20, 22) and DataMatrix at (135, 22),
//! both 55 mm wide; the Code 128 marker at (35, 84), 140 × 12 mm; all in the top third, where
//! the split looks (the bottom third when the sheet went through upside down). The same data in
//! clear text below.

use lopdf::{dictionary, Document, Object, Stream};
use rxing::common::BitMatrix;
use rxing::BarcodeFormat;

use super::barcodes::modules;
use super::cover::{CoverSheet, MARKER};
use super::image_pdf::flate_image;

/// A4 in millimetres.
pub const A4_MM: (f64, f64) = (210.0, 297.0);
const PT_PER_MM: f64 = 72.0 / 25.4;

/// Where each code goes: (x, y, width, height) in mm from the top-left corner.
pub const QR_AT: (f64, f64, f64, f64) = (20.0, 22.0, 55.0, 55.0);
pub const DM_AT: (f64, f64, f64, f64) = (135.0, 22.0, 55.0, 55.0);
pub const MARKER_AT: (f64, f64, f64, f64) = (35.0, 84.0, 140.0, 12.0);

/// Quiet zones in modules.
pub const QR_QUIET: u32 = 4;
pub const DM_QUIET: u32 = 2;
pub const BAR_QUIET: u32 = 10;

/// A code's modules with its quiet zone as an 8-bit gray image, one pixel per module.
fn gray_modules(m: &BitMatrix, quiet: u32) -> (Vec<u8>, u32, u32) {
    // A 1D code (one row of modules) gets its quiet zone left and right only.
    let top = if m.height() == 1 { 0 } else { quiet };
    let (w, h) = (m.width() + 2 * quiet, m.height() + 2 * top);
    let mut img = vec![255u8; (w * h) as usize];
    for y in 0..m.height() {
        for x in 0..m.width() {
            if m.get(x, y) {
                img[((y + top) * w + x + quiet) as usize] = 0;
            }
        }
    }
    (img, w, h)
}

fn image_xobject(pixels: Vec<u8>, w: u32, h: u32) -> Result<Stream, String> {
    let mut image = flate_image(&pixels, i64::from(w), i64::from(h), "DeviceGray")?;
    image.dict.set("Interpolate", false);
    Ok(image)
}

/// A PDF literal string of Latin-1 text.
fn pdf_text(s: &str) -> String {
    let mut out = String::from("(");
    for c in s.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 256 && !c.is_control() => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push(')');
    out
}

/// The cover sheet PDF to print: the codes and, in clear, the same data. `category_label` is
/// the plan's label for the category (empty if none).
pub fn cover_sheet_pdf(sheet: &CoverSheet, category_label: &str) -> Result<Vec<u8>, String> {
    let payload = sheet.payload();
    let codes = [
        (
            "Qr",
            modules(&payload, BarcodeFormat::QR_CODE)?,
            QR_QUIET,
            QR_AT,
        ),
        (
            "Dm",
            modules(&payload, BarcodeFormat::DATA_MATRIX)?,
            DM_QUIET,
            DM_AT,
        ),
        (
            "Mk",
            modules(MARKER, BarcodeFormat::CODE_128)?,
            BAR_QUIET,
            MARKER_AT,
        ),
    ];
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let bold = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica-Bold",
        "Encoding" => "WinAnsiEncoding",
    });
    let (page_w, page_h) = (A4_MM.0 * PT_PER_MM, A4_MM.1 * PT_PER_MM);
    let mut xobjects = lopdf::Dictionary::new();
    let mut content = String::new();
    for (name, m, quiet, (x, y, w, h)) in codes {
        let (pixels, pw, ph) = gray_modules(&m, quiet);
        let id = doc.add_object(image_xobject(pixels, pw, ph)?);
        xobjects.set(name, id);
        let (w_pt, h_pt) = (w * PT_PER_MM, h * PT_PER_MM);
        let (x_pt, y_pt) = (x * PT_PER_MM, page_h - (y + h) * PT_PER_MM);
        content.push_str(&format!(
            "q {w_pt:.2} 0 0 {h_pt:.2} {x_pt:.2} {y_pt:.2} cm /{name} Do Q\n"
        ));
    }
    let mut line = |font: &str, size: f64, y_mm: f64, text: &str| {
        content.push_str(&format!(
            "BT /{font} {size} Tf {:.2} {:.2} Td {} Tj ET\n",
            20.0 * PT_PER_MM,
            page_h - y_mm * PT_PER_MM,
            pdf_text(text)
        ));
    };
    line(
        "F2",
        16.0,
        14.0,
        "FOLIO - patient cover sheet / intercalaire patient",
    );
    line(
        "F2",
        20.0,
        118.0,
        &format!("Patient (IPP): {}", sheet.patient),
    );
    let encounter = if sheet.encounter.is_empty() {
        "-"
    } else {
        &sheet.encounter
    };
    line("F1", 14.0, 130.0, &format!("Encounter (NDA): {encounter}"));
    let category = match (sheet.category.as_str(), category_label) {
        ("", _) => "- (classified by a person after the scan)".to_owned(),
        (code, "") => code.to_owned(),
        (code, label) => format!("{code} - {label}"),
    };
    line("F1", 14.0, 140.0, &format!("Category: {category}"));
    line(
        "F1",
        10.0,
        160.0,
        "Place this sheet on top of the patient's pages; one sheet per patient.",
    );
    line(
        "F1",
        10.0,
        166.0,
        "Placez cette feuille sur les pages du patient ; une feuille par patient.",
    );
    line("F1", 8.0, 280.0, &payload);
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.into_bytes()));
    let page = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), Object::Real(page_w as f32), Object::Real(page_h as f32)],
        "Contents" => content_id,
        "Resources" => dictionary! {
            "Font" => dictionary! { "F1" => font, "F2" => bold },
            "XObject" => xobjects,
        },
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1 },
        ),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_cover_sheet_carries_the_payload_in_clear() {
        let sheet = CoverSheet::new("800123456", "", "CRH").unwrap();
        let pdf = cover_sheet_pdf(&sheet, "Compte rendu d'hospitalisation").unwrap();
        let doc = lopdf::Document::load_mem(&pdf).unwrap();
        let text = doc.extract_text(&[1]).unwrap_or_default();
        assert!(text.contains("800123456"), "{text}");
        assert!(String::from_utf8_lossy(&pdf).contains("Helvetica"));
        assert_eq!(
            doc.get_page_images(*doc.get_pages().get(&1).unwrap())
                .unwrap()
                .len(),
            3
        );
    }
}
