//! A device's registered personal values with every encoded form compiled into one
//! Aho–Corasick automaton, so a payload is searched for all of them in a single pass.

use super::encode::{forms, Form};
use crate::plugin::{Encoding, PiiKind};
use aho_corasick::{AhoCorasick, MatchKind};
use serde::{Deserialize, Serialize};

/// A value the researcher registered for a device, e.g. its IMEI or a test account's e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredValue {
    /// What kind of data it is.
    pub kind: PiiKind,
    /// The label reports name it by (`imei`, `email`, or the researcher's own).
    pub label: String,
    /// The value itself.
    pub value: String,
}

/// Why registered values could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PiiError {
    /// A value is empty after trimming.
    #[error("registered value `{0}` is empty")]
    Empty(String),
    /// The automaton could not be built (too many or too long values).
    #[error("cannot compile the registered values: {0}")]
    Build(String),
}

/// One needle of the automaton: which value, in which form.
#[derive(Debug, Clone)]
struct Needle {
    value: usize,
    encoding: Encoding,
    form: String,
}

/// A device's registered values, ready to search for.
#[derive(Debug, Clone, Default)]
pub struct RegisteredPii {
    values: Vec<RegisteredValue>,
    needles: Vec<Needle>,
    /// The plain forms (the values and their case/separator variants), lower-cased.
    plain: Vec<Vec<u8>>,
    automaton: Option<AhoCorasick>,
}

/// A registered value found in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit<'a> {
    /// The value found.
    pub value: &'a RegisteredValue,
    /// How it was encoded.
    pub encoding: Encoding,
    /// The exact form, in words.
    pub form: &'a str,
    /// Where the match starts in the buffer.
    pub start: usize,
    /// Where it ends (exclusive).
    pub end: usize,
}

impl RegisteredPii {
    /// Compiles `values`: computes all their forms once and builds the automaton.
    pub fn new(values: Vec<RegisteredValue>) -> Result<RegisteredPii, PiiError> {
        let mut needles = Vec::new();
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut plain = Vec::new();
        for (index, v) in values.iter().enumerate() {
            if v.value.trim().is_empty() {
                return Err(PiiError::Empty(v.label.clone()));
            }
            for Form {
                needle,
                encoding,
                form,
            } in forms(&v.value, v.kind)
            {
                // Two values may share a form (e.g. the same e-mail under two labels):
                // the first registered keeps it.
                if patterns.contains(&needle) {
                    continue;
                }
                if encoding == Encoding::Plain {
                    plain.push(needle.to_ascii_lowercase());
                }
                patterns.push(needle);
                needles.push(Needle {
                    value: index,
                    encoding,
                    form,
                });
            }
        }
        let automaton = if patterns.is_empty() {
            None
        } else {
            let built = AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .map_err(|e| PiiError::Build(e.to_string()))?;
            Some(built)
        };
        Ok(RegisteredPii {
            values,
            needles,
            plain,
            automaton,
        })
    }

    /// The registered values.
    pub fn values(&self) -> &[RegisteredValue] {
        &self.values
    }

    /// How many forms are searched for.
    pub fn needle_count(&self) -> usize {
        self.needles.len()
    }

    /// Whether `text` is one of the registered values or their plain variants (ASCII case
    /// ignored), e.g. a registered phone number written without separators.
    pub fn is_registered(&self, text: &[u8]) -> bool {
        let lower = text.to_ascii_lowercase();
        self.plain.contains(&lower)
    }

    /// Every occurrence of every form in `haystack`, overlapping ones included, in order.
    pub fn find<'a>(&'a self, haystack: &'a [u8]) -> impl Iterator<Item = Hit<'a>> + 'a {
        self.automaton
            .iter()
            .flat_map(move |ac| ac.find_overlapping_iter(haystack))
            .filter_map(move |m| {
                let needle = self.needles.get(m.pattern().as_usize())?;
                Some(Hit {
                    value: self.values.get(needle.value)?,
                    encoding: needle.encoding,
                    form: &needle.form,
                    start: m.start(),
                    end: m.end(),
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imei() -> RegisteredPii {
        RegisteredPii::new(vec![RegisteredValue {
            kind: PiiKind::Imei,
            label: "imei".into(),
            value: "490154203237518".into(),
        }])
        .expect("compiles")
    }

    #[test]
    fn all_forms_are_found_in_one_pass() {
        let pii = imei();
        assert!(pii.needle_count() > 12, "{}", pii.needle_count());
        let text = b"id=490154203237518&h=4pvmfmeiwazfkvsc1oc6nb4ca2i&x=NDkwMTU0MjAzMjM3NTE4";
        let encodings: Vec<Encoding> = pii.find(text).map(|h| h.encoding).collect();
        assert!(encodings.contains(&Encoding::Plain));
        assert!(encodings.contains(&Encoding::Base64));
    }

    #[test]
    fn nothing_is_found_without_values_or_matches() {
        assert_eq!(RegisteredPii::default().find(b"490154203237518").count(), 0);
        assert_eq!(imei().find(b"490154203237519").count(), 0);
    }

    #[test]
    fn empty_values_are_refused() {
        let err = RegisteredPii::new(vec![RegisteredValue {
            kind: PiiKind::Other,
            label: "token".into(),
            value: "  ".into(),
        }]);
        assert_eq!(err.err(), Some(PiiError::Empty("token".into())));
    }

    #[test]
    fn registered_values_are_recognised_in_any_case() {
        let pii = RegisteredPii::new(vec![RegisteredValue {
            kind: PiiKind::Email,
            label: "email".into(),
            value: "Alice@Lab.Example".into(),
        }])
        .expect("compiles");
        assert!(pii.is_registered(b"alice@lab.example"));
        assert!(!pii.is_registered(b"bob@lab.example"));
        let phone = RegisteredPii::new(vec![RegisteredValue {
            kind: PiiKind::Phone,
            label: "phone".into(),
            value: "+41 79 123 45 67".into(),
        }])
        .expect("compiles");
        assert!(phone.is_registered(b"+41791234567"));
    }
}
