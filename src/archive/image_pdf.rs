//! PDFs whose every page shows one scanned image over the whole page: the renditions of JPEG
//! and TIFF masters (the test kit makes its scanned batches with it too).

use std::io::Write;

use lopdf::{dictionary, Document, Object, ObjectId, Stream};

/// A PDF being built page by page.
pub struct ImagePdf {
    doc: Document,
    pages_id: ObjectId,
    kids: Vec<Object>,
}

impl ImagePdf {
    pub fn new() -> ImagePdf {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        ImagePdf {
            doc,
            pages_id,
            kids: Vec::new(),
        }
    }

    /// Adds a page of `width_pt` × `height_pt` points covered by `image` (an image XObject).
    pub fn add_page(&mut self, image: Stream, width_pt: f64, height_pt: f64) {
        let image = self.doc.add_object(image);
        let content = self.doc.add_object(Stream::new(
            dictionary! {},
            format!("q {width_pt:.2} 0 0 {height_pt:.2} 0 0 cm /Scan Do Q").into_bytes(),
        ));
        let page = self.doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => self.pages_id,
            "MediaBox" => vec![0.into(), 0.into(), Object::Real(width_pt as f32), Object::Real(height_pt as f32)],
            "Contents" => content,
            "Resources" => dictionary! { "XObject" => dictionary! { "Scan" => image } },
        });
        self.kids.push(page.into());
    }

    /// The document, with its page tree and catalog.
    pub fn finish(mut self) -> Document {
        let count = self.kids.len() as i64;
        self.doc.objects.insert(
            self.pages_id,
            Object::Dictionary(
                dictionary! { "Type" => "Pages", "Kids" => self.kids, "Count" => count },
            ),
        );
        let catalog = self
            .doc
            .add_object(dictionary! { "Type" => "Catalog", "Pages" => self.pages_id });
        self.doc.trailer.set("Root", catalog);
        self.doc
    }
}

impl Default for ImagePdf {
    fn default() -> Self {
        ImagePdf::new()
    }
}

/// An 8-bit image XObject of `pixels` in `space` (`DeviceGray`, `DeviceRGB`), Flate-compressed.
pub fn flate_image(pixels: &[u8], width: i64, height: i64, space: &str) -> Result<Stream, String> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(pixels)
        .map_err(|e| format!("the page cannot be compressed: {e}"))?;
    let data = z
        .finish()
        .map_err(|e| format!("the page cannot be compressed: {e}"))?;
    Ok(Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image", "Width" => width, "Height" => height,
            "ColorSpace" => space, "BitsPerComponent" => 8, "Filter" => "FlateDecode",
        },
        data,
    ))
}
