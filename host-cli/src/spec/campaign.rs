//! The campaign: which apps, between which vantage-node pairs, how many repetitions, in
//! chunks of how many measurements, with how many retries; and its checks against the
//! inventory and the app specs.

use super::app::{AppFile, AppSpec};
use super::checks::check_name;
use super::error::{pos, SpecError};
use super::inventory::Inventory;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use std::collections::HashSet;
use std::path::PathBuf;

/// Most repetitions of one app on one pair.
const MAX_REPETITIONS: u32 = 1000;
/// Most retries of a failed measurement.
const MAX_RETRIES: u32 = 10;

/// A campaign, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Campaign {
    /// Name; prefixes every measurement id.
    pub name: String,
    /// The inventory file named in the campaign, resolved from the campaign's folder.
    pub inventory: Option<PathBuf>,
    /// Apps, in the order they run.
    pub apps: Vec<String>,
    /// Vantage nodes `all` and `within_region` choose from (default: the whole inventory).
    pub nodes: Option<Vec<String>>,
    /// Which vantage-node pairs to measure.
    pub pairs: Pairs,
    /// Measurements of each app on each pair.
    pub repetitions: u32,
    /// Measurements per chunk, the unit handed to a router pair; `None`: one chunk per pair.
    pub chunk_size: Option<u32>,
    /// How often a failed measurement is tried again.
    pub retries: u32,
    /// The privacy pass's pipeline policy (matador-pipeline's YAML), resolved from the
    /// campaign's folder; without it, one is built from the inventory.
    pub policy: Option<PathBuf>,
}

/// Vantage-node pairs; a pair is unordered: phone A at the first node messages phone B at
/// the second, and both routers capture and trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pairs {
    /// Every two distinct nodes.
    All,
    /// Every two distinct nodes in the same UN M49 region.
    WithinRegion,
    /// These pairs.
    Explicit(Vec<(String, String)>),
}

/// How the file writes `pairs`: `all`, `within_region` or `{ explicit: [[A, B], …] }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PairsFile {
    All,
    WithinRegion,
    Explicit(Vec<[Spanned<String>; 2]>),
}

/// A campaign file as written: the campaign and, optionally, app specs defined inline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CampaignFile {
    name: Spanned<String>,
    #[serde(default)]
    inventory: Option<String>,
    apps: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    nodes: Option<Vec<Spanned<String>>>,
    pairs: Spanned<PairsFile>,
    repetitions: Spanned<u32>,
    #[serde(default)]
    chunk_size: Option<Spanned<u32>>,
    #[serde(default)]
    retries: Option<Spanned<u32>>,
    #[serde(default)]
    app_specs: Vec<AppFile>,
    #[serde(default)]
    policy: Option<Spanned<String>>,
}

/// A value and where the campaign file names it.
pub(super) type Placed<T> = (T, (u64, u64));

/// Where a campaign's app comes from.
pub(super) enum AppSource {
    /// Defined in the campaign file (index into its `app_specs`).
    Inline(usize),
    /// A file of its own, resolved from the campaign's folder.
    File(PathBuf),
}

impl CampaignFile {
    /// The inline app specs, checked, and where each campaign app comes from.
    pub(super) fn take_apps(
        &mut self,
        file: &str,
        base: &std::path::Path,
    ) -> Result<(Vec<AppSpec>, Vec<Placed<AppSource>>), SpecError> {
        let mut inline = Vec::new();
        let mut names = HashSet::new();
        for raw in std::mem::take(&mut self.app_specs) {
            let p = raw.name_position();
            let app = raw.check(file)?;
            if !names.insert(app.name.clone()) {
                return Err(SpecError::at(
                    file,
                    p,
                    format!("app `{}` is defined twice", app.name),
                ));
            }
            inline.push(app);
        }
        let mut sources = Vec::new();
        for a in &self.apps.value {
            // A path names a file of its own; a bare name, an app of `app_specs`.
            let is_path =
                a.value.contains('/') || a.value.ends_with(".yaml") || a.value.ends_with(".yml");
            let source = if is_path {
                AppSource::File(base.join(&a.value))
            } else {
                let i = inline.iter().position(|s| s.name == a.value).ok_or_else(|| {
                    SpecError::at(file, pos(a), format!(
                        "app `{}` is not defined in `app_specs` (give a path such as apps/{}.yaml for a file)",
                        a.value, a.value
                    ))
                })?;
                AppSource::Inline(i)
            };
            sources.push((source, pos(a)));
        }
        if sources.is_empty() {
            return Err(SpecError::at(
                file,
                pos(&self.apps),
                "a campaign needs at least one app",
            ));
        }
        Ok((inline, sources))
    }

    /// Checks the campaign's own fields.
    pub(super) fn check(
        &self,
        file: &str,
        base: &std::path::Path,
        apps: &[AppSpec],
    ) -> Result<Campaign, SpecError> {
        let at = |p, m: String| SpecError::at(file, p, m);
        check_name("campaign name", &self.name.value).map_err(|m| at(pos(&self.name), m))?;
        if !(1..=MAX_REPETITIONS).contains(&self.repetitions.value) {
            return Err(at(
                pos(&self.repetitions),
                format!("repetitions must be 1 to {MAX_REPETITIONS}"),
            ));
        }
        if let Some(c) = self.chunk_size.as_ref().filter(|c| c.value == 0) {
            return Err(at(pos(c), "chunk_size must be at least 1".into()));
        }
        if let Some(r) = self.retries.as_ref().filter(|r| r.value > MAX_RETRIES) {
            return Err(at(pos(r), format!("retries must be 0 to {MAX_RETRIES}")));
        }
        let mut seen = HashSet::new();
        for (a, app) in self.apps.value.iter().zip(apps) {
            if !seen.insert(app.name.clone()) {
                return Err(at(
                    pos(a),
                    format!("app `{}` is in the campaign twice", app.name),
                ));
            }
        }
        let pairs = match &self.pairs.value {
            PairsFile::All => Pairs::All,
            PairsFile::WithinRegion => Pairs::WithinRegion,
            PairsFile::Explicit(list) => Pairs::Explicit(
                list.iter()
                    .map(|[a, b]| (a.value.clone(), b.value.clone()))
                    .collect(),
            ),
        };
        Ok(Campaign {
            name: self.name.value.clone(),
            inventory: self.inventory.as_ref().map(|i| base.join(i)),
            apps: apps.iter().map(|a| a.name.clone()).collect(),
            nodes: self
                .nodes
                .as_ref()
                .map(|n| n.iter().map(|s| s.value.clone()).collect()),
            pairs,
            repetitions: self.repetitions.value,
            chunk_size: self.chunk_size.as_ref().map(|c| c.value),
            retries: self.retries.as_ref().map_or(0, |r| r.value),
            policy: self.policy.as_ref().map(|p| base.join(&p.value)),
        })
    }

    /// Where the file names its pipeline policy, if it does.
    pub(super) fn policy_place(&self) -> Option<(u64, u64)> {
        self.policy.as_ref().map(pos)
    }

    /// Checks the campaign against the inventory and the apps: nodes and pairs name known
    /// vantage nodes, every app drives every phone model, there is something to measure.
    pub(super) fn check_against(
        &self,
        file: &str,
        inv: &Inventory,
        apps: &[AppSpec],
    ) -> Result<(), SpecError> {
        let at = |p, m: String| SpecError::at(file, p, m);
        let known = |s: &Spanned<String>| match inv.vantage_node(&s.value) {
            Some(_) => Ok(()),
            None => Err(at(
                pos(s),
                format!("`{}` is not a vantage node of the inventory", s.value),
            )),
        };
        let mut chosen = HashSet::new();
        for n in self.nodes.iter().flatten() {
            known(n)?;
            if !chosen.insert(n.value.clone()) {
                return Err(at(
                    pos(n),
                    format!("vantage node `{}` is listed twice", n.value),
                ));
            }
        }
        for (a, app) in self.apps.value.iter().zip(apps) {
            if let Some(model) = inv
                .models()
                .into_iter()
                .find(|m| app.script_for(m).is_none())
            {
                return Err(at(
                    pos(a),
                    format!(
                        "app `{}` has no UI script for phone model `{model}` and no `default`",
                        app.name
                    ),
                ));
            }
        }
        if inv.router_pairs.is_empty() {
            return Err(SpecError::whole(
                file,
                "the inventory has no router pair to measure with",
            ));
        }
        match &self.pairs.value {
            PairsFile::Explicit(list) => {
                if list.is_empty() {
                    return Err(at(pos(&self.pairs), "`explicit` lists no pair".into()));
                }
                let mut seen = HashSet::new();
                for [a, b] in list {
                    known(a)?;
                    known(b)?;
                    if a.value == b.value {
                        return Err(at(
                            pos(b),
                            format!("pair [{0}, {0}] names one vantage node twice", a.value),
                        ));
                    }
                    let key = if a.value < b.value {
                        (&a.value, &b.value)
                    } else {
                        (&b.value, &a.value)
                    };
                    if !seen.insert(key) {
                        return Err(at(
                            pos(a),
                            format!("pair [{}, {}] is listed twice", a.value, b.value),
                        ));
                    }
                }
            }
            PairsFile::WithinRegion => {
                let nodes = inv
                    .vantage_nodes
                    .iter()
                    .filter(|v| chosen.is_empty() || chosen.contains(&v.name));
                if let Some(v) = nodes.clone().find(|v| v.region.is_none()) {
                    return Err(at(pos(&self.pairs), format!(
                        "`within_region` needs a region for every node; `{}` ({}) has none: add `region`",
                        v.name, v.country
                    )));
                }
                let regions: Vec<_> = nodes.map(|v| v.region.as_deref()).collect();
                let any = regions
                    .iter()
                    .enumerate()
                    .any(|(i, r)| regions[i + 1..].contains(r));
                if !any {
                    return Err(at(
                        pos(&self.pairs),
                        "`within_region` finds no two nodes in one region".into(),
                    ));
                }
            }
            PairsFile::All => {
                let n = if chosen.is_empty() {
                    inv.vantage_nodes.len()
                } else {
                    chosen.len()
                };
                if n < 2 {
                    return Err(at(
                        pos(&self.pairs),
                        "`all` needs at least two vantage nodes".into(),
                    ));
                }
            }
        }
        Ok(())
    }
}
