//! The captures checked in under `tests/data/` (used by the CLI tests and as fuzz seeds) are
//! exactly what the corpus generator makes, and extract to the names they were made with.

mod support;

use matador_probe::flows::{extract, ExtractConfig};

#[test]
fn checked_in_captures_match_the_generator() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut seen = 0;
    for case in support::corpus::all() {
        let Ok(bytes) = std::fs::read(dir.join(case.name)) else {
            continue;
        };
        assert!(
            bytes == case.bytes,
            "tests/data/{} differs from the generator: copy it from a corpus written by \
             `MATADOR_CORPUS_DIR=DIR cargo test -p matador-probe --test tshark`",
            case.name
        );
        let x = extract(&bytes[..], &ExtractConfig::default()).unwrap();
        assert!(x.flows.iter().any(|f| f.name.is_some()), "{}", case.name);
        seen += 1;
    }
    assert_eq!(seen, 4, "checked-in captures");
}
