//! The tracker plugin: matches a flow's names against the tracker list and reports the
//! tracker, its category and owner, and whether it is first party (one of the app's own
//! domains, from the policy) or third party.

mod list;

pub use list::{
    is_under, normalize, ListError, TrackerEntry, TrackerList, TrackerListError, BUNDLED_TSV,
};

use crate::flow::FlowRecord;
use crate::plugin::{Detail, DeviceContext, Finding, Party, Plugin, PluginOutput, TrackerHit};
use crate::policy::TrackerOptions;

/// The tracker detector.
#[derive(Debug, Clone)]
pub struct TrackerPlugin {
    list: TrackerList,
}

impl TrackerPlugin {
    /// The plugin over the list `options` describe.
    pub fn new(options: &TrackerOptions) -> Result<Self, ListError> {
        Ok(TrackerPlugin {
            list: TrackerList::build(options.bundled, &options.extra)?,
        })
    }

    /// The plugin over a given list.
    pub fn with_list(list: TrackerList) -> Self {
        TrackerPlugin { list }
    }
}

/// The first of the flow's names (chosen name first) that falls under a listed domain.
pub fn match_flow<'l>(
    list: &'l TrackerList,
    flow: &FlowRecord,
) -> Option<(String, &'l TrackerEntry)> {
    let chosen = flow.names.chosen().map(|(_, n)| n);
    chosen
        .into_iter()
        .chain(flow.names.all().map(|(_, n)| n))
        .find_map(|name| list.lookup(name).map(|e| (normalize(name), e)))
}

/// Whether `name` is one of the app's own domains.
pub fn party(name: &str, first_party: &[String]) -> Party {
    if first_party.iter().any(|d| is_under(name, d)) {
        Party::First
    } else {
        Party::Third
    }
}

impl Plugin for TrackerPlugin {
    fn name(&self) -> &str {
        "tracker"
    }

    fn inspect(&self, flow: &FlowRecord, ctx: &DeviceContext<'_>) -> PluginOutput {
        let Some((name, entry)) = match_flow(&self.list, flow) else {
            return PluginOutput::default();
        };
        let finding = Finding {
            plugin: self.name().to_string(),
            destination: flow.destination(),
            detail: Detail::Tracker(TrackerHit {
                party: party(&name, ctx.first_party),
                name,
                domain: entry.domain.clone(),
                tracker: entry.tracker.clone(),
                category: entry.category.clone(),
                owner: entry.owner.clone(),
            }),
        };
        PluginOutput::pass(vec![finding])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{FlowSide, Protocol};
    use crate::pii::RegisteredPii;

    fn flow(sni: Option<&str>, dns: Option<&str>) -> FlowRecord {
        let mut f = FlowRecord::new(
            "p",
            Protocol::Tcp,
            FlowSide::new([10, 0, 0, 2].into(), 40000),
            FlowSide::new([192, 0, 2, 1].into(), 443),
        );
        f.names.sni = sni.map(str::to_string);
        f.names.dns = dns.map(str::to_string);
        f
    }

    fn hit(out: &PluginOutput) -> Option<&TrackerHit> {
        out.findings.iter().find_map(|f| match &f.detail {
            Detail::Tracker(t) => Some(t),
            _ => None,
        })
    }

    #[test]
    fn trackers_are_reported_with_owner_category_and_party() {
        let plugin = TrackerPlugin::new(&TrackerOptions::default()).expect("bundled list");
        let reg = RegisteredPii::default();
        let first_party = vec!["facebook.com".to_string()];
        let mut ctx = DeviceContext::new("p", &reg);
        let out = plugin.inspect(&flow(Some("www.google-analytics.com"), None), &ctx);
        let t = hit(&out).expect("a tracker");
        assert_eq!(
            (t.tracker.as_str(), t.category.as_str()),
            ("Google Analytics", "site_analytics")
        );
        assert_eq!(t.party, Party::Third);
        ctx.first_party = &first_party;
        let out = plugin.inspect(&flow(Some("graph.facebook.com"), None), &ctx);
        assert_eq!(hit(&out).map(|t| t.party), Some(Party::First));
    }

    #[test]
    fn any_name_of_the_flow_may_match() {
        let plugin = TrackerPlugin::new(&TrackerOptions::default()).expect("bundled list");
        let reg = RegisteredPii::default();
        let ctx = DeviceContext::new("p", &reg);
        let out = plugin.inspect(
            &flow(Some("cdn.app.example"), Some("stats.g.doubleclick.net")),
            &ctx,
        );
        assert_eq!(
            hit(&out).map(|t| t.name.as_str()),
            Some("stats.g.doubleclick.net")
        );
        let out = plugin.inspect(&flow(Some("chat.app.example"), None), &ctx);
        assert!(out.findings.is_empty());
    }
}
