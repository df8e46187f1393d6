//! Personal data found by its shape, without registration: IMEI-shaped numbers (15 digits,
//! valid Luhn check digit), e-mail addresses, E.164-style phone numbers, and latitude /
//! longitude pairs. Small hand-written scanners, each linear in the input.

use crate::plugin::PiiKind;
use crate::policy::GenericPii;

/// A shape-based match in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeMatch {
    /// What it looks like.
    pub kind: PiiKind,
    /// Where it starts.
    pub start: usize,
    /// Where it ends (exclusive).
    pub end: usize,
}

/// Every match of the `kinds` asked for in `bytes`, by kind then position.
pub fn scan(bytes: &[u8], kinds: &[GenericPii]) -> Vec<ShapeMatch> {
    let mut out = Vec::new();
    for kind in kinds {
        match kind {
            GenericPii::Imei => imeis(bytes, &mut out),
            GenericPii::Email => emails(bytes, &mut out),
            GenericPii::Phone => phones(bytes, &mut out),
            GenericPii::Location => locations(bytes, &mut out),
        }
    }
    out
}

/// Whether the digits pass the Luhn check (the last digit checks the others).
pub fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        if !d.is_ascii_digit() {
            return false;
        }
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    !digits.is_empty() && sum % 10 == 0
}

/// Runs of exactly 15 digits with a valid Luhn check digit.
fn imeis(bytes: &[u8], out: &mut Vec<ShapeMatch>) {
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let run = &bytes[start..i];
        if run.len() == 15 && luhn_valid(run) && run.iter().any(|d| *d != run[0]) {
            out.push(ShapeMatch {
                kind: PiiKind::Imei,
                start,
                end: i,
            });
        }
    }
}

fn local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// `local@domain.tld` with a 2+ letter top-level label.
fn emails(bytes: &[u8], out: &mut Vec<ShapeMatch>) {
    let mut resume = 0;
    for at in memchr::memchr_iter(b'@', bytes) {
        if at < resume {
            continue;
        }
        let mut start = at;
        while start > resume && at - start < 64 && local_char(bytes[start - 1]) {
            start -= 1;
        }
        while start < at && matches!(bytes[start], b'.' | b'+' | b'-' | b'%') {
            start += 1;
        }
        let mut end = at + 1;
        while end < bytes.len() && end - at <= 253 && domain_char(bytes[end]) {
            end += 1;
        }
        while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let domain = &bytes[at + 1..end];
        let tld = domain.rsplit(|b| *b == b'.').next().unwrap_or_default();
        let dotted = domain.contains(&b'.') && !domain.starts_with(b".");
        if start < at && dotted && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic) {
            out.push(ShapeMatch {
                kind: PiiKind::Email,
                start,
                end,
            });
            resume = end;
        }
    }
}

/// `+` and 8 to 15 digits (the first not 0), with at most two spaces, dots, dashes or
/// parentheses in a row between them, not glued to letters or digits on either side.
fn phones(bytes: &[u8], out: &mut Vec<ShapeMatch>) {
    let mut resume = 0;
    for i in memchr::memchr_iter(b'+', bytes) {
        if i < resume || (i > 0 && bytes[i - 1].is_ascii_alphanumeric()) {
            continue;
        }
        let start = i;
        let (mut j, mut digits, mut last_digit_end, mut separators) = (i + 1, 0, i + 1, 0);
        while j < bytes.len() && digits <= 15 {
            let b = bytes[j];
            if b.is_ascii_digit() {
                if digits == 0 && b == b'0' {
                    break;
                }
                digits += 1;
                last_digit_end = j + 1;
                separators = 0;
            } else if matches!(b, b' ' | b'-' | b'.' | b'(' | b')') && separators < 2 {
                separators += 1;
            } else {
                break;
            }
            j += 1;
        }
        let glued = bytes
            .get(last_digit_end)
            .is_some_and(|b| b.is_ascii_alphanumeric());
        if (8..=15).contains(&digits) && !glued {
            out.push(ShapeMatch {
                kind: PiiKind::Phone,
                start,
                end: last_digit_end,
            });
            resume = last_digit_end;
        }
    }
}

/// How far after a latitude its longitude may follow.
const PAIR_WINDOW: usize = 96;

/// `lat=47.37&lon=8.54`, `"latitude": 47.37, "longitude": 8.54` and the like: a latitude
/// key and value, then within [`PAIR_WINDOW`] bytes a longitude key and value, both
/// values with at least two decimals and within range.
fn locations(bytes: &[u8], out: &mut Vec<ShapeMatch>) {
    let mut resume = 0;
    for i in memchr::memchr2_iter(b'l', b'L', bytes) {
        if i < resume {
            continue;
        }
        let Some(after_lat) = key_value(bytes, i, &[b"latitude", b"lat"], 90.0) else {
            continue;
        };
        let window_end = after_lat.saturating_add(PAIR_WINDOW).min(bytes.len());
        let lon = memchr::memchr2_iter(b'l', b'L', &bytes[after_lat..window_end]).find_map(|j| {
            key_value(
                bytes,
                after_lat + j,
                &[b"longitude", b"long", b"lon", b"lng"],
                180.0,
            )
        });
        match lon {
            Some(end) => {
                out.push(ShapeMatch {
                    kind: PiiKind::Location,
                    start: i,
                    end,
                });
                resume = end;
            }
            None => resume = after_lat,
        }
    }
}

/// At `at`, one of `keys` (ASCII case ignored, not preceded by a letter or digit), an
/// optional closing quote, `=` or `:`, optional spaces and quote, and a decimal number of
/// magnitude at most `limit` with 2+ decimals. Returns the end of the number.
fn key_value(bytes: &[u8], at: usize, keys: &[&[u8]], limit: f64) -> Option<usize> {
    if at > 0 && bytes[at - 1].is_ascii_alphanumeric() {
        return None;
    }
    let rest = bytes.get(at..)?;
    let key = keys
        .iter()
        .find(|k| rest.len() >= k.len() && rest[..k.len()].eq_ignore_ascii_case(k))?;
    let mut j = at + key.len();
    if bytes.get(j).is_some_and(|b| matches!(b, b'"' | b'\'')) {
        j += 1;
    }
    j = skip_spaces(bytes, j);
    if !bytes.get(j).is_some_and(|b| matches!(b, b'=' | b':')) {
        return None;
    }
    j = skip_spaces(bytes, j + 1);
    if bytes.get(j).is_some_and(|b| matches!(b, b'"' | b'\'')) {
        j += 1;
    }
    number(bytes, j, limit)
}

fn skip_spaces(bytes: &[u8], mut j: usize) -> usize {
    while bytes.get(j) == Some(&b' ') {
        j += 1;
    }
    j
}

/// A decimal `-?D{1,3}.D{2,}` at `at` within `±limit`; returns its end.
fn number(bytes: &[u8], at: usize, limit: f64) -> Option<usize> {
    let mut j = at;
    if bytes.get(j) == Some(&b'-') {
        j += 1;
    }
    let int_start = j;
    while bytes.get(j).is_some_and(u8::is_ascii_digit) && j - int_start <= 3 {
        j += 1;
    }
    let int_len = j - int_start;
    if !(1..=3).contains(&int_len) || bytes.get(j) != Some(&b'.') {
        return None;
    }
    j += 1;
    let frac_start = j;
    while bytes.get(j).is_some_and(u8::is_ascii_digit) && j - frac_start < 20 {
        j += 1;
    }
    if j - frac_start < 2 {
        return None;
    }
    let text = std::str::from_utf8(bytes.get(at..j)?).ok()?;
    let value: f64 = text.parse().ok()?;
    (value.abs() <= limit).then_some(j)
}

#[cfg(test)]
#[path = "generic_tests.rs"]
mod tests;
