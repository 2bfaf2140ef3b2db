//! Splitting a batch by its cover sheets. Strict scope: the pages after a cover sheet belong
//! to that sheet's patient until the next one; pages after a cover sheet that cannot be read
//! are never attached to the previous patient, and pages before any cover sheet belong to
//! nobody. Both become parts an operator must look at.

use super::barcodes::{self, Found};
use super::cover::{CoverSheet, MARKER};
use super::pages::{self, PageImage};
use super::tiff;

/// What one page is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PageKind {
    Cover(CoverSheet),
    /// A cover sheet whose patient cannot be read, and why.
    BadCover(String),
    Content,
}

/// Every page's kind in a master of `format` (`pdf`, `tiff`, `jpeg`), in order. A page whose
/// image cannot be decoded is an error: a cover sheet on it would be missed.
pub fn kinds_of_master(bytes: &[u8], format: &str) -> Result<Vec<PageKind>, String> {
    let kind = |i: &PageImage| kind_of(&barcodes::scan_page(&i.luma, i.width, i.height));
    // One page in memory at a time. A page without a scanned image was made on a computer: it
    // cannot be a cover sheet.
    let mut kinds = Vec::new();
    match format {
        "tiff" => tiff::each_page(bytes, |_, page| {
            kinds.push(kind(&page.into_gray()));
            Ok(())
        })?,
        "pdf" => pages::each_of_pdf(bytes, |image| {
            kinds.push(image.as_ref().map_or(PageKind::Content, kind));
        })?,
        "jpeg" => kinds.extend(
            pages::of_jpeg(bytes)?
                .iter()
                .map(|i| i.as_ref().map_or(PageKind::Content, kind)),
        ),
        other => return Err(format!("{other} batches cannot be split by cover sheet")),
    }
    Ok(kinds)
}

/// Tells a page's kind from the codes found on it.
pub fn kind_of(found: &[Found]) -> PageKind {
    let payloads: Vec<&Found> = found
        .iter()
        .filter(|f| f.format != "code128" && f.text.starts_with("FOLIO"))
        .collect();
    let marked = found
        .iter()
        .any(|f| f.format == "code128" && f.text == MARKER);
    let mut sheets = Vec::new();
    let mut errors = Vec::new();
    for p in &payloads {
        match CoverSheet::parse(&p.text) {
            Ok(s) => sheets.push(s),
            Err(e) => errors.push(e),
        }
    }
    sheets.dedup();
    match (sheets.as_slice(), errors.first()) {
        ([one], _) => PageKind::Cover(one.clone()),
        ([_, _, ..], _) => {
            PageKind::BadCover("the cover sheet's codes name different patients".into())
        }
        ([], Some(e)) => PageKind::BadCover(e.clone()),
        ([], None) if marked => {
            PageKind::BadCover("a cover sheet whose QR and DataMatrix codes cannot be read".into())
        }
        ([], None) => PageKind::Content,
    }
}

/// A patient's part of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The cover sheet's page (0-based), if the part has one.
    pub cover_page: Option<usize>,
    /// The sheet, or why the part has no patient.
    pub cover: Result<CoverSheet, String>,
    /// The content pages (0-based, in the master).
    pub pages: Vec<usize>,
}

/// Cuts a batch into parts. Cover sheets followed by no page give no part; they are returned
/// as notes.
pub fn cut(kinds: &[PageKind]) -> (Vec<Part>, Vec<String>) {
    let mut parts: Vec<Part> = Vec::new();
    let mut notes = Vec::new();
    let mut current: Option<Part> = None;
    for (i, kind) in kinds.iter().enumerate() {
        let cover = match kind {
            PageKind::Content => {
                let part = current.get_or_insert_with(|| Part {
                    cover_page: None,
                    cover: Err(format!(
                        "page {} comes before any cover sheet: whose is it?",
                        i + 1
                    )),
                    pages: Vec::new(),
                });
                part.pages.push(i);
                continue;
            }
            PageKind::Cover(sheet) => Ok(sheet.clone()),
            PageKind::BadCover(why) => Err(format!(
                "the cover sheet on page {} cannot be read ({why}): its pages are not attached to anyone",
                i + 1
            )),
        };
        if let Some(done) = current.take() {
            close(done, &mut parts, &mut notes);
        }
        current = Some(Part {
            cover_page: Some(i),
            cover,
            pages: Vec::new(),
        });
    }
    if let Some(done) = current.take() {
        close(done, &mut parts, &mut notes);
    }
    (parts, notes)
}

fn close(part: Part, parts: &mut Vec<Part>, notes: &mut Vec<String>) {
    if part.pages.is_empty() {
        if let Some(p) = part.cover_page {
            notes.push(format!(
                "the cover sheet on page {} has no pages after it",
                p + 1
            ));
        }
    } else {
        parts.push(part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cover(p: &str) -> PageKind {
        PageKind::Cover(CoverSheet::new(p, "", "CRH").unwrap())
    }

    #[test]
    fn pages_follow_their_cover_sheet_and_nobody_else() {
        use PageKind::*;
        let kinds = [
            Content,
            cover("A"),
            Content,
            Content,
            BadCover("smudged".into()),
            Content,
            cover("B"),
            cover("C"),
            Content,
        ];
        let (parts, notes) = cut(&kinds);
        assert_eq!(parts.len(), 4);
        assert!(parts[0]
            .cover
            .as_ref()
            .unwrap_err()
            .contains("before any cover sheet"));
        assert_eq!(parts[0].pages, [0]);
        assert_eq!(parts[1].cover.as_ref().unwrap().patient, "A");
        assert_eq!(parts[1].pages, [2, 3]);
        assert!(parts[2]
            .cover
            .as_ref()
            .unwrap_err()
            .contains("page 5 cannot be read"));
        assert_eq!(parts[2].pages, [5], "never attached to A");
        assert_eq!(parts[3].cover.as_ref().unwrap().patient, "C");
        assert_eq!(notes, ["the cover sheet on page 7 has no pages after it"]);
    }

    #[test]
    fn a_page_is_told_by_its_codes() {
        let sheet = CoverSheet::new("800123", "", "CRH").unwrap();
        let qr = |t: &str| Found {
            format: "qr",
            text: t.into(),
        };
        let marker = Found {
            format: "code128",
            text: MARKER.into(),
        };
        assert_eq!(
            kind_of(&[qr(&sheet.payload()), marker.clone()]),
            PageKind::Cover(sheet.clone())
        );
        assert!(matches!(kind_of(&[marker]), PageKind::BadCover(_)));
        let altered = sheet.payload().replace("800123", "800124");
        assert!(matches!(kind_of(&[qr(&altered)]), PageKind::BadCover(e) if e.contains("check")));
        let other = CoverSheet::new("999", "", "").unwrap().payload();
        assert!(matches!(
            kind_of(&[qr(&sheet.payload()), qr(&other)]),
            PageKind::BadCover(_)
        ));
        assert_eq!(kind_of(&[qr("https://example.org")]), PageKind::Content);
        assert_eq!(kind_of(&[]), PageKind::Content);
    }
}
