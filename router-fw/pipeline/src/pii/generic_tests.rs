//! Tests of the shape-based detectors.

use super::*;
use proptest::prelude::*;

fn found(text: &str, kind: GenericPii) -> Vec<&str> {
    scan(text.as_bytes(), &[kind])
        .into_iter()
        .map(|m| &text[m.start..m.end])
        .collect()
}

/// The digit that makes `digits` (14 of them) Luhn-valid.
fn check_digit(digits: &str) -> char {
    (b'0'..=b'9')
        .map(char::from)
        .find(|c| luhn_valid(format!("{digits}{c}").as_bytes()))
        .unwrap_or('x')
}

#[test]
fn luhn_checks_known_numbers() {
    assert!(luhn_valid(b"490154203237518"));
    assert!(!luhn_valid(b"490154203237519"));
    assert!(luhn_valid(b"79927398713"));
    assert!(!luhn_valid(b""));
    assert!(!luhn_valid(b"12a4"));
}

#[test]
fn imeis_are_fifteen_luhn_valid_digits() {
    let text = "a=490154203237518&b=4901542032375180&c=490154203237519&d=000000000000000";
    assert_eq!(found(text, GenericPii::Imei), ["490154203237518"]);
}

#[test]
fn emails_are_found_with_their_boundaries() {
    let text =
        r#"{"user":"alice.smith+lab@mail.example.org","x":"@no","y":"a@b","z":"..bob@x.io."}"#;
    assert_eq!(
        found(text, GenericPii::Email),
        ["alice.smith+lab@mail.example.org", "bob@x.io"]
    );
    assert!(found("user@localhost and @@ and a@b.c1", GenericPii::Email).is_empty());
}

#[test]
fn phone_numbers_need_a_plus_and_eight_to_fifteen_digits() {
    let text =
        "tel=+41 79 123 45 67&x=+1234567&y=a+41791234567&z=+0041791234567&w=+4179123456789012";
    assert_eq!(found(text, GenericPii::Phone), ["+41 79 123 45 67"]);
    assert_eq!(
        found("call +1 (555) 010-4477.", GenericPii::Phone),
        ["+1 (555) 010-4477"]
    );
}

#[test]
fn location_pairs_in_queries_and_json() {
    assert_eq!(
        found("GET /w?lat=47.3769&lon=8.5417&k=1", GenericPii::Location),
        ["lat=47.3769&lon=8.5417"]
    );
    assert_eq!(
        found(
            r#"{"Latitude": "-33.8688", "acc": 5, "longitude": "151.2093"}"#,
            GenericPii::Location
        ),
        [r#"Latitude": "-33.8688", "acc": 5, "longitude": "151.2093"#]
    );
    assert_eq!(
        found("lat=47.37,lng=8.54", GenericPii::Location),
        ["lat=47.37,lng=8.54"]
    );
}

#[test]
fn non_locations_are_ignored() {
    for text in [
        "lat=47&lon=8",
        "lat=97.12&lon=8.54",
        "lat=47.12&lon=190.54",
        "flat=47.12&lon=8.54",
        "lat=47.12",
        "latency=47.12&lon=8.54",
    ] {
        assert!(found(text, GenericPii::Location).is_empty(), "{text}");
    }
}

proptest! {
    #[test]
    fn scanners_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let all = [GenericPii::Imei, GenericPii::Email, GenericPii::Phone, GenericPii::Location];
        for m in scan(&bytes, &all) {
            prop_assert!(m.start < m.end && m.end <= bytes.len());
        }
    }

    #[test]
    fn a_generated_imei_is_found_between_non_digits(
        body in "[0-9]{14}",
        before in "[a-z=&]{0,10}",
        after in "[a-z=&]{0,10}",
    ) {
        let imei = format!("{body}{}", check_digit(&body));
        prop_assume!(imei.bytes().any(|d| d != imei.as_bytes()[0]));
        let text = format!("{before}{imei}{after}");
        prop_assert_eq!(found(&text, GenericPii::Imei), vec![imei.as_str()]);
    }

    #[test]
    fn a_wrong_check_digit_is_not_an_imei(body in "[0-9]{14}", wrong in 1u8..10) {
        let good = check_digit(&body) as u8 - b'0';
        let bad = char::from(b'0' + (good + wrong) % 10);
        let text = format!("x={body}{bad};");
        prop_assert!(found(&text, GenericPii::Imei).is_empty());
    }

    #[test]
    fn a_generated_email_is_found(
        local in "[a-z][a-z0-9._]{0,15}[a-z0-9]",
        domain in "[a-z][a-z0-9-]{0,10}[a-z0-9]",
        tld in "[a-z]{2,6}",
    ) {
        let email = format!("{local}@{domain}.{tld}");
        let text = format!("{{\"e\":\"{email}\"}}");
        prop_assert_eq!(found(&text, GenericPii::Email), vec![email.as_str()]);
    }
}
