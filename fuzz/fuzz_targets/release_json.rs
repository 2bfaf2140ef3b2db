//! Fuzzes the release API's request bodies (what a copier's terminal app posts): any bytes
//! must be read or refused with a 4xx, never panic, and a selection of jobs read from a body
//! holds exactly the ids the body lists.
#![no_main]

use folio::release::Selection;
use folio::web::release::{parse_jobs, parse_start};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = parse_start(data) {
        assert!(e.status.is_client_error());
    }
    match parse_jobs(data) {
        Ok(Selection::Jobs(ids)) => {
            let v: serde_json::Value = serde_json::from_slice(data).expect("it parsed once");
            // serde reads a struct from an object or from an array of its fields.
            let listed = if v.is_array() { &v[0] } else { &v["jobs"] };
            assert_eq!(listed.as_array().map(Vec::len), Some(ids.len()));
        }
        Ok(Selection::All) => {}
        Err(e) => assert!(e.status.is_client_error()),
    }
});
