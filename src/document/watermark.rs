//! A line stamped at the foot of every page of a PDF at release ("Imprimé par {owner} le
//! {date}"), when IT's rules ask for one: a form drawn after the page's own content, which is
//! wrapped in `q … Q` so that nothing it leaves in the graphics state moves the stamp.

use lopdf::{dictionary, Document, Object, ObjectId, Stream};

use super::DocumentError;

/// Name of the stamp's form in each page's resources.
const FORM: &str = "FolioWatermark";
/// Points from the page box's bottom-left corner.
const MARGIN_X: f32 = 18.0;
const MARGIN_Y: f32 = 8.0;
const FONT_SIZE: f32 = 7.0;

/// `pdf` with `text` at the foot of every page.
pub fn stamp(pdf: &[u8], text: &str) -> Result<Vec<u8>, DocumentError> {
    let stamped = std::panic::catch_unwind(|| stamp_inner(pdf, text));
    match stamped {
        Ok(r) => r,
        Err(_) => Err(DocumentError::Malformed("invalid PDF structure".into())),
    }
}

fn stamp_inner(pdf: &[u8], text: &str) -> Result<Vec<u8>, DocumentError> {
    let malformed = |e: lopdf::Error| DocumentError::Malformed(format!("invalid PDF: {e}"));
    let mut doc = super::load_pdf(pdf).map_err(malformed)?;
    if doc.is_encrypted() {
        return Err(DocumentError::Unsupported(
            ": an encrypted PDF cannot be stamped".into(),
        ));
    }
    let font = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let drawing = format!(
        "BT /F1 {FONT_SIZE} Tf 0.35 g 0 0 Td ({}) Tj ET",
        pdf_string(text)
    );
    let form = doc.add_object(Stream::new(
        dictionary! {
            "Type" => "XObject",
            "Subtype" => "Form",
            "BBox" => vec![0.into(), (-4).into(), 4000.into(), 20.into()],
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
        },
        drawing.into_bytes(),
    ));
    let pages: Vec<ObjectId> = doc.page_iter().collect();
    if pages.is_empty() {
        return Err(DocumentError::Malformed("the PDF has no pages".into()));
    }
    for page in pages {
        let (x0, y0) = page_origin(&doc, page);
        doc.add_xobject(page, FORM, form).map_err(malformed)?;
        let before = doc.add_object(Stream::new(dictionary! {}, b"q\n".to_vec()));
        let after = doc.add_object(Stream::new(
            dictionary! {},
            format!(
                "\nQ q 1 0 0 1 {} {} cm /{FORM} Do Q\n",
                x0 + MARGIN_X,
                y0 + MARGIN_Y
            )
            .into_bytes(),
        ));
        let mut contents = vec![Object::Reference(before)];
        contents.extend(
            doc.get_page_contents(page)
                .into_iter()
                .map(Object::Reference),
        );
        contents.push(Object::Reference(after));
        doc.get_dictionary_mut(page)
            .map_err(malformed)?
            .set("Contents", contents);
    }
    let mut out = Vec::with_capacity(pdf.len() + 4096);
    doc.save_to(&mut out)
        .map_err(|e| DocumentError::Malformed(format!("cannot write the PDF: {e}")))?;
    Ok(out)
}

/// The bottom-left corner of the page's visible box (CropBox, else MediaBox, inherited from
/// the page tree when the page has none).
fn page_origin(doc: &Document, page: ObjectId) -> (f32, f32) {
    let mut node = doc.get_dictionary(page).ok();
    for _ in 0..32 {
        let Some(dict) = node else { break };
        for key in [b"CropBox".as_slice(), b"MediaBox"] {
            let found = dict
                .get(key)
                .ok()
                .and_then(|o| doc.dereference(o).ok())
                .and_then(|(_, o)| o.as_array().ok())
                .filter(|a| a.len() == 4);
            if let Some(a) = found {
                let x = a[0].as_float().unwrap_or(0.0);
                let y = a[1].as_float().unwrap_or(0.0);
                return (x, y);
            }
        }
        node = dict
            .get(b"Parent")
            .ok()
            .and_then(|p| p.as_reference().ok())
            .and_then(|id| doc.get_dictionary(id).ok());
    }
    (0.0, 0.0)
}

/// A PDF literal string in WinAnsi (Latin-1 for the letters of French names), escaped;
/// characters outside it become `?`.
fn pdf_string(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            '\u{A0}'..='\u{FF}' => out.push_str(&format!("\\{:03o}", c as u32)),
            _ => out.push('?'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::pdf::tests::make_pdf;

    #[test]
    fn every_page_gets_the_line_after_its_own_content() {
        let stamped = stamp(&make_pdf(3), "Imprimé par alice (test) le 2026-11-22").unwrap();
        let doc = Document::load_mem(&stamped).unwrap();
        assert_eq!(doc.get_pages().len(), 3);
        for page in doc.page_iter() {
            let content = String::from_utf8_lossy(&doc.get_page_content(page)).into_owned();
            assert!(content.starts_with("q\n"), "{content}");
            assert!(
                content.contains("Q q 1 0 0 1 18 8 cm /FolioWatermark Do Q"),
                "{content}"
            );
        }
        let text = String::from_utf8_lossy(&stamped).into_owned();
        assert!(
            text.contains(r"(Imprim\351 par alice \(test\) le 2026-11-22) Tj"),
            "{text}"
        );
    }

    #[test]
    fn a_damaged_pdf_is_refused() {
        assert!(stamp(b"%PDF-1.4\nnot a pdf\n%%EOF", "x").is_err());
    }

    #[test]
    fn characters_outside_latin_1_become_question_marks() {
        assert_eq!(pdf_string("Łukasz ✓"), "?ukasz ?");
    }
}
