//! A campaign expanded into its measurements: every app on every vantage-node pair, each
//! repetition, with a deterministic id and the chunk that carries it.

use super::app::AppSpec;
use super::campaign::{Campaign, Pairs};
use super::inventory::Inventory;
use serde::{Deserialize, Serialize};

/// Longest id [`expand`] makes: the router API allows 64 characters, and the orchestrator
/// appends a suffix such as `.t2` when it retries.
pub const MAX_PLANNED_ID: usize = 56;

/// What a measurement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// The app sends its messages.
    Messages,
    /// The app is opened and sends nothing: its background noise, for the rules' baseline.
    Baseline,
}

/// One measurement of a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlannedMeasurement {
    /// Deterministic: the same campaign always gives the same ids, so a run can resume.
    pub id: String,
    /// Position in the campaign, from 0.
    pub index: usize,
    /// Messages or noise baseline.
    pub kind: RunKind,
    /// App name.
    pub app: String,
    /// Vantage node of phone A (the sender).
    pub node_a: String,
    /// Vantage node of phone B.
    pub node_b: String,
    /// Repetition of this kind, from 1.
    pub repetition: u32,
    /// Chunk, from 0: the unit a router pair takes.
    pub chunk: usize,
}

/// The vantage-node pairs a campaign measures, in order.
pub fn pairs(campaign: &Campaign, inventory: &Inventory) -> Vec<(String, String)> {
    let nodes: Vec<&super::inventory::VantageNode> = match &campaign.nodes {
        Some(names) => names
            .iter()
            .filter_map(|n| inventory.vantage_node(n))
            .collect(),
        None => inventory.vantage_nodes.iter().collect(),
    };
    let every = |same_region: bool| {
        let mut out = Vec::new();
        for (i, a) in nodes.iter().enumerate() {
            for b in &nodes[i + 1..] {
                if !same_region || (a.region.is_some() && a.region == b.region) {
                    out.push((a.name.clone(), b.name.clone()));
                }
            }
        }
        out
    };
    match &campaign.pairs {
        Pairs::All => every(false),
        Pairs::WithinRegion => every(true),
        Pairs::Explicit(list) => list.clone(),
    }
}

/// Every measurement of the campaign, pair by pair (so a router pair changes vantage nodes
/// as rarely as possible): on each pair first every app's baseline runs, then repetition
/// by repetition every app. `apps` are the campaign's apps in order.
pub fn expand(
    campaign: &Campaign,
    inventory: &Inventory,
    apps: &[AppSpec],
) -> Vec<PlannedMeasurement> {
    let mut out = Vec::new();
    for (pair_index, (a, b)) in pairs(campaign, inventory).into_iter().enumerate() {
        let mut runs: Vec<(&AppSpec, RunKind, u32)> = Vec::new();
        for app in apps {
            runs.extend((1..=app.noise_baseline_runs).map(|r| (app, RunKind::Baseline, r)));
        }
        for rep in 1..=campaign.repetitions {
            runs.extend(apps.iter().map(|app| (app, RunKind::Messages, rep)));
        }
        for (app, kind, repetition) in runs {
            let index = out.len();
            let chunk = match campaign.chunk_size {
                Some(size) => index / (size.max(1) as usize),
                None => pair_index,
            };
            out.push(PlannedMeasurement {
                id: measurement_id(&campaign.name, &app.name, &a, &b, kind, repetition),
                index,
                kind,
                app: app.name.clone(),
                node_a: a.clone(),
                node_b: b.clone(),
                repetition,
                chunk,
            });
        }
    }
    out
}

/// `campaign-app-a-b-rN` (`bN` for a baseline run); when that is longer than
/// [`MAX_PLANNED_ID`], its start and a hash of the whole, so ids stay unique and stable.
pub fn measurement_id(
    campaign: &str,
    app: &str,
    a: &str,
    b: &str,
    kind: RunKind,
    repetition: u32,
) -> String {
    let tag = match kind {
        RunKind::Messages => 'r',
        RunKind::Baseline => 'b',
    };
    let full = format!("{campaign}-{app}-{a}-{b}-{tag}{repetition}");
    if full.len() <= MAX_PLANNED_ID {
        return full;
    }
    let hash = format!("{:016x}", fnv1a(full.as_bytes()));
    let mut keep = MAX_PLANNED_ID - hash.len() - 1;
    // Loaded names are ASCII; a caller's other names must not split a character.
    while !full.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}-{hash}", &full[..keep])
}

/// FNV-1a, 64 bits: stable across Rust versions and platforms (std's hasher is not).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
#[path = "expand_tests.rs"]
mod tests;
