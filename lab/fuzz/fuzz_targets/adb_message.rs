//! The emulated phone's ADB message decoder on arbitrary bytes: whole and in pieces, with
//! and without checksums. It must return messages or an error, never panic or over-allocate.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    matador_lab::phone::adb::fuzz_decode(data);
});
