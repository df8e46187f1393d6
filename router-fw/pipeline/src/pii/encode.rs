//! The forms a registered value may take on the wire: itself and its case/digit variants,
//! percent-encoded, hex, base64 at every alignment, and its MD5/SHA-1/SHA-256 digests in hex
//! and base64. Computed once per device; each form is one needle of the search.

use crate::plugin::{Encoding, PiiKind};
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use md5::{Digest, Md5};
use ring::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY, SHA256};

/// Shortest base64 fragment searched for: shorter ones match random base64 too often.
pub const MIN_BASE64_FRAGMENT: usize = 8;

/// One searchable form of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// The bytes to search for.
    pub needle: Vec<u8>,
    /// How the value was encoded.
    pub encoding: Encoding,
    /// The exact form, in words.
    pub form: String,
}

/// Every form of `value`, most literal first; forms with equal bytes are kept once.
pub fn forms(value: &str, kind: PiiKind) -> Vec<Form> {
    let mut out: Vec<Form> = Vec::new();
    let mut push = |needle: Vec<u8>, encoding: Encoding, form: String| {
        if !needle.is_empty() && !out.iter().any(|f| f.needle == needle) {
            out.push(Form {
                needle,
                encoding,
                form,
            });
        }
    };
    let variants = variants(value, kind);
    for (text, variant) in &variants {
        let named = |what: &str| join(variant, what);
        push(text.as_bytes().to_vec(), Encoding::Plain, named("plain"));
        for (encoded, what) in percent_forms(text.as_bytes()) {
            push(encoded, Encoding::Url, named(what));
        }
        push(
            hex(text.as_bytes(), false),
            Encoding::Hex,
            named("lowercase hex"),
        );
        push(
            hex(text.as_bytes(), true),
            Encoding::Hex,
            named("uppercase hex"),
        );
    }
    for (text, variant) in &variants {
        for fragment in base64_fragments(text.as_bytes(), false) {
            push(fragment, Encoding::Base64, join(variant, "base64"));
        }
        for fragment in base64_fragments(text.as_bytes(), true) {
            push(fragment, Encoding::Base64, join(variant, "base64 url-safe"));
        }
    }
    for (text, variant) in &variants {
        for (digest, encoding, name) in digests(text.as_bytes()) {
            let named = |what: &str| join(variant, &format!("{name} {what}"));
            push(hex(&digest, false), encoding, named("lowercase hex"));
            push(hex(&digest, true), encoding, named("uppercase hex"));
            let b64 = STANDARD_NO_PAD.encode(&digest).into_bytes();
            push(b64, encoding, named("base64"));
            let b64url = URL_SAFE_NO_PAD.encode(&digest).into_bytes();
            push(b64url, encoding, named("base64 url-safe"));
        }
    }
    out
}

/// `variant, what`, or `what` alone for the value as registered.
fn join(variant: &str, what: &str) -> String {
    if variant.is_empty() {
        what.to_string()
    } else {
        format!("{variant}, {what}")
    }
}

/// The value as registered, and the variants apps commonly send of its kind: other letter
/// cases of identifiers and e-mail addresses, phone numbers without separators or `+`.
fn variants(value: &str, kind: PiiKind) -> Vec<(String, &'static str)> {
    let mut out = vec![(value.to_string(), "")];
    let mut add = |text: String, name: &'static str| {
        if !text.is_empty() && !out.iter().any(|(t, _)| *t == text) {
            out.push((text, name));
        }
    };
    match kind {
        PiiKind::Imei | PiiKind::AndroidId | PiiKind::AdvertisingId | PiiKind::Email => {
            add(value.to_ascii_lowercase(), "lowercased");
            add(value.to_ascii_uppercase(), "uppercased");
        }
        PiiKind::Phone => {
            let compact: String = value
                .chars()
                .filter(|c| *c == '+' || c.is_ascii_digit())
                .collect();
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            add(compact, "without separators");
            add(digits, "digits only");
        }
        PiiKind::Password | PiiKind::Location | PiiKind::Other => {}
    }
    out
}

/// Percent-encodings of `bytes` that differ from it: RFC 3986 with upper- and lowercase
/// hex digits, HTML-form encoding (space as `+`), and every byte escaped (an obfuscation
/// some SDKs use; the only percent form of an all-digit value such as an IMEI).
fn percent_forms(bytes: &[u8]) -> Vec<(Vec<u8>, &'static str)> {
    let encode = |upper: bool, form: bool, every: bool| {
        let mut out = Vec::with_capacity(bytes.len() * 3);
        for &b in bytes {
            if unreserved(b) && !every {
                out.push(b);
            } else if form && b == b' ' {
                out.push(b'+');
            } else {
                out.push(b'%');
                out.extend_from_slice(&hex(&[b], upper));
            }
        }
        out
    };
    let mut out = vec![
        (encode(true, false, true), "percent-encoded, every byte"),
        (
            encode(false, false, true),
            "percent-encoded, every byte, lowercase hex",
        ),
    ];
    if !bytes.iter().all(|b| unreserved(*b)) {
        out.insert(0, (encode(true, true, false), "form-encoded"));
        out.insert(
            0,
            (
                encode(false, false, false),
                "percent-encoded, lowercase hex",
            ),
        );
        out.insert(0, (encode(true, false, false), "percent-encoded"));
    }
    out
}

/// RFC 3986's unreserved characters, which percent-encoding leaves alone.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Hex digits of `bytes`.
pub fn hex(bytes: &[u8], upper: bool) -> Vec<u8> {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(digits[usize::from(b >> 4)]);
        out.push(digits[usize::from(b & 0x0f)]);
    }
    out
}

/// The base64 characters that encode `bytes` whatever surrounds them, for each of the three
/// positions `bytes` can start at within a 3-byte group: characters that mix in a
/// neighbouring byte's bits are cut off. Fragments shorter than [`MIN_BASE64_FRAGMENT`]
/// are left out.
pub fn base64_fragments(bytes: &[u8], url_safe: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for offset in 0..3usize {
        let mut padded = vec![0u8; offset];
        padded.extend_from_slice(bytes);
        let encoded = if url_safe {
            URL_SAFE_NO_PAD.encode(&padded)
        } else {
            STANDARD_NO_PAD.encode(&padded)
        };
        // Character i carries bits [6i, 6i + 6): keep those entirely inside `bytes`.
        let start = (offset * 8).div_ceil(6);
        let end = (padded.len() * 8) / 6;
        if let Some(fragment) = encoded.as_bytes().get(start..end) {
            if fragment.len() >= MIN_BASE64_FRAGMENT && !out.iter().any(|f| f == fragment) {
                out.push(fragment.to_vec());
            }
        }
    }
    out
}

/// MD5, SHA-1 and SHA-256 of `bytes`.
fn digests(bytes: &[u8]) -> [(Vec<u8>, Encoding, &'static str); 3] {
    [
        (Md5::digest(bytes).to_vec(), Encoding::Md5, "md5"),
        (
            digest(&SHA1_FOR_LEGACY_USE_ONLY, bytes).as_ref().to_vec(),
            Encoding::Sha1,
            "sha1",
        ),
        (
            digest(&SHA256, bytes).as_ref().to_vec(),
            Encoding::Sha256,
            "sha256",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;

    fn find(forms: &[Form], encoding: Encoding) -> Vec<String> {
        forms
            .iter()
            .filter(|f| f.encoding == encoding)
            .map(|f| String::from_utf8_lossy(&f.needle).into_owned())
            .collect()
    }

    #[test]
    fn digests_match_known_values() {
        let f = forms("abc", PiiKind::Other);
        let md5 = find(&f, Encoding::Md5);
        assert!(md5.contains(&"900150983cd24fb0d6963f7d28e17f72".to_string()));
        assert!(md5.contains(&"900150983CD24FB0D6963F7D28E17F72".to_string()));
        let sha1 = find(&f, Encoding::Sha1);
        assert!(sha1.contains(&"a9993e364706816aba3e25717850c26c9cd0d89d".to_string()));
        assert!(sha1.contains(&"qZk+NkcGgWq6PiVxeFDCbJzQ2J0".to_string()));
        let sha256 = find(&f, Encoding::Sha256);
        assert!(sha256.contains(
            &"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_string()
        ));
    }

    #[test]
    fn percent_forms_escape_what_needs_it_or_every_byte() {
        let url = find(&forms("123456", PiiKind::Other), Encoding::Url);
        assert_eq!(url, ["%31%32%33%34%35%36"]);
        let url = find(&forms("a b@c.example", PiiKind::Other), Encoding::Url);
        assert_eq!(url[..2], ["a%20b%40c.example", "a+b%40c.example"]);
        let url = find(&forms("x+y@q.example", PiiKind::Other), Encoding::Url);
        assert!(url.contains(&"x%2By%40q.example".to_string()));
        assert!(url.contains(&"x%2by%40q.example".to_string()));
    }

    #[test]
    fn phone_numbers_come_with_separators_removed() {
        let plain = find(&forms("+41 79 123 45 67", PiiKind::Phone), Encoding::Plain);
        assert_eq!(plain, ["+41 79 123 45 67", "+41791234567", "41791234567"]);
    }

    #[test]
    fn identifiers_come_in_both_cases() {
        let plain = find(
            &forms("9774d56d682e549c", PiiKind::AndroidId),
            Encoding::Plain,
        );
        assert_eq!(plain, ["9774d56d682e549c", "9774D56D682E549C"]);
        let plain = find(&forms("Secret", PiiKind::Password), Encoding::Plain);
        assert_eq!(plain, ["Secret"]);
    }

    proptest! {
        /// Whatever comes before and after a value, its standard base64 encoding contains
        /// one of the value's fragments.
        #[test]
        fn a_fragment_is_found_at_any_alignment(
            value in proptest::collection::vec(any::<u8>(), 7..40),
            before in proptest::collection::vec(any::<u8>(), 0..7),
            after in proptest::collection::vec(any::<u8>(), 0..7),
            url_safe in any::<bool>(),
        ) {
            let whole = [before.clone(), value.clone(), after].concat();
            let encoded = if url_safe { URL_SAFE_NO_PAD.encode(&whole) } else { STANDARD.encode(&whole) };
            let fragments = base64_fragments(&value, url_safe);
            prop_assert!(!fragments.is_empty());
            prop_assert!(fragments.iter().any(|f| encoded.as_bytes().windows(f.len()).any(|w| w == f.as_slice())));
        }
    }
}
