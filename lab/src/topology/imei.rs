//! Phone IMEIs: 15 digits whose last is a Luhn check digit, written in the topology or
//! derived from the phone's place in the file, and unique in the lab.

use super::checks::Positioned;
use super::load::pos;
use super::model::TopologyFile;

/// Type Allocation Code of the IMEIs derived for phones that have none in the topology.
pub const DEFAULT_TAC: &str = "35693803";

/// Digits in an IMEI, check digit included.
const IMEI_LEN: usize = 15;

/// The Luhn check digit that completes `body`; `None` if `body` is not all ASCII digits.
pub fn luhn_digit(body: &str) -> Option<u8> {
    let mut sum = 0u32;
    // The check digit goes right of `body`, so `body`'s last digit is the first one doubled.
    for (i, c) in body.bytes().rev().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        let mut d = u32::from(c - b'0');
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    u8::try_from((10 - sum % 10) % 10).ok()
}

/// Why `imei` is not a valid IMEI, or `None` if it is one.
pub fn imei_problem(imei: &str) -> Option<String> {
    if imei.len() != IMEI_LEN || !imei.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!(
            "IMEI `{imei}` must be exactly {IMEI_LEN} ASCII digits"
        ));
    }
    let (body, check) = imei.split_at(IMEI_LEN - 1);
    let want = luhn_digit(body).unwrap_or(0);
    (check.as_bytes() != [b'0' + want])
        .then(|| format!("IMEI `{imei}` fails the Luhn check: its last digit would be {want}"))
}

/// The IMEI of the phone at `index` in a topology that gives it none: the lab's TAC, a
/// serial number from the index, and the check digit.
pub fn default_imei(index: usize) -> String {
    let body = format!("{DEFAULT_TAC}{:06}", (index + 1) % 1_000_000);
    let check = luhn_digit(&body).unwrap_or(0);
    format!("{body}{check}")
}

/// The IMEI phone `index` of the file gets, before checks.
fn imei_of(raw: &TopologyFile, index: usize) -> Option<String> {
    let p = raw.phones.get(index)?;
    Some(match &p.imei {
        Some(i) => i.value.clone(),
        None => default_imei(index),
    })
}

/// Checks the IMEI of phone `index` (its own or the derived one): valid, and no phone
/// before it in the file has it.
pub(super) fn check_imei(raw: &TopologyFile, index: usize) -> Result<String, Positioned> {
    let Some(p) = raw.phones.get(index) else {
        return Err(((0, 0), format!("no phone number {index}")));
    };
    let at = p.imei.as_ref().map_or(pos(&p.name), pos);
    let imei = imei_of(raw, index).unwrap_or_default();
    if let Some(problem) = imei_problem(&imei) {
        return Err((at, problem));
    }
    // Reported at the later phone, as other duplicates are.
    let twin = (0..index).find(|&j| imei_of(raw, j).as_deref() == Some(imei.as_str()));
    if let Some(j) = twin {
        let other = &raw.phones[j].name.value;
        return Err((at, format!("IMEI {imei} is also phone `{other}`'s")));
    }
    Ok(imei)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_imeis_pass_the_luhn_check() {
        // The example IMEI of the GSMA's and Wikipedia's explanations of the check digit.
        assert_eq!(luhn_digit("49015420323751"), Some(8));
        assert_eq!(imei_problem("490154203237518"), None);
        assert_eq!(luhn_digit("4901542032375x"), None);
    }

    #[test]
    fn bad_lengths_digits_and_check_digits_are_named() {
        let short = imei_problem("49015420323751").expect("14 digits");
        assert!(short.contains("exactly 15"), "{short}");
        let letters = imei_problem("49015420323751A").expect("a letter");
        assert!(letters.contains("digits"), "{letters}");
        let luhn = imei_problem("490154203237519").expect("wrong check digit");
        assert!(luhn.contains("Luhn") && luhn.ends_with('8'), "{luhn}");
    }

    #[test]
    fn derived_imeis_are_valid_and_unique() {
        let all: Vec<String> = (0..2000).map(default_imei).collect();
        for imei in &all {
            assert_eq!(imei_problem(imei), None, "{imei}");
            assert!(imei.starts_with(DEFAULT_TAC), "{imei}");
        }
        let unique: std::collections::HashSet<&String> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
        assert_eq!(default_imei(0), default_imei(0), "deterministic");
    }
}
