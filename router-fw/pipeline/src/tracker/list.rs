//! The tracker domain list: the bundled WhoTracks.me snapshot (`data/trackers.tsv`, see
//! `data/NOTICE.md`) plus the policy's extra domains, looked up by suffix on label
//! boundaries (`a.b.example.com` falls under `example.com`, `badexample.com` does not).

use crate::policy::ExtraTracker;
use std::collections::{BTreeSet, HashMap};

/// The bundled list: tab-separated `domain, tracker, category, owner`, `#` comments.
pub const BUNDLED_TSV: &str = include_str!("../../data/trackers.tsv");

/// One listed domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerEntry {
    /// The domain; its subdomains fall under it.
    pub domain: String,
    /// The tracker's name.
    pub tracker: String,
    /// Its category, e.g. `advertising` or `site_analytics`.
    pub category: String,
    /// The company that owns it.
    pub owner: Option<String>,
}

/// A line of a tracker list that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tracker list line {line}: {message}")]
pub struct TrackerListError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Why the list a plugin asked for cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// The bundled list does not read (a broken build).
    #[error("bundled {0}")]
    Bundled(#[from] TrackerListError),
    /// An extra tracker domain from the policy is not a domain name.
    #[error("extra tracker `{domain}` is not a domain name")]
    ExtraDomain {
        /// The domain as written.
        domain: String,
        /// Where it was written, if known (1-based line and column).
        position: Option<(u64, u64)>,
    },
}

impl ListError {
    /// Where in the policy the problem is, if it has a place.
    pub fn position(&self) -> Option<(u64, u64)> {
        match self {
            ListError::Bundled(_) => None,
            ListError::ExtraDomain { position, .. } => *position,
        }
    }
}

/// Tracker domains, indexed for suffix lookup.
#[derive(Debug, Clone, Default)]
pub struct TrackerList {
    entries: Vec<TrackerEntry>,
    by_domain: HashMap<String, usize>,
}

impl TrackerList {
    /// Reads a list in the bundled format.
    pub fn parse(tsv: &str) -> Result<TrackerList, TrackerListError> {
        let mut list = TrackerList::default();
        for (i, line) in tsv.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: &str| TrackerListError {
                line: i + 1,
                message: message.to_string(),
            };
            let fields: Vec<&str> = line.split('\t').collect();
            let [domain, tracker, category, owner] = fields.as_slice() else {
                return Err(err("expected 4 tab-separated fields"));
            };
            let domain = normalize(domain);
            if !valid_domain(&domain) {
                return Err(err("not a domain name"));
            }
            list.insert(TrackerEntry {
                domain,
                tracker: tracker.trim().to_string(),
                category: category.trim().to_string(),
                owner: Some(owner.trim().to_string()).filter(|o| !o.is_empty()),
            });
        }
        Ok(list)
    }

    /// The bundled WhoTracks.me list.
    pub fn bundled() -> Result<TrackerList, TrackerListError> {
        TrackerList::parse(BUNDLED_TSV)
    }

    /// The bundled list (when `bundled`) with `extra` domains added; an extra entry replaces
    /// a bundled one for the same domain.
    pub fn build(bundled: bool, extra: &[ExtraTracker]) -> Result<TrackerList, ListError> {
        let mut list = if bundled {
            TrackerList::bundled()?
        } else {
            TrackerList::default()
        };
        for e in extra {
            let domain = normalize(&e.domain.value);
            if !valid_domain(&domain) {
                let at = &e.domain.referenced;
                return Err(ListError::ExtraDomain {
                    domain: e.domain.value.clone(),
                    position: (at.line() > 0).then(|| (at.line(), at.column())),
                });
            }
            list.insert(TrackerEntry {
                tracker: e.tracker.clone().unwrap_or_else(|| domain.clone()),
                domain,
                category: e.category.trim().to_string(),
                owner: e.owner.clone(),
            });
        }
        Ok(list)
    }

    /// Adds or replaces the entry for its domain.
    pub fn insert(&mut self, entry: TrackerEntry) {
        match self.by_domain.get(&entry.domain) {
            Some(&i) => self.entries[i] = entry,
            None => {
                self.by_domain
                    .insert(entry.domain.clone(), self.entries.len());
                self.entries.push(entry);
            }
        }
    }

    /// The most specific listed domain `name` falls under.
    pub fn lookup(&self, name: &str) -> Option<&TrackerEntry> {
        let name = normalize(name);
        let mut rest = name.as_str();
        loop {
            if let Some(&i) = self.by_domain.get(rest) {
                return self.entries.get(i);
            }
            rest = rest.split_once('.')?.1;
        }
    }

    /// Every listed domain, in list order.
    pub fn entries(&self) -> &[TrackerEntry] {
        &self.entries
    }

    /// How many domains are listed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no domain is listed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every category used.
    pub fn categories(&self) -> BTreeSet<&str> {
        self.entries.iter().map(|e| e.category.as_str()).collect()
    }
}

/// A name as compared: trimmed, lower-case, without a trailing dot.
pub fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `name` is `domain` or one of its subdomains (label boundaries, any case).
pub fn is_under(name: &str, domain: &str) -> bool {
    let (name, domain) = (normalize(name), normalize(domain));
    !domain.is_empty()
        && (name == domain
            || name
                .strip_suffix(&domain)
                .is_some_and(|head| head.ends_with('.')))
}

/// Letters, digits, `-`, `_` and `.` between non-empty labels.
fn valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::LazyLock;

    /// The bundled list, parsed once for all the property tests' cases.
    static BUNDLED: LazyLock<TrackerList> =
        LazyLock::new(|| TrackerList::bundled().expect("bundled list parses"));

    #[test]
    fn the_bundled_list_reads_and_knows_common_trackers() {
        let list = TrackerList::bundled().expect("bundled list parses");
        assert!(list.len() > 1500, "{}", list.len());
        let ga = list.lookup("ssl.Google-Analytics.com.").expect("listed");
        assert_eq!(ga.tracker, "Google Analytics");
        assert_eq!(ga.category, "site_analytics");
        assert_eq!(ga.owner.as_deref(), Some("Google"));
        assert_eq!(
            list.lookup("ad.doubleclick.net")
                .map(|e| e.category.as_str()),
            Some("advertising")
        );
        assert!(list.categories().contains("advertising"));
    }

    #[test]
    fn lookup_is_by_label_boundary_and_most_specific_first() {
        let mut list = TrackerList::default();
        let entry = |domain: &str, category: &str| TrackerEntry {
            domain: domain.into(),
            tracker: domain.into(),
            category: category.into(),
            owner: None,
        };
        list.insert(entry("example.com", "misc"));
        list.insert(entry("ads.example.com", "advertising"));
        assert_eq!(
            list.lookup("x.ads.example.com")
                .map(|e| e.category.as_str()),
            Some("advertising")
        );
        assert_eq!(
            list.lookup("www.example.com").map(|e| e.category.as_str()),
            Some("misc")
        );
        assert!(list.lookup("badexample.com").is_none());
        assert!(list.lookup("com").is_none());
        assert!(list.lookup("").is_none());
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let err = TrackerList::parse("# c\nok.example\tT\tmisc\t\nbroken line\n");
        assert_eq!(err.err().map(|e| e.line), Some(3));
        let err = TrackerList::parse("bad domain\tT\tmisc\t\n");
        assert_eq!(
            err.err().map(|e| e.message),
            Some("not a domain name".into())
        );
    }

    #[test]
    fn is_under_respects_label_boundaries() {
        assert!(is_under("a.b.example.com", "example.com"));
        assert!(is_under("EXAMPLE.com.", "example.com"));
        assert!(!is_under("notexample.com", "example.com"));
        assert!(!is_under("example.com", ""));
    }

    proptest! {
        #[test]
        fn subdomains_of_listed_domains_match_and_glued_names_do_not(
            labels in proptest::collection::vec("[a-z0-9-]{1,10}", 0..4),
            glue in "[a-z0-9]{1,5}",
        ) {
            let list = &*BUNDLED;
            let mut name = labels.join(".");
            if !name.is_empty() { name.push('.'); }
            name.push_str("doubleclick.net");
            prop_assert_eq!(list.lookup(&name).map(|e| e.tracker.as_str()), Some("DoubleClick"));
            let glued = format!("{glue}doubleclick.net");
            prop_assert!(list.lookup(&glued).is_none_or(|e| e.domain != "doubleclick.net"));
        }

        #[test]
        fn lookup_never_panics(name in any::<String>()) {
            let _ = BUNDLED.lookup(&name);
        }
    }
}
