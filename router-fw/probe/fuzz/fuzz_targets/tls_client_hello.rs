#![no_main]
//! The TLS ClientHello reader: as a client's first TCP bytes (records) and as a bare
//! handshake message (QUIC CRYPTO data).

use libfuzzer_sys::fuzz_target;
use matador_probe::flows::names::tls::{client_hello_in_records, parse_client_hello};

fuzz_target!(|data: &[u8]| {
    let mut scratch = Vec::new();
    let _ = client_hello_in_records(data, &mut scratch);
    let _ = parse_client_hello(data);
});
