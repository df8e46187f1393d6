//! Name patterns: `*` stands for any run of characters (dots included), `?` for one; ASCII
//! case does not matter, as in DNS.

use serde::{Deserialize, Serialize};

/// A name pattern such as `*.example` (which matches `a.example` and `a.b.example`, not
/// `example`: list the apex separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern(String);

impl NamePattern {
    /// A pattern; wildcards as given.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let p = pattern.trim().trim_end_matches('.');
        if p.is_empty() {
            return Err("empty name pattern".to_string());
        }
        Ok(NamePattern(p.to_ascii_lowercase()))
    }

    /// A pattern matching exactly `name` (its `*` and `?` kept literal is not needed: DNS
    /// names from traffic rarely hold them, and if they do they only widen the match).
    pub fn exact(name: &str) -> Self {
        NamePattern(name.trim_end_matches('.').to_ascii_lowercase())
    }

    /// The pattern as written (lower case).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        glob(self.0.as_bytes(), name.trim_end_matches('.').as_bytes())
    }
}

/// Wildcard match in O(pattern × name) at worst: on a mismatch, back up to the last `*` and
/// let it take one more character.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n].to_ascii_lowercase() => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

impl Serialize for NamePattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for NamePattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        NamePattern::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(p: &str, n: &str) -> bool {
        NamePattern::new(p).unwrap().matches(n)
    }

    #[test]
    fn wildcards() {
        assert!(m("*.example", "a.example"));
        assert!(m("*.example", "a.b.EXAMPLE."));
        assert!(!m("*.example", "example"));
        assert!(!m("*.example", "a.example.org"));
        assert!(m("chat-?.app.example", "chat-7.app.example"));
        assert!(m("*analytics*", "eu.analytics-cdn.example"));
        assert!(m("a.example", "A.Example"));
        assert!(!m("a.example", "b.a.example"));
        assert!(NamePattern::new(" . ").is_err());
    }

    proptest! {
        #[test]
        fn star_prefix_matches_every_subdomain(sub in "[a-z0-9.-]{1,30}", base in "[a-z]{1,10}\\.[a-z]{2,5}") {
            let pattern = format!("*.{base}");
            let name = format!("{sub}.{base}");
            prop_assert!(m(&pattern, &name));
            prop_assert!(m(&name, &name));
        }

        #[test]
        fn arbitrary_patterns_never_panic(p in "[*?a-z.]{1,20}", n in "[a-z.]{0,40}") {
            if let Ok(p) = NamePattern::new(&p) {
                let _ = p.matches(&n);
            }
        }
    }
}
