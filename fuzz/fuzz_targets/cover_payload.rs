//! Fuzzes the cover-sheet payload parser (what a barcode on a scanned page decodes to): any
//! text must parse or be refused with a reason, never panic; a payload that parses names a
//! valid sheet, and printing that sheet again gives a payload that reads back the same.
#![no_main]

use folio::archive::cover::CoverSheet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sheet) = CoverSheet::parse(text) {
        assert!(!sheet.patient.is_empty(), "a cover sheet names its patient");
        let again = CoverSheet::parse(&sheet.payload()).expect("our own payload parses");
        assert_eq!(again, sheet);
    }
});
