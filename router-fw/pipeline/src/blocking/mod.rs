//! The blocking plugin (ad/tracker blocking as a user incentive): blocks flows to listed
//! domains of the configured categories, except the app's own first-party domains and the
//! policy's allow list.

use crate::flow::FlowRecord;
use crate::plugin::{DeviceContext, Party, Plugin, PluginOutput, Verdict};
use crate::policy::{BlockingOptions, TrackerOptions};
use crate::tracker::{is_under, normalize, party, ListError, TrackerList};
use std::collections::BTreeSet;

/// Why the blocking plugin cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockingError {
    /// The tracker list (bundled or extra) is unusable.
    #[error(transparent)]
    List(#[from] ListError),
    /// A category no listed domain has: a typo, most likely.
    #[error("unknown tracker category `{category}` (known: {known})")]
    UnknownCategory {
        /// The category as written.
        category: String,
        /// Where it was written, if known.
        position: Option<(u64, u64)>,
        /// The categories the list has.
        known: String,
    },
}

/// The blocker.
#[derive(Debug, Clone)]
pub struct BlockingPlugin {
    list: TrackerList,
    categories: BTreeSet<String>,
    allow: Vec<String>,
}

impl BlockingPlugin {
    /// The plugin for `options`, over the tracker list `tracker` describes.
    pub fn new(options: &BlockingOptions, tracker: &TrackerOptions) -> Result<Self, BlockingError> {
        let list = TrackerList::build(tracker.bundled, &tracker.extra)?;
        let known = list.categories();
        let mut categories = BTreeSet::new();
        for c in &options.categories {
            if !known.contains(c.value.as_str()) {
                let position =
                    (c.referenced.line() > 0).then(|| (c.referenced.line(), c.referenced.column()));
                return Err(BlockingError::UnknownCategory {
                    category: c.value.clone(),
                    position,
                    known: known.iter().copied().collect::<Vec<_>>().join(", "),
                });
            }
            categories.insert(c.value.clone());
        }
        Ok(BlockingPlugin {
            list,
            categories,
            allow: options.allow.iter().map(|d| normalize(d)).collect(),
        })
    }
}

impl BlockingPlugin {
    /// The domains to block by name ahead of any flow (the router's DNS-fed blocklist): the
    /// listed domains of the blocked categories, less those under the app's own domains or
    /// the allow list, and less those *above* one of them (blocking `google.com` by DNS
    /// would block the first-party `maps.google.com` too, which `inspect` never does).
    /// Sorted, once each.
    pub fn blocked_domains(&self, first_party: &[String]) -> Vec<String> {
        let spared: Vec<&String> = first_party.iter().chain(&self.allow).collect();
        let mut out: Vec<String> = self
            .list
            .entries()
            .iter()
            .filter(|e| self.categories.contains(&e.category))
            .map(|e| normalize(&e.domain))
            .filter(|d| {
                !spared
                    .iter()
                    .any(|s| is_under(d, s) || is_under(&normalize(s), d))
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

impl Plugin for BlockingPlugin {
    fn name(&self) -> &str {
        "blocking"
    }

    fn inspect(&self, flow: &FlowRecord, ctx: &DeviceContext<'_>) -> PluginOutput {
        for (_, name) in flow.names.all() {
            let Some(entry) = self.list.lookup(name) else {
                continue;
            };
            if !self.categories.contains(&entry.category)
                || party(name, ctx.first_party) == Party::First
                || self.allow.iter().any(|d| is_under(name, d))
            {
                continue;
            }
            let owner = entry
                .owner
                .as_deref()
                .map(|o| format!(", owned by {o}"))
                .unwrap_or_default();
            let reason = format!(
                "{}: tracker `{}` ({}{owner})",
                normalize(name),
                entry.tracker,
                entry.category
            );
            return PluginOutput {
                findings: Vec::new(),
                verdict: Verdict::Block { reason },
            };
        }
        PluginOutput::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{FlowSide, Protocol};
    use crate::pii::RegisteredPii;
    use crate::policy::ExtraTracker;
    use serde_saphyr::{Location, Spanned};

    fn spanned(s: &str) -> Spanned<String> {
        Spanned::new(s.to_string(), Location::UNKNOWN, Location::UNKNOWN)
    }

    fn flow(name: &str) -> FlowRecord {
        let mut f = FlowRecord::new(
            "p",
            Protocol::Tcp,
            FlowSide::new([10, 0, 0, 2].into(), 40000),
            FlowSide::new([192, 0, 2, 1].into(), 443),
        );
        f.names.sni = Some(name.to_string());
        f
    }

    fn verdict(plugin: &BlockingPlugin, name: &str, first_party: &[String]) -> Verdict {
        let reg = RegisteredPii::default();
        let mut ctx = DeviceContext::new("p", &reg);
        ctx.first_party = first_party;
        plugin.inspect(&flow(name), &ctx).verdict
    }

    #[test]
    fn ads_and_analytics_are_blocked_others_pass() {
        let plugin = BlockingPlugin::new(&BlockingOptions::default(), &TrackerOptions::default())
            .expect("defaults build");
        let Verdict::Block { reason } = verdict(&plugin, "ad.doubleclick.net", &[]) else {
            panic!("not blocked");
        };
        assert_eq!(
            reason,
            "ad.doubleclick.net: tracker `DoubleClick` (advertising, owned by Google)"
        );
        assert!(matches!(
            verdict(&plugin, "www.google-analytics.com", &[]),
            Verdict::Block { .. }
        ));
        assert_eq!(verdict(&plugin, "chat.app.example", &[]), Verdict::Pass);
        // Google Static is `cdn`: listed, not blocked.
        assert_eq!(verdict(&plugin, "www.gstatic.com", &[]), Verdict::Pass);
    }

    #[test]
    fn the_dns_blocklist_is_what_inspect_blocks_less_what_would_catch_own_domains() {
        let plugin = BlockingPlugin::new(
            &BlockingOptions {
                categories: vec![spanned("advertising")],
                allow: vec!["adnxs.com".into()],
            },
            &TrackerOptions::default(),
        )
        .unwrap();
        let own = vec!["maps.doubleclick.net".to_string()];
        let domains = plugin.blocked_domains(&own);
        assert!(domains.len() > 100, "{}", domains.len());
        assert!(domains.windows(2).all(|w| w[0] < w[1]), "sorted, once each");
        // Above a first-party domain, and the allowed one: not blocked by name.
        assert!(!domains
            .iter()
            .any(|d| d == "doubleclick.net" || d == "adnxs.com"));
        // Every other listed domain it names, inspect blocks too.
        for d in domains.iter().take(50) {
            assert!(
                matches!(verdict(&plugin, d, &own), Verdict::Block { .. }),
                "{d}"
            );
        }
        assert!(plugin
            .blocked_domains(&[])
            .iter()
            .any(|d| d == "doubleclick.net"));
    }

    #[test]
    fn first_party_and_allowed_domains_pass() {
        let options = BlockingOptions {
            allow: vec!["google.com".into()],
            ..BlockingOptions::default()
        };
        let plugin = BlockingPlugin::new(&options, &TrackerOptions::default()).expect("builds");
        assert_eq!(verdict(&plugin, "www.google.com", &[]), Verdict::Pass);
        let own = vec!["facebook.com".to_string()];
        assert_eq!(verdict(&plugin, "graph.facebook.com", &own), Verdict::Pass);
        assert!(matches!(
            verdict(&plugin, "graph.facebook.com", &[]),
            Verdict::Block { .. }
        ));
    }

    #[test]
    fn extra_domains_and_categories_come_from_the_tracker_options() {
        let tracker = TrackerOptions {
            bundled: false,
            extra: vec![ExtraTracker {
                domain: spanned("analytics.lab.example"),
                tracker: Some("Lab Analytics".into()),
                category: "site_analytics".into(),
                owner: None,
            }],
        };
        let plugin = BlockingPlugin::new(&BlockingOptions::default(), &tracker);
        let err = plugin.expect_err("advertising is unknown without the bundled list");
        assert!(
            matches!(err, BlockingError::UnknownCategory { ref category, .. } if category == "advertising")
        );
        let options = BlockingOptions {
            categories: vec![spanned("site_analytics")],
            ..BlockingOptions::default()
        };
        let plugin = BlockingPlugin::new(&options, &tracker).expect("builds");
        assert!(matches!(
            verdict(&plugin, "e.analytics.lab.example", &[]),
            Verdict::Block { .. }
        ));
        assert_eq!(verdict(&plugin, "ad.doubleclick.net", &[]), Verdict::Pass);
    }
}
