//! Decoded views of a payload for the shape-based detectors: the payload percent-decoded,
//! and each run of base64 characters decoded. Each input byte is looked at a bounded number
//! of times, and the views together are no larger than the payload.

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;

/// Shortest run of base64 characters worth decoding (12 decoded bytes).
pub const MIN_BASE64_RUN: usize = 16;

/// `bytes` with every `%XX` escape decoded, or `None` when there is none.
pub fn percent_decoded(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|h| hex_value(*h));
            let lo = bytes.get(i + 2).and_then(|l| hex_value(*l));
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                changed = true;
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Every run of at least [`MIN_BASE64_RUN`] base64 characters (one alphabet, standard or
/// URL-safe) that decodes to mostly printable text, decoded.
pub fn base64_runs(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !is_base64_char(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_base64_char(bytes[i]) {
            i += 1;
        }
        if let Some(decoded) = decode_run(&bytes[start..i]) {
            out.push(decoded);
        }
    }
    out
}

fn is_base64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
}

/// One run decoded, when it is long enough, uses one alphabet, and decodes to text.
fn decode_run(run: &[u8]) -> Option<Vec<u8>> {
    if run.len() < MIN_BASE64_RUN {
        return None;
    }
    let standard = run.iter().any(|b| matches!(b, b'+' | b'/'));
    let url_safe = run.iter().any(|b| matches!(b, b'-' | b'_'));
    let whole = &run[..run.len() - run.len() % 4];
    let engine = match (standard, url_safe) {
        (true, true) => return None,
        (false, true) => &URL_SAFE_NO_PAD,
        _ => &STANDARD_NO_PAD,
    };
    // The whole run when its last characters decode cleanly, else its complete quads.
    let decoded = engine.decode(run).or_else(|_| engine.decode(whole)).ok()?;
    let printable = decoded
        .iter()
        .filter(|b| (0x20..=0x7e).contains(*b) || matches!(b, b'\n' | b'\r' | b'\t'))
        .count();
    (printable * 5 >= decoded.len() * 4).then_some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;

    #[test]
    fn percent_escapes_are_decoded() {
        assert_eq!(
            percent_decoded(b"a%40b.example%2"),
            Some(b"a@b.example%2".to_vec())
        );
        assert_eq!(percent_decoded(b"plain"), None);
        assert_eq!(percent_decoded(b"%zz%"), None);
    }

    #[test]
    fn text_in_base64_runs_is_decoded() {
        let blob = STANDARD.encode(b"{\"email\":\"alice@lab.example\"}");
        let text = format!("data={blob}&x=1");
        let runs = base64_runs(text.as_bytes());
        assert_eq!(runs, [b"{\"email\":\"alice@lab.example\"}".to_vec()]);
    }

    #[test]
    fn short_binary_and_mixed_runs_are_skipped() {
        assert!(base64_runs(b"abc=def").is_empty());
        let binary = STANDARD.encode([0u8, 1, 2, 3, 200, 201, 202, 203, 4, 5, 6, 7]);
        assert!(base64_runs(binary.as_bytes()).is_empty());
        assert!(base64_runs(b"abcd+efgh_ijklmnopqrstu").is_empty());
    }

    proptest! {
        #[test]
        fn decoders_never_panic_and_stay_bounded(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let total: usize = base64_runs(&bytes).iter().map(Vec::len).sum();
            prop_assert!(total <= bytes.len());
            if let Some(d) = percent_decoded(&bytes) {
                prop_assert!(d.len() < bytes.len());
            }
        }

        #[test]
        fn encoded_text_round_trips(text in "[ -~]{12,80}", url_safe in any::<bool>()) {
            let encoded = if url_safe { URL_SAFE_NO_PAD.encode(&text) } else { STANDARD_NO_PAD.encode(&text) };
            let runs = base64_runs(encoded.as_bytes());
            prop_assert_eq!(runs.len(), 1);
            prop_assert!(text.as_bytes().starts_with(&runs[0]));
            prop_assert_eq!(runs[0].len(), text.len());
        }
    }
}
