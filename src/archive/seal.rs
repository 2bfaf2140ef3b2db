//! Sealing: the document's rendition (its pages of the master, as a PDF carrying the archive's
//! metadata and the page map back to the master), its SHA-256, and an RFC 3161 time stamp of
//! that hash. The rendition is kept encrypted beside the master, under a name derived from the
//! document's id, written whole then renamed: sealing twice leaves one rendition.

use std::io::Write;
use std::path::Path;

use lopdf::{dictionary, Document, Object, Stream};
use sha2::{Digest, Sha256};

use super::image_pdf::ImagePdf;
use crate::spool::crypto::{DataKey, EncryptingWriter, MasterKey};

/// What the rendition's metadata says.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    pub document: String,
    pub patient: String,
    pub encounter: String,
    pub category: String,
    pub category_label: String,
    pub operator: String,
    pub device: String,
    /// RFC 3339, UTC.
    pub captured_at: String,
    pub master_sha256: String,
    /// The master's pages in this document, 1-based.
    pub page_map: Vec<usize>,
}

fn text(s: &str) -> Object {
    Object::string_literal(s.to_owned())
}

/// The rendition of `pages` (0-based) of a PDF, TIFF or JPEG master, with `meta` in its Info.
pub fn rendition(
    master: &[u8],
    format: &str,
    pages: &[usize],
    meta: &Meta,
) -> Result<Vec<u8>, String> {
    let mut doc = match format {
        "pdf" => {
            let mut doc = crate::document::load_pdf(master)
                .map_err(|e| format!("the master cannot be read: {e}"))?;
            let total = doc.get_pages().len() as u32;
            let drop: Vec<u32> = (1..=total)
                .filter(|n| !pages.contains(&(*n as usize - 1)))
                .collect();
            doc.delete_pages(&drop);
            doc.prune_objects();
            doc
        }
        "jpeg" => jpeg_pdf(master)?,
        "tiff" => super::tiff::pdf_of_pages(master, pages)?,
        other => return Err(format!("{other} masters cannot be sealed yet")),
    };
    let page_map = meta
        .page_map
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let info = doc.add_object(dictionary! {
        "Title" => text(&format!("{} - {}", meta.category_label, meta.patient)),
        "Subject" => text(&format!("Patient {} - {}", meta.patient, meta.category)),
        "Author" => text(&meta.operator),
        "Creator" => text(&format!("Folio scan from {}", meta.device)),
        "Producer" => text("Folio"),
        "CreationDate" => text(&format!("D:{}Z", meta.captured_at.replace(['-', ':', 'T'], "").trim_end_matches('Z').split('.').next().unwrap_or(""))),
        "FolioDocument" => text(&meta.document),
        "FolioPatient" => text(&meta.patient),
        "FolioEncounter" => text(&meta.encounter),
        "FolioCategory" => text(&meta.category),
        "FolioOperator" => text(&meta.operator),
        "FolioDevice" => text(&meta.device),
        "FolioCapturedAt" => text(&meta.captured_at),
        "FolioMasterSha256" => text(&meta.master_sha256),
        "FolioMasterPages" => text(&page_map),
    });
    doc.trailer.set("Info", info);
    let mut out = Vec::new();
    doc.save_to(&mut out)
        .map_err(|e| format!("the rendition cannot be written: {e}"))?;
    Ok(out)
}

/// A one-page PDF showing a JPEG, sized from its resolution (A4 width when it has none).
fn jpeg_pdf(jpeg: &[u8]) -> Result<Document, String> {
    let mut d = jpeg_decoder::Decoder::new(jpeg);
    d.read_info()
        .map_err(|e| format!("the JPEG is damaged: {e}"))?;
    let info = d.info().ok_or("the JPEG has no header")?;
    super::pages::check_size(u64::from(info.width), u64::from(info.height))?;
    let (w, h) = (f64::from(info.width), f64::from(info.height));
    let width_pt = 595.28;
    let height_pt = width_pt * h / w.max(1.0);
    let space = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 | jpeg_decoder::PixelFormat::L16 => "DeviceGray",
        jpeg_decoder::PixelFormat::CMYK32 => "DeviceCMYK",
        jpeg_decoder::PixelFormat::RGB24 => "DeviceRGB",
    };
    let mut pdf = ImagePdf::new();
    pdf.add_page(
        Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image",
                "Width" => i64::from(info.width), "Height" => i64::from(info.height),
                "ColorSpace" => space, "BitsPerComponent" => 8, "Filter" => "DCTDecode",
            },
            jpeg.to_vec(),
        ),
        width_pt,
        height_pt,
    );
    Ok(pdf.finish())
}

/// The SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Writes the rendition encrypted as `dir/NAME`: whole, fsynced, then renamed over any earlier
/// one. Returns the wrapped key.
pub fn store(dir: &Path, master: &MasterKey, name: &str, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let key = DataKey::generate();
    let wrapped = master.wrap(&key, name).map_err(std::io::Error::other)?;
    let partial = dir.join(format!("{name}.partial"));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    let mut writer = EncryptingWriter::new(std::io::BufWriter::new(file), &key)
        .map_err(std::io::Error::other)?;
    writer.write(bytes).map_err(std::io::Error::other)?;
    let mut inner = writer.finish().map_err(std::io::Error::other)?;
    inner.flush()?;
    inner.get_ref().sync_all()?;
    drop(inner);
    std::fs::rename(&partial, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(wrapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta {
            document: "doc-1".into(),
            patient: "800001".into(),
            encounter: "NDA-7".into(),
            category: "CRH".into(),
            category_label: "Compte rendu d'hospitalisation".into(),
            operator: "Nina".into(),
            device: "records-copier".into(),
            captured_at: "2026-11-22T10:00:00.000Z".into(),
            master_sha256: "ab".into(),
            page_map: vec![2, 3],
        }
    }

    #[test]
    fn a_rendition_keeps_its_pages_and_says_where_they_came_from() {
        let master = testkit::sample_pdf(4);
        let out = rendition(&master, "pdf", &[1, 2], &meta()).unwrap();
        let doc = Document::load_mem(&out).unwrap();
        assert_eq!(doc.get_pages().len(), 2);
        let text = doc.extract_text(&[1, 2]).unwrap();
        assert!(
            text.contains("Folio page 2") && text.contains("Folio page 3"),
            "{text}"
        );
        let info = doc.trailer.get(b"Info").unwrap().as_reference().unwrap();
        let info = doc.get_dictionary(info).unwrap();
        assert_eq!(
            info.get(b"FolioMasterPages").unwrap().as_str().unwrap(),
            b"2,3"
        );
        assert_eq!(
            info.get(b"FolioPatient").unwrap().as_str().unwrap(),
            b"800001"
        );
    }

    #[test]
    fn a_stored_rendition_is_encrypted_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::from_bytes([3; 32]);
        store(dir.path(), &key, "doc-1.pdf", b"%PDF first").unwrap();
        let wrapped = store(dir.path(), &key, "doc-1.pdf", b"%PDF second").unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["doc-1.pdf"]);
        let back = crate::capture::store::read_checked(
            dir.path(),
            &key,
            "doc-1.pdf",
            &wrapped,
            &hex::encode(sha256(b"%PDF second")),
        )
        .unwrap();
        assert_eq!(back, b"%PDF second");
    }
}
