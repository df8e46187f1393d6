//! Tracker blocking (`/v1/aps/{ap}/blocklist`): the domains an AP's phones may not reach.
//! The host derives them from a policy's blocking plugin (matador-pipeline); the router
//! rejects traffic to whatever those names resolve to.

use serde::{Deserialize, Serialize};

use crate::Invalid;

/// Most domains one AP may block (the bundled tracker list's advertising and analytics
/// categories are about 1,100).
pub const MAX_BLOCKED_DOMAINS: usize = 4096;

/// Longest domain name (RFC 1035, in text form without the final dot).
pub const MAX_DOMAIN_LEN: usize = 253;

/// `PUT /v1/aps/{ap}/blocklist` and its `GET`: the domains blocked, subdomains included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blocklist {
    /// Domain names ([`check_domain`]); each blocks itself and every name under it.
    pub domains: Vec<String>,
}

impl Blocklist {
    /// The list checked and normalised: each domain lowercase without a final dot, sorted,
    /// once; at most [`MAX_BLOCKED_DOMAINS`].
    pub fn normalized(&self) -> Result<Vec<String>, Invalid> {
        if self.domains.len() > MAX_BLOCKED_DOMAINS {
            return Err(Invalid::new(
                "domains",
                format!(
                    "{} domains; at most {MAX_BLOCKED_DOMAINS}",
                    self.domains.len()
                ),
            ));
        }
        let mut out = self
            .domains
            .iter()
            .map(|d| check_domain(d))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// A domain name as blocklists take it: letters, digits, `-` and `_` in dot-separated labels
/// of 1 to 63 characters, at least two labels, no label starting or ending with `-`. Returns
/// it lowercase without a final dot. The router writes these into dnsmasq's configuration,
/// so nothing else (no `/`, `#`, spaces or newlines) may pass.
pub fn check_domain(domain: &str) -> Result<String, Invalid> {
    let bad = |reason: &str| {
        let shown: String = domain.chars().take(64).collect();
        Invalid::new("domains", format!("`{shown}`: {reason}"))
    };
    let d = domain
        .strip_suffix('.')
        .unwrap_or(domain)
        .to_ascii_lowercase();
    if d.is_empty() || d.len() > MAX_DOMAIN_LEN {
        return Err(bad("a domain name is 1 to 253 characters"));
    }
    let mut labels = 0;
    for label in d.split('.') {
        labels += 1;
        if label.is_empty() || label.len() > 63 {
            return Err(bad("each label is 1 to 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad("only letters, digits, `-` and `_` between the dots"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("a label neither starts nor ends with `-`"));
        }
    }
    if labels < 2 {
        return Err(bad(
            "block a domain (`tracker.example`), not a top-level name",
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn domains_are_normalised_sorted_and_deduplicated() {
        let list = Blocklist {
            domains: vec![
                "Ads.Tracker.Example.".into(),
                "doubleclick.net".into(),
                "ads.tracker.example".into(),
            ],
        };
        assert_eq!(
            list.normalized().unwrap(),
            vec!["ads.tracker.example", "doubleclick.net"]
        );
    }

    #[test]
    fn anything_that_could_reach_dnsmasq_syntax_is_refused() {
        for bad in [
            "",
            "com",
            "a..b",
            "-a.example",
            "a-.example",
            "a/b.example",
            "a#b.example",
            "a b.example",
            "a.example\nserver=1.2.3.4",
            "tracker.example/4#inet#matador#block0",
            &format!("{}.example", "a".repeat(64)),
        ] {
            assert!(check_domain(bad).is_err(), "{bad:?} passed");
        }
        let too_many = Blocklist {
            domains: vec!["a.example".into(); MAX_BLOCKED_DOMAINS + 1],
        };
        assert!(too_many.normalized().is_err());
    }

    proptest! {
        #[test]
        fn accepted_domains_hold_only_name_characters(s in "\\PC{0,80}") {
            if let Ok(d) = check_domain(&s) {
                prop_assert!(d.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b)));
                prop_assert!(d.contains('.'));
                prop_assert_eq!(check_domain(&d), Ok(d.clone()));
            }
        }
    }
}
