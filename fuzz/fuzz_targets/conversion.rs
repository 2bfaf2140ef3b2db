//! Fuzzes what Folio makes out of untrusted documents: the watermark stamped on a print job's
//! PDF at release, and the sealed rendition of a scanned master (PDF, TIFF or JPEG pages carried
//! into a new PDF). The first byte picks the path. Any input must give a document or a clear
//! error, never a panic.
#![no_main]

use folio::archive::seal::{rendition, Meta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 4 {
        0 => {
            let _ = folio::document::watermark::stamp(rest, "Imprimé par alice le 07/12/2026");
        }
        m => {
            let format = ["pdf", "tiff", "jpeg"][(m - 1) as usize];
            let meta = Meta {
                document: "d".into(),
                patient: "P1".into(),
                encounter: String::new(),
                category: "CR".into(),
                category_label: "Compte rendu".into(),
                operator: "alice".into(),
                device: "copier".into(),
                captured_at: "2026-12-07T10:00:00Z".into(),
                master_sha256: String::new(),
                page_map: vec![1, 2],
            };
            if folio::archive::validate::measure(rest).is_ok() {
                let _ = rendition(rest, format, &[0, 1], &meta);
            }
        }
    }
});
