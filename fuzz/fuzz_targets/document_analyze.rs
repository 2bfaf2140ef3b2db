//! Fuzzes document analysis (format sniffing, PDF, PWG raster, URF, JPEG): any bytes must
//! yield an analysis or a clear error, never a panic.
#![no_main]

use folio::document::analyze;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = analyze(None, data);
});
