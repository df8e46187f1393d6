#![no_main]
//! The HTTP/1.x request reader (Host, User-Agent).

use libfuzzer_sys::fuzz_target;
use matador_probe::flows::names::http::parse_request;

fuzz_target!(|data: &[u8]| {
    let _ = parse_request(data);
});
