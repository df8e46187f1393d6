//! Evidence for a report: a short excerpt around a match, the matched value masked but for a
//! few characters, every byte outside printable ASCII escaped.

/// Bytes of context kept on each side of a match.
pub const CONTEXT: usize = 16;
/// Most masking characters written for one value, whatever its length.
const MAX_STARS: usize = 8;

/// The excerpt of `hay` around `start..end`, the match masked.
pub fn excerpt(hay: &[u8], start: usize, end: usize) -> String {
    let end = end.min(hay.len());
    let start = start.min(end);
    let from = start.saturating_sub(CONTEXT);
    let to = end.saturating_add(CONTEXT).min(hay.len());
    let mut out = String::new();
    if from > 0 {
        out.push_str("...");
    }
    escape_into(&hay[from..start], &mut out);
    out.push('[');
    out.push_str(&mask(&hay[start..end]));
    out.push(']');
    escape_into(&hay[end..to], &mut out);
    if to < hay.len() {
        out.push_str("...");
    }
    out
}

/// `value` with all but its first and last few bytes replaced by `*`.
pub fn mask(value: &[u8]) -> String {
    let keep = match value.len() {
        0..=5 => 0,
        6..=11 => 1,
        _ => 2,
    };
    let mut out = String::new();
    escape_into(&value[..keep], &mut out);
    let hidden = value.len() - 2 * keep;
    out.push_str(&"*".repeat(hidden.clamp(1, MAX_STARS)));
    escape_into(&value[value.len() - keep..], &mut out);
    out
}

/// Appends `bytes` to `out`, printable ASCII as is (`\` and `[` `]` escaped so the mask
/// brackets stay unambiguous), everything else as `\n`, `\r`, `\t` or `\xNN`.
pub fn escape_into(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'[' => out.push_str("\\["),
            b']' => out.push_str("\\]"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_value_is_masked_and_the_context_kept() {
        let hay = b"GET /t?imei=490154203237518&v=1 HTTP/1.1";
        let start = 12;
        let e = excerpt(hay, start, start + 15);
        assert_eq!(e, "GET /t?imei=[49********18]&v=1 HTTP/1.1");
    }

    #[test]
    fn long_context_is_cut_and_bytes_escaped() {
        let mut hay = vec![b'a'; 40];
        hay.extend_from_slice(b"\x00secret-value\n");
        hay.extend_from_slice(&[b'z'; 40]);
        let e = excerpt(&hay, 41, 53);
        let expected = format!("...{}\\x00[se********ue]\\nzzz", "a".repeat(15));
        assert!(e.starts_with(&expected), "{e}");
        assert!(e.ends_with("zzz..."));
    }

    #[test]
    fn short_values_are_masked_whole() {
        assert_eq!(mask(b"abc"), "***");
        assert_eq!(mask(b"abcdefg"), "a*****g");
        assert_eq!(mask(b""), "*");
    }

    proptest! {
        #[test]
        fn excerpts_are_printable_and_never_show_a_long_value(
            before in proptest::collection::vec(any::<u8>(), 0..40),
            value in "[a-z0-9]{12,40}",
            after in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let hay = [before.clone(), value.clone().into_bytes(), after].concat();
            let e = excerpt(&hay, before.len(), before.len() + value.len());
            prop_assert!(e.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert!(!e.contains(&value[2..value.len() - 2]));
        }

        #[test]
        fn out_of_range_spans_do_not_panic(
            hay in proptest::collection::vec(any::<u8>(), 0..64),
            start in 0usize..100,
            len in 0usize..100,
        ) {
            let _ = excerpt(&hay, start, start + len);
        }
    }
}
