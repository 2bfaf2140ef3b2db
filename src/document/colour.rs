//! Whether a PDF puts colour on paper: the rule condition "colour actually used".
//!
//! Every page's content is walked (and the forms it draws, and the images it shows): a colour
//! set in RGB, CMYK, Lab or a spot colour with any chroma, a shading or pattern in a colour
//! space, an image whose pixels are not grey. A document saved as colour but grey on every
//! page (the common scanned letter) is black & white.
//!
//! The walk is bounded for hostile files: a budget per document of operators, decoded bytes
//! and time ([`Budget`]), a depth for forms drawing forms and for colour spaces naming colour
//! spaces (a palette whose base is itself), and each image judged once however often it is
//! drawn. Past a limit, or anything lopdf cannot decode, the answer is unknown (`None`), which
//! no rule condition matches.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use lopdf::content::Content;
use lopdf::{Dictionary, Document, Object, ObjectId};

/// Decompressed content per page (forms included).
const MAX_CONTENT: usize = 16 * 1024 * 1024;
/// Decoded bytes of one image.
const MAX_IMAGE: usize = 64 * 1024 * 1024;
/// Forms drawing forms.
const MAX_DEPTH: u32 = 6;
/// Colour spaces defined through other colour spaces (Indexed over ICCBased is 2).
const MAX_SPACE_DEPTH: u32 = 4;
/// Content operators walked in one document.
const MAX_OPERATORS: u64 = 4_000_000;
/// Bytes decoded (content, forms, images) in one document.
const MAX_DECODED: u64 = 512 * 1024 * 1024;
/// Time the walk may take for one document.
const MAX_TIME: Duration = Duration::from_secs(5);
/// A palette holds at most 256 entries of at most 4 components.
const MAX_PALETTE: usize = 256 * 4;
/// A component difference below this (out of 1.0) is grey (rounding, JPEG noise).
const CHROMA: f32 = 0.06;
/// Images: pixels whose channels differ by more than this (out of 255) are coloured…
const PIXEL_CHROMA: u8 = 28;
/// …and an image is coloured from this many coloured pixels per 10,000 (a logo is enough).
const COLOURED_PER_10K: usize = 5;

/// Why the walk stopped without an answer.
#[derive(Debug)]
struct Unknown;

type Found = Result<bool, Unknown>;

/// What one document's walk may still spend.
struct Budget {
    operators: u64,
    decoded: u64,
    until: Instant,
}

impl Budget {
    fn new() -> Budget {
        Budget {
            operators: MAX_OPERATORS,
            decoded: MAX_DECODED,
            until: Instant::now() + MAX_TIME,
        }
    }

    fn operators(&mut self, n: usize) -> Result<(), Unknown> {
        self.operators = self.operators.checked_sub(n as u64).ok_or(Unknown)?;
        if Instant::now() > self.until {
            return Err(Unknown);
        }
        Ok(())
    }

    fn decoded(&mut self, n: usize) -> Result<(), Unknown> {
        self.decoded = self.decoded.checked_sub(n as u64).ok_or(Unknown)?;
        if Instant::now() > self.until {
            return Err(Unknown);
        }
        Ok(())
    }
}

/// One document's walk: the document, what it may still spend, images already judged.
struct Walk<'a> {
    doc: &'a Document,
    budget: Budget,
    images: HashMap<ObjectId, bool>,
}

/// `Some(true)` when a page of `doc` has colour, `Some(false)` when none has, `None` when it
/// could not be told.
pub fn colour_used(doc: &Document) -> Option<bool> {
    let mut walk = Walk {
        doc,
        budget: Budget::new(),
        images: HashMap::new(),
    };
    for page in doc.page_iter() {
        match walk.page_has_colour(page) {
            Ok(true) => return Some(true),
            Ok(false) => {}
            Err(Unknown) => return None,
        }
    }
    Some(false)
}

/// The colour space currently selected for filling or stroking.
#[derive(Debug, Clone)]
enum Space {
    Gray,
    Rgb,
    Cmyk,
    Lab,
    /// Separation or DeviceN that is not black: any ink is colour.
    Spot,
    /// Black separation: never colour.
    BlackInk,
    /// Indexed: whether any entry of its palette has colour.
    Indexed(bool),
    /// A pattern: tiling or shading, painted in its own colours.
    Pattern,
}

/// Current fill and stroke spaces, saved and restored with `q`/`Q`.
#[derive(Debug, Clone)]
struct State {
    fill: Space,
    stroke: Space,
}

/// Graphics states saved by `q` and not yet restored: more is a hostile file.
const MAX_SAVED: usize = 4096;

impl Walk<'_> {
    fn page_has_colour(&mut self, page: ObjectId) -> Found {
        let content = self
            .doc
            .get_page_content_with_limit(page, MAX_CONTENT)
            .map_err(|_| Unknown)?;
        self.budget.decoded(content.len())?;
        let resources = page_resources(self.doc, page);
        let mut budget = MAX_CONTENT;
        self.walk(&content, resources.as_ref(), 0, &mut budget)
    }

    fn walk(
        &mut self,
        content: &[u8],
        resources: Option<&Dictionary>,
        depth: u32,
        budget: &mut usize,
    ) -> Found {
        let doc = self.doc;
        let ops = Content::decode(content).map_err(|_| Unknown)?.operations;
        self.budget.operators(ops.len())?;
        let mut state = State {
            fill: Space::Gray,
            stroke: Space::Gray,
        };
        let mut saved = Vec::new();
        for op in &ops {
            let numbers: Vec<f32> = op
                .operands
                .iter()
                .take(8)
                .filter_map(|o| o.as_float().ok())
                .collect();
            let coloured = match op.operator.as_str() {
                "q" => {
                    if saved.len() >= MAX_SAVED {
                        return Err(Unknown);
                    }
                    saved.push(state.clone());
                    false
                }
                "Q" => {
                    if let Some(s) = saved.pop() {
                        state = s;
                    }
                    false
                }
                "g" | "G" => false,
                "rg" | "RG" => rgb_has_chroma(&numbers),
                "k" | "K" => cmyk_has_chroma(&numbers),
                "cs" | "CS" => {
                    let space = op
                        .operands
                        .first()
                        .map(|o| self.resolve_space(o, resources, 0))
                        .transpose()?
                        .unwrap_or(Space::Gray);
                    if op.operator == "cs" {
                        state.fill = space;
                    } else {
                        state.stroke = space;
                    }
                    false
                }
                "sc" | "scn" => space_has_colour(&state.fill, &numbers),
                "SC" | "SCN" => space_has_colour(&state.stroke, &numbers),
                "sh" => match named(resources, b"Shading", op.operands.first(), doc) {
                    Some(sh) => self.shading_has_colour(sh, resources)?,
                    None => false,
                },
                "Do" => {
                    let Some(name) = op.operands.first() else {
                        continue;
                    };
                    self.xobject_has_colour(name, resources, depth, budget, &state)?
                }
                "BI" => match op.operands.first() {
                    Some(Object::Stream(image)) => {
                        self.inline_image_has_colour(&image.dict, resources)?
                    }
                    _ => false,
                },
                _ => false,
            };
            if coloured {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn resolve_space(
        &mut self,
        o: &Object,
        resources: Option<&Dictionary>,
        depth: u32,
    ) -> Result<Space, Unknown> {
        if depth > MAX_SPACE_DEPTH {
            return Err(Unknown);
        }
        let doc = self.doc;
        let o = deref(doc, o);
        if let Ok(name) = o.as_name() {
            return Ok(match name {
                b"DeviceGray" | b"CalGray" | b"G" => Space::Gray,
                b"DeviceRGB" | b"CalRGB" | b"RGB" => Space::Rgb,
                b"DeviceCMYK" | b"CMYK" => Space::Cmyk,
                b"Pattern" => Space::Pattern,
                _ => match named(resources, b"ColorSpace", Some(o), doc) {
                    // A definition is resolved without the resources: it cannot name another.
                    Some(def) => self.resolve_space(def, None, depth + 1)?,
                    // A name nobody defines: a broken file, not a colour.
                    None => Space::Gray,
                },
            });
        }
        let Ok(array) = o.as_array() else {
            return Ok(Space::Gray);
        };
        let family = array.first().and_then(|f| f.as_name().ok()).unwrap_or(b"");
        Ok(match family {
            b"CalGray" => Space::Gray,
            b"CalRGB" => Space::Rgb,
            b"Lab" => Space::Lab,
            b"ICCBased" => {
                let n = array
                    .get(1)
                    .map(|s| deref(doc, s))
                    .and_then(|s| s.as_stream().ok())
                    .and_then(|s| s.dict.get(b"N").ok())
                    .and_then(|n| n.as_i64().ok());
                match n {
                    Some(1) => Space::Gray,
                    Some(3) => Space::Rgb,
                    Some(4) => Space::Cmyk,
                    _ => return Err(Unknown),
                }
            }
            b"Separation" => match array.get(1).and_then(|n| n.as_name().ok()) {
                Some(b"Black") | Some(b"All") => Space::BlackInk,
                _ => Space::Spot,
            },
            b"DeviceN" => {
                let names = array
                    .get(1)
                    .map(|n| deref(doc, n))
                    .and_then(|n| n.as_array().ok());
                let only_black = names.is_some_and(|n| {
                    n.iter()
                        .all(|c| matches!(c.as_name(), Ok(b"Black") | Ok(b"None")))
                });
                if only_black {
                    Space::BlackInk
                } else {
                    Space::Spot
                }
            }
            b"Indexed" | b"I" => {
                let base = match array.get(1) {
                    Some(b) => self.resolve_space(b, resources, depth + 1)?,
                    None => return Err(Unknown),
                };
                // A palette's base is a plain colour space (PDF 32000-1 8.6.6.3).
                if matches!(base, Space::Indexed(_) | Space::Pattern) {
                    return Err(Unknown);
                }
                let lookup: Vec<u8> = match array.get(3).map(|l| deref(doc, l)) {
                    Some(Object::String(bytes, _)) => bytes.clone(),
                    Some(Object::Stream(s)) => s
                        .decompressed_content_with_limit(MAX_PALETTE)
                        .map_err(|_| Unknown)?,
                    _ => return Err(Unknown),
                };
                self.budget.decoded(lookup.len())?;
                Space::Indexed(palette_has_colour(&base, &lookup))
            }
            b"Pattern" => Space::Pattern,
            _ => return Err(Unknown),
        })
    }

    fn shading_has_colour(&mut self, shading: &Object, resources: Option<&Dictionary>) -> Found {
        let dict = match shading {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &s.dict,
            _ => return Ok(false),
        };
        let space = match dict.get(b"ColorSpace") {
            Ok(cs) => self.resolve_space(cs, resources, 0)?,
            Err(_) => return Ok(false),
        };
        // A shading in a colour space is judged colour: its function is not evaluated.
        Ok(!matches!(space, Space::Gray | Space::BlackInk))
    }

    fn xobject_has_colour(
        &mut self,
        name: &Object,
        resources: Option<&Dictionary>,
        depth: u32,
        budget: &mut usize,
        state: &State,
    ) -> Found {
        let doc = self.doc;
        let Some(name) = name.as_name().ok() else {
            return Ok(false);
        };
        let Some(entry) = resources
            .and_then(|r| r.get(b"XObject").ok())
            .map(|x| deref(doc, x))
            .and_then(|x| x.as_dict().ok())
            .and_then(|x| x.get(name).ok())
        else {
            return Ok(false);
        };
        let id = entry.as_reference().ok();
        let Object::Stream(x) = deref(doc, entry) else {
            return Ok(false);
        };
        match x.dict.get(b"Subtype").and_then(|s| s.as_name()) {
            Ok(b"Image") => {
                // A stencil mask paints with the current fill colour.
                if matches!(x.dict.get(b"ImageMask"), Ok(Object::Boolean(true))) {
                    return Ok(!matches!(state.fill, Space::Gray | Space::BlackInk)
                        && !matches!(state.fill, Space::Indexed(false)));
                }
                // Drawn on every page (a letterhead), judged once.
                if let Some(known) = id.and_then(|id| self.images.get(&id)) {
                    return Ok(*known);
                }
                let found = self.image_has_colour(x, resources)?;
                if let Some(id) = id {
                    self.images.insert(id, found);
                }
                Ok(found)
            }
            Ok(b"Form") => {
                if depth >= MAX_DEPTH {
                    return Err(Unknown);
                }
                let content = x.decompressed_content_with_limit(*budget).or_else(|_| {
                    if x.dict.has(b"Filter") || x.content.len() > *budget {
                        Err(Unknown)
                    } else {
                        Ok(x.content.clone())
                    }
                })?;
                *budget = budget.checked_sub(content.len()).ok_or(Unknown)?;
                self.budget.decoded(content.len())?;
                let own = x
                    .dict
                    .get(b"Resources")
                    .ok()
                    .map(|r| deref(doc, r))
                    .and_then(|r| r.as_dict().ok());
                self.walk(&content, own.or(resources), depth + 1, budget)
            }
            _ => Ok(false),
        }
    }

    fn inline_image_has_colour(
        &mut self,
        dict: &Dictionary,
        resources: Option<&Dictionary>,
    ) -> Found {
        let space = match dict.get(b"ColorSpace").or_else(|_| dict.get(b"CS")) {
            Ok(cs) => self.resolve_space(cs, resources, 0)?,
            Err(_) => return Ok(false),
        };
        // Inline images are small (icons, rules): judged by their colour space.
        Ok(match space {
            Space::Gray | Space::BlackInk => false,
            Space::Indexed(c) => c,
            _ => true,
        })
    }

    fn image_has_colour(&mut self, image: &lopdf::Stream, resources: Option<&Dictionary>) -> Found {
        let doc = self.doc;
        let dict = &image.dict;
        let space = match dict.get(b"ColorSpace") {
            Ok(cs) => self.resolve_space(cs, resources, 0)?,
            // JPX images carry their space inside; judged below.
            Err(_) => Space::Rgb,
        };
        match space {
            Space::Gray | Space::BlackInk => return Ok(false),
            Space::Indexed(c) => return Ok(c),
            Space::Rgb | Space::Cmyk => {}
            _ => return Ok(true),
        }
        let filters: Vec<&[u8]> = match dict.get(b"Filter").map(|f| deref(doc, f)) {
            Ok(Object::Name(n)) => vec![n.as_slice()],
            Ok(Object::Array(a)) => a.iter().filter_map(|f| f.as_name().ok()).collect(),
            _ => Vec::new(),
        };
        match filters.last() {
            Some(&b"DCTDecode") | Some(&b"DCT") => {
                if filters.len() != 1 {
                    // Flate around JPEG: undo the outer filters only.
                    return Err(Unknown);
                }
                self.budget.decoded(image.content.len())?;
                jpeg_has_colour(&image.content)
            }
            Some(&b"JPXDecode") | Some(&b"JBIG2Decode") => Err(Unknown),
            _ => {
                let bits = dict
                    .get(b"BitsPerComponent")
                    .and_then(|b| b.as_i64())
                    .unwrap_or(8);
                if bits != 8 {
                    return Err(Unknown);
                }
                let limit =
                    MAX_IMAGE.min(usize::try_from(self.budget.decoded).unwrap_or(MAX_IMAGE));
                let pixels = image.decompressed_content_with_limit(limit).or_else(|_| {
                    if filters.is_empty() && image.content.len() <= limit {
                        Ok(image.content.clone())
                    } else {
                        Err(Unknown)
                    }
                })?;
                self.budget.decoded(pixels.len())?;
                let n = if matches!(space, Space::Cmyk) { 4 } else { 3 };
                Ok(pixels_have_colour(&pixels, n))
            }
        }
    }
}

/// The page's resources (its own, else inherited), merged when split over several objects.
fn page_resources(doc: &Document, page: ObjectId) -> Option<Dictionary> {
    let (direct, ids) = doc.get_page_resources(page).ok()?;
    if let Some(d) = direct {
        return Some(d.clone());
    }
    ids.iter()
        .find_map(|id| doc.get_dictionary(*id).ok())
        .cloned()
}

fn spread(values: &[f32]) -> f32 {
    let max = values.iter().copied().fold(f32::MIN, f32::max);
    let min = values.iter().copied().fold(f32::MAX, f32::min);
    max - min
}

fn rgb_has_chroma(v: &[f32]) -> bool {
    v.len() >= 3 && spread(&v[..3]) > CHROMA
}

/// CMYK is grey when cyan, magenta and yellow are equal (all zero: black ink only).
fn cmyk_has_chroma(v: &[f32]) -> bool {
    v.len() >= 4 && spread(&v[..3]) > CHROMA
}

fn space_has_colour(space: &Space, v: &[f32]) -> bool {
    match space {
        Space::Gray | Space::BlackInk => false,
        Space::Rgb => rgb_has_chroma(v),
        Space::Cmyk => cmyk_has_chroma(v),
        // L*a*b*: a* and b* (about −100…100) away from 0.
        Space::Lab => v.len() >= 3 && (v[1].abs() > 4.0 || v[2].abs() > 4.0),
        Space::Spot => v.iter().any(|t| *t > 0.0),
        Space::Indexed(palette_has_colour) => *palette_has_colour,
        // An uncoloured pattern's components precede its name: judge them when given.
        Space::Pattern => v.len() < 3 || rgb_has_chroma(v) || cmyk_has_chroma(v),
    }
}

fn deref<'a>(doc: &'a Document, o: &'a Object) -> &'a Object {
    doc.dereference(o).map(|(_, o)| o).unwrap_or(o)
}

/// `resources[category][name]`, dereferenced.
fn named<'a>(
    resources: Option<&'a Dictionary>,
    category: &[u8],
    name: Option<&Object>,
    doc: &'a Document,
) -> Option<&'a Object> {
    let name = name?.as_name().ok()?;
    let dict = deref(doc, resources?.get(category).ok()?).as_dict().ok()?;
    Some(deref(doc, dict.get(name).ok()?))
}

fn palette_has_colour(base: &Space, lookup: &[u8]) -> bool {
    let n = match base {
        Space::Gray | Space::BlackInk => return false,
        Space::Rgb => 3,
        Space::Cmyk => 4,
        _ => return true,
    };
    lookup.chunks_exact(n).any(|entry| {
        let c = &entry[..3];
        c.iter().max().unwrap_or(&0) - c.iter().min().unwrap_or(&0) > PIXEL_CHROMA
    })
}

/// Decodes the JPEG at an eighth of its size (the DC coefficients only: cheap) and looks at
/// the pixels.
fn jpeg_has_colour(data: &[u8]) -> Found {
    let mut decoder = jpeg_decoder::Decoder::new(data);
    decoder.set_max_decoding_buffer_size(MAX_IMAGE);
    decoder.read_info().map_err(|_| Unknown)?;
    let info = decoder.info().ok_or(Unknown)?;
    let n = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 | jpeg_decoder::PixelFormat::L16 => return Ok(false),
        jpeg_decoder::PixelFormat::RGB24 => 3,
        jpeg_decoder::PixelFormat::CMYK32 => 4,
    };
    decoder
        .scale(
            info.width.div_ceil(8).max(1),
            info.height.div_ceil(8).max(1),
        )
        .map_err(|_| Unknown)?;
    let pixels = decoder.decode().map_err(|_| Unknown)?;
    Ok(pixels_have_colour(&pixels, n))
}

/// Pixels of `n` 8-bit channels (RGB, or CMYK whose first three are judged).
fn pixels_have_colour(pixels: &[u8], n: usize) -> bool {
    let total = pixels.len() / n;
    if total == 0 {
        return false;
    }
    let coloured = pixels
        .chunks_exact(n)
        .filter(|p| {
            let c = &p[..3];
            c.iter().max().unwrap_or(&0) - c.iter().min().unwrap_or(&0) > PIXEL_CHROMA
        })
        .count();
    coloured * 10_000 >= total * COLOURED_PER_10K && coloured > 0
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use lopdf::{dictionary, Stream};

    /// A one-page PDF drawing `content`, with `resources` (used by other tests too).
    pub fn pdf_with(content: &str, resources: Dictionary) -> Document {
        let mut doc = Document::with_version("1.7");
        let pages_id = doc.new_object_id();
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.as_bytes().to_vec()));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            "Contents" => content_id,
            "Resources" => resources,
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages",
                "Kids" => vec![page_id.into()],
                "Count" => 1,
            }),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog);
        doc
    }

    fn text(colour: &str) -> String {
        format!("BT /F1 12 Tf {colour} 72 720 Td (Compte rendu) Tj ET")
    }

    fn image_resources(doc: &mut Document, space: &str, pixels: Vec<u8>, w: i64) -> Dictionary {
        let id = doc.add_object(Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image", "Width" => w, "Height" => 1,
                "ColorSpace" => space, "BitsPerComponent" => 8,
            },
            pixels,
        ));
        dictionary! { "XObject" => dictionary! { "Im1" => id } }
    }

    #[test]
    fn colour_operators_are_judged_by_their_chroma() {
        let cases = [
            ("0 g", Some(false)),
            ("0.5 0.5 0.5 rg", Some(false)),
            ("0.2 0.21 0.2 rg", Some(false)),
            ("1 0 0 rg", Some(true)),
            ("0 0 1 RG 0 0 m 10 10 l S", Some(true)),
            ("0 0 0 1 k", Some(false)),
            ("0.3 0.3 0.3 0 k", Some(false)),
            ("0 1 1 0 k", Some(true)),
            ("/DeviceRGB cs 0.1 0.1 0.1 sc", Some(false)),
            ("/DeviceRGB cs 0 0.5 0 sc", Some(true)),
            ("/DeviceCMYK CS 0 0 0 0.8 SCN", Some(false)),
            ("q 1 0 0 rg Q", Some(true)),
        ];
        for (op, want) in cases {
            let doc = pdf_with(&text(op), Dictionary::new());
            assert_eq!(colour_used(&doc), want, "{op}");
        }
    }

    #[test]
    fn named_colour_spaces_are_resolved() {
        let spot = dictionary! { "ColorSpace" => dictionary! {
            "Sp" => vec![Object::Name(b"Separation".to_vec()), Object::Name(b"PANTONE 485 C".to_vec()), Object::Name(b"DeviceCMYK".to_vec()), Object::Null],
            "Bk" => vec![Object::Name(b"Separation".to_vec()), Object::Name(b"Black".to_vec()), Object::Name(b"DeviceCMYK".to_vec()), Object::Null],
            "Lab" => vec![Object::Name(b"Lab".to_vec()), Object::Dictionary(dictionary! {})],
        }};
        let cases = [
            ("/Sp cs 1 scn", Some(true)),
            ("/Sp cs 0 scn", Some(false)),
            ("/Bk cs 1 scn", Some(false)),
            ("/Lab cs 50 0 0 scn", Some(false)),
            ("/Lab cs 50 60 20 scn", Some(true)),
        ];
        for (op, want) in cases {
            let doc = pdf_with(&text(op), spot.clone());
            assert_eq!(colour_used(&doc), want, "{op}");
        }
    }

    #[test]
    fn images_are_judged_by_their_pixels() {
        let grey_rgb: Vec<u8> = (0..300).flat_map(|i| [i as u8, i as u8, i as u8]).collect();
        let mut red = grey_rgb.clone();
        red[0..3].copy_from_slice(&[255, 0, 0]);
        for (pixels, space, want) in [
            (grey_rgb.clone(), "DeviceRGB", Some(false)),
            (red, "DeviceRGB", Some(true)),
            (vec![7; 300], "DeviceGray", Some(false)),
        ] {
            let mut doc = pdf_with("", Dictionary::new());
            let res = image_resources(&mut doc, space, pixels, 300);
            let page = doc.page_iter().next().unwrap();
            doc.get_dictionary_mut(page).unwrap().set("Resources", res);
            let content_id = doc.get_page_contents(page)[0];
            doc.get_object_mut(content_id)
                .unwrap()
                .as_stream_mut()
                .unwrap()
                .set_content(b"q 100 0 0 100 0 0 cm /Im1 Do Q".to_vec());
            assert_eq!(colour_used(&doc), want, "{space}");
        }
    }

    #[test]
    fn forms_are_walked_and_a_loop_is_unknown() {
        let mut doc = pdf_with("/Fm1 Do", Dictionary::new());
        let form = doc.add_object(Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()] },
            b"0 0.6 0 rg 0 0 5 5 re f".to_vec(),
        ));
        let page = doc.page_iter().next().unwrap();
        doc.get_dictionary_mut(page).unwrap().set(
            "Resources",
            dictionary! { "XObject" => dictionary! { "Fm1" => form } },
        );
        assert_eq!(colour_used(&doc), Some(true));

        // A form that draws itself.
        let looping = doc.add_object(Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Form", "Resources" => dictionary! {} },
            b"/Fm1 Do".to_vec(),
        ));
        let res = dictionary! { "XObject" => dictionary! { "Fm1" => looping } };
        doc.get_object_mut(looping)
            .unwrap()
            .as_stream_mut()
            .unwrap()
            .dict
            .set("Resources", res.clone());
        doc.get_dictionary_mut(page).unwrap().set("Resources", res);
        assert_eq!(colour_used(&doc), None);
    }

    fn jpeg(pixel: impl Fn(usize, usize) -> [u8; 3]) -> Vec<u8> {
        let (w, h) = (240usize, 160usize);
        let data: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .flat_map(|(x, y)| pixel(x, y))
            .collect();
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 85)
            .encode(&data, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        out
    }

    #[test]
    fn rgb_jpegs_are_judged_by_their_pixels_at_an_eighth_of_their_size() {
        // A scanned letter saved as colour: grey text on white.
        let grey = jpeg(|x, y| {
            if (x / 6 + y / 9) % 3 == 0 {
                [40, 40, 40]
            } else {
                [250, 250, 250]
            }
        });
        assert_eq!(jpeg_has_colour(&grey).ok(), Some(false));
        // The same with a red stamp in a corner.
        let stamp = jpeg(|x, y| {
            if x < 40 && y < 30 {
                [200, 20, 20]
            } else {
                [250, 250, 250]
            }
        });
        assert_eq!(jpeg_has_colour(&stamp).ok(), Some(true));
        // A JPEG that does not decode is unknown, never colour.
        assert!(jpeg_has_colour(b"\xFF\xD8\xFF\xD9").is_err());
    }

    #[test]
    fn a_palette_whose_base_is_itself_is_unknown_not_a_stack_overflow() {
        let mut doc = pdf_with("/CS0 cs 0 scn 0 0 10 10 re f", Dictionary::new());
        let space = doc.new_object_id();
        doc.objects.insert(
            space,
            Object::Array(vec![
                Object::Name(b"Indexed".to_vec()),
                Object::Reference(space),
                Object::Integer(0),
                Object::String(vec![0, 0, 0], lopdf::StringFormat::Hexadecimal),
            ]),
        );
        let page = doc.page_iter().next().unwrap();
        doc.get_dictionary_mut(page).unwrap().set(
            "Resources",
            dictionary! { "ColorSpace" => dictionary! { "CS0" => space } },
        );
        assert_eq!(colour_used(&doc), None);
    }

    #[test]
    fn a_palette_that_inflates_past_its_largest_size_is_unknown() {
        use std::io::Write;
        let deflate = |data: &[u8]| {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        // 64 MB of zeros, compressed twice: a few kilobytes.
        let bomb = deflate(&deflate(&vec![0u8; 64 * 1024 * 1024]));
        assert!(bomb.len() < 64 * 1024);
        let mut doc = pdf_with("/CS0 cs 0 scn 0 0 10 10 re f", Dictionary::new());
        let lookup = doc.add_object(Stream::new(
            dictionary! { "Filter" => vec![Object::Name(b"FlateDecode".to_vec()), Object::Name(b"FlateDecode".to_vec())] },
            bomb,
        ));
        let page = doc.page_iter().next().unwrap();
        doc.get_dictionary_mut(page).unwrap().set(
            "Resources",
            dictionary! { "ColorSpace" => dictionary! { "CS0" => vec![Object::Name(b"Indexed".to_vec()), Object::Name(b"DeviceRGB".to_vec()), 255.into(), lookup.into()] } },
        );
        assert_eq!(colour_used(&doc), None);
    }

    #[test]
    fn forms_fanning_out_exhaust_the_budget_instead_of_the_processor() {
        // Each form draws the next one 40 times, five deep: 40^5 walks without a budget.
        let mut doc = pdf_with("/F0 Do", Dictionary::new());
        let mut next: Option<ObjectId> = None;
        for _ in 0..5 {
            let draws = "/F0 Do ".repeat(40);
            let resources = match next {
                Some(id) => dictionary! { "XObject" => dictionary! { "F0" => id } },
                None => Dictionary::new(),
            };
            next = Some(doc.add_object(Stream::new(
                dictionary! { "Type" => "XObject", "Subtype" => "Form", "Resources" => resources },
                if next.is_some() {
                    draws.into_bytes()
                } else {
                    b"0 g".to_vec()
                },
            )));
        }
        let page = doc.page_iter().next().unwrap();
        doc.get_dictionary_mut(page).unwrap().set(
            "Resources",
            dictionary! { "XObject" => dictionary! { "F0" => next.unwrap() } },
        );
        let started = std::time::Instant::now();
        assert_eq!(colour_used(&doc), None);
        assert!(started.elapsed() < MAX_TIME + Duration::from_secs(5));
    }
}
