//! Fuzzes the driver-profile parser (TOML files IT drops in `drivers_dir`): any text must load
//! or be refused with a message naming the problem, never panic.
#![no_main]

use folio::drivers::DriverProfile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match DriverProfile::parse(text) {
        Ok(profile) => {
            assert!(!profile.name.trim().is_empty());
            assert!(!profile.protocols.is_empty());
            assert!(!profile.formats.is_empty());
        }
        Err(message) => assert!(!message.is_empty(), "a refusal says why"),
    }
});
