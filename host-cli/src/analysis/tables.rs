//! The seed paper's tables, as data: traffic leaving the region (Table 2) and traffic
//! accessible for interest groups (Table 3), for the network path and each app's
//! application path, per region and subregion. Definitions: docs/analysis.md.

use super::groups::{EndpointRule, Groups, InterestGroup};
use super::paths::{MeasurementPaths, PathView};
use super::regions::Regions;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How many measurements of a cell had a path, how many of those the property holds for,
/// and how many had hops of unknown country (which never count).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Share {
    /// Measurements with this path.
    pub measurements: usize,
    /// Of those, the ones that leave the region / are accessible.
    pub hits: usize,
    /// Of those, the ones with at least one hop of unknown country.
    pub with_unknown: usize,
}

impl Share {
    /// `hits / measurements` in percent; `None` without measurements.
    pub fn percent(&self) -> Option<f64> {
        (self.measurements > 0).then(|| 100.0 * self.hits as f64 / self.measurements as f64)
    }

    fn add(&mut self, path: &PathView, hit: bool) {
        if !path.present {
            return;
        }
        self.measurements += 1;
        self.hits += usize::from(hit);
        self.with_unknown += usize::from(path.unknown_hops > 0);
    }
}

/// What a row covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every measurement the table applies to.
    All,
    /// Measurements with both endpoints in one UN M49 region.
    Region,
    /// Measurements with both endpoints in one UN M49 subregion.
    Subregion,
    /// Measurements whose endpoints are in different regions.
    InterRegion,
}

/// One row: a scope, its measurements, the network path's share and each app's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// For Table 3: the interest group; empty in Table 2.
    pub group: String,
    /// What the row covers.
    pub scope: Scope,
    /// Region or subregion name (`All regions` in Table 2, `All` and `Inter-region` in
    /// Table 3 for those scopes).
    pub name: String,
    /// Measurements in the row, all apps together.
    pub measurements: usize,
    /// Table 3: measurements left out because an endpoint is in the group.
    pub excluded: usize,
    /// The network path.
    pub network: Share,
    /// Each app's application path, by app.
    pub apps: BTreeMap<String, Share>,
}

impl Row {
    fn new(group: &str, scope: Scope, name: &str) -> Self {
        Row {
            group: group.to_owned(),
            scope,
            name: name.to_owned(),
            measurements: 0,
            excluded: 0,
            network: Share::default(),
            apps: BTreeMap::new(),
        }
    }

    fn add(&mut self, m: &MeasurementPaths, network_hit: bool, app_hit: bool) {
        self.measurements += 1;
        self.network.add(&m.network, network_hit);
        self.apps
            .entry(m.app.clone())
            .or_default()
            .add(&m.application, app_hit);
    }
}

/// Both tables, and what they leave out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tables {
    /// Every app, sorted.
    pub apps: Vec<String>,
    /// Table 2: traffic leaving the region.
    pub leaving: Vec<Row>,
    /// Table 3: traffic accessible for interest groups.
    pub access: Vec<Row>,
    /// Measurements between two regions, which Table 2 leaves out.
    pub inter_region: usize,
    /// Measurements with an endpoint country in no region, which Table 2 leaves out.
    pub unplaced: usize,
    /// How Table 3 treats endpoints in a group.
    pub endpoints: EndpointRule,
}

/// Where a measurement belongs: its endpoints' common region and subregion, if any.
struct Place<'a> {
    region: Option<&'a str>,
    subregion: Option<&'a str>,
    inter: bool,
}

fn place<'a>(m: &MeasurementPaths, regions: &'a Regions) -> Place<'a> {
    let (ra, rb) = (regions.region(&m.a.country), regions.region(&m.b.country));
    let (sa, sb) = (
        regions.subregion(&m.a.country),
        regions.subregion(&m.b.country),
    );
    Place {
        region: ra.filter(|_| ra == rb),
        subregion: sa.filter(|_| sa == sb),
        inter: ra.is_some() && rb.is_some() && ra != rb,
    }
}

/// Whether a known country of the path lies outside `area` (`level` picks region or subregion).
fn leaves(path: &PathView, regions: &Regions, area: &str, subregion: bool) -> bool {
    path.countries.iter().any(|c| {
        let of = if subregion {
            regions.subregion(c)
        } else {
            regions.region(c)
        };
        of != Some(area)
    })
}

fn accessible(path: &PathView, group: &InterestGroup) -> bool {
    path.countries.iter().any(|c| group.members.contains(c))
}

/// Rows keyed by (scope, name), kept in a stable order.
type Rows = BTreeMap<(Scope, String), Row>;

fn row<'r>(rows: &'r mut Rows, group: &str, scope: Scope, name: &str) -> &'r mut Row {
    rows.entry((scope, name.to_owned()))
        .or_insert_with(|| Row::new(group, scope, name))
}

/// Computes both tables from located measurements.
pub fn compute(paths: &[MeasurementPaths], regions: &Regions, groups: &Groups) -> Tables {
    let apps: BTreeSet<String> = paths.iter().map(|m| m.app.clone()).collect();
    let mut leaving: Rows = BTreeMap::new();
    let (mut inter_region, mut unplaced) = (0, 0);
    for m in paths {
        let p = place(m, regions);
        let Some(region) = p.region else {
            if p.inter {
                inter_region += 1;
            } else {
                unplaced += 1;
            }
            continue;
        };
        let net = leaves(&m.network, regions, region, false);
        let app = leaves(&m.application, regions, region, false);
        // Every measurement within one region, each against its own region.
        row(&mut leaving, "", Scope::All, "All regions").add(m, net, app);
        row(&mut leaving, "", Scope::Region, region).add(m, net, app);
        if let Some(sub) = p.subregion {
            let net = leaves(&m.network, regions, sub, true);
            let app = leaves(&m.application, regions, sub, true);
            row(&mut leaving, "", Scope::Subregion, sub).add(m, net, app);
        }
    }
    let mut access = Vec::new();
    for g in &groups.groups {
        let mut rows: Rows = BTreeMap::new();
        for m in paths {
            let p = place(m, regions);
            let mut scopes = vec![(Scope::All, "All")];
            if let Some(r) = p.region {
                scopes.push((Scope::Region, r));
            }
            if let Some(s) = p.subregion {
                scopes.push((Scope::Subregion, s));
            }
            if p.inter {
                scopes.push((Scope::InterRegion, "Inter-region"));
            }
            let at_endpoint = g.members.contains(&m.a.country) || g.members.contains(&m.b.country);
            for (scope, name) in scopes {
                let r = row(&mut rows, &g.name, scope, name);
                match (at_endpoint, groups.endpoints) {
                    (true, EndpointRule::Exclude) => r.excluded += 1,
                    (true, EndpointRule::Count) => r.add(m, true, true),
                    (false, _) => {
                        r.add(m, accessible(&m.network, g), accessible(&m.application, g))
                    }
                }
            }
        }
        access.extend(rows.into_values());
    }
    Tables {
        apps: apps.into_iter().collect(),
        leaving: leaving.into_values().collect(),
        access,
        inter_region,
        unplaced,
        endpoints: groups.endpoints,
    }
}

#[cfg(test)]
#[path = "tables_tests.rs"]
mod tests;
