//! Fuzzes Folio's IPP request decoder: any bytes must decode or fail cleanly, never panic,
//! and whatever decodes must survive being encoded and decoded again.
#![no_main]

use folio::ipp::wire::{decode, encode, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((req, used)) = decode(data) {
        assert!(used <= data.len());
        let again = encode(&Response {
            version: req.version,
            status: req.operation,
            request_id: req.request_id,
            groups: req.groups.clone(),
        });
        let (back, _) = decode(&again).expect("our own encoding decodes");
        assert_eq!(back.groups.len(), req.groups.len());
    }
});
