//! Campaign expansion, with counts worked out by hand.

use super::super::tests::{APP, INVENTORY};
use super::super::{parse_app, parse_inventory, Campaign, Pairs};
use super::*;
use std::collections::HashSet;
use std::path::Path;

fn campaign(pairs: Pairs, repetitions: u32, chunk_size: Option<u32>) -> Campaign {
    Campaign {
        name: "c".into(),
        inventory: None,
        apps: vec!["chat".into(), "talk".into()],
        nodes: None,
        pairs,
        repetitions,
        chunk_size,
        retries: 0,
        policy: None,
    }
}

fn setup() -> (Inventory, Vec<AppSpec>) {
    let mut inv = parse_inventory(INVENTORY, "inv.yaml", Path::new(".")).expect("inventory");
    inv.fill_regions(|c| match c {
        "CH" | "DE" => Some("Europe".into()),
        "BR" => Some("Americas".into()),
        _ => None,
    });
    let chat = parse_app(APP, "chat.yaml").expect("app");
    let talk = parse_app(&APP.replace("name: chat", "name: talk"), "talk.yaml").expect("app");
    (inv, vec![chat, talk])
}

#[test]
fn two_apps_all_pairs_of_four_nodes_three_repetitions() {
    let (inv, apps) = setup();
    // 4 nodes: 4·3/2 = 6 pairs; × 2 apps × 3 repetitions = 36.
    let plan = expand(&campaign(Pairs::All, 3, Some(5)), &inv, &apps);
    assert_eq!(plan.len(), 36);
    // 36 in chunks of 5: chunks 0..=7, seven full ones and the last with 1.
    assert_eq!(plan.iter().map(|m| m.chunk).max(), Some(7));
    assert_eq!(plan.iter().filter(|m| m.chunk == 7).count(), 1);
    assert_eq!(plan.iter().filter(|m| m.chunk == 0).count(), 5);
    let ids: HashSet<_> = plan.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids.len(), 36, "ids are unique");
    assert!(plan.iter().enumerate().all(|(i, m)| m.index == i));
    // Pair-major, then repetition, then app.
    let first: Vec<_> = plan[..6]
        .iter()
        .map(|m| {
            (
                m.node_a.as_str(),
                m.node_b.as_str(),
                m.repetition,
                m.app.as_str(),
            )
        })
        .collect();
    assert_eq!(
        first,
        [
            ("vp-ch", "vp-de", 1, "chat"),
            ("vp-ch", "vp-de", 1, "talk"),
            ("vp-ch", "vp-de", 2, "chat"),
            ("vp-ch", "vp-de", 2, "talk"),
            ("vp-ch", "vp-de", 3, "chat"),
            ("vp-ch", "vp-de", 3, "talk"),
        ]
    );
    assert_eq!(plan[6].node_b, "vp-us");
    assert_eq!(plan[35].node_a, "vp-us");
    assert_eq!(plan[35].node_b, "vp-br");
    assert_eq!(plan[0].id, "c-chat-vp-ch-vp-de-r1");
    assert_eq!(
        expand(&campaign(Pairs::All, 3, Some(5)), &inv, &apps),
        plan,
        "deterministic"
    );
}

#[test]
fn within_region_baselines_and_explicit_pairs() {
    let (inv, mut apps) = setup();
    // Europe: CH-DE; Americas: US-BR → 2 pairs.
    let plan = expand(&campaign(Pairs::WithinRegion, 2, None), &inv, &apps);
    assert_eq!(plan.len(), 2 * 2 * 2);
    assert_eq!(
        plan.iter().map(|m| m.chunk).max(),
        Some(1),
        "a chunk per pair"
    );
    // Baselines: chat 2 runs, talk 1, per pair, before the repetitions.
    apps[0].noise_baseline_runs = 2;
    apps[1].noise_baseline_runs = 1;
    let pairs = Pairs::Explicit(vec![("vp-br".into(), "vp-ch".into())]);
    let plan = expand(&campaign(pairs, 2, None), &inv, &apps);
    assert_eq!(plan.len(), 3 + 2 * 2);
    let kinds: Vec<_> = plan
        .iter()
        .map(|m| (m.kind, m.app.as_str(), m.repetition))
        .collect();
    assert_eq!(
        kinds[..4],
        [
            (RunKind::Baseline, "chat", 1),
            (RunKind::Baseline, "chat", 2),
            (RunKind::Baseline, "talk", 1),
            (RunKind::Messages, "chat", 1),
        ]
    );
    assert_eq!(plan[0].id, "c-chat-vp-br-vp-ch-b1");
    // `nodes` narrows `all`: 3 nodes give 3 pairs.
    let mut c = campaign(Pairs::All, 1, None);
    c.nodes = Some(vec!["vp-us".into(), "vp-ch".into(), "vp-br".into()]);
    let got: Vec<_> = pairs_of(&c, &inv);
    assert_eq!(
        got,
        [("vp-us", "vp-ch"), ("vp-us", "vp-br"), ("vp-ch", "vp-br")]
    );
}

fn pairs_of<'a>(c: &Campaign, inv: &'a Inventory) -> Vec<(&'a str, &'a str)> {
    pairs(c, inv)
        .into_iter()
        .map(|(a, b)| {
            let name = |n: &str| {
                inv.vantage_node(n)
                    .map(|v| v.name.as_str())
                    .unwrap_or_default()
            };
            (name(&a), name(&b))
        })
        .collect()
}

#[test]
fn long_names_give_short_stable_ids() {
    let long = "a".repeat(32);
    let id = measurement_id(&long, &long, "vp-ch", "vp-de", RunKind::Messages, 1);
    assert_eq!(id.len(), MAX_PLANNED_ID);
    assert_eq!(
        id,
        measurement_id(&long, &long, "vp-ch", "vp-de", RunKind::Messages, 1)
    );
    assert_ne!(
        id,
        measurement_id(&long, &long, "vp-ch", "vp-de", RunKind::Messages, 2)
    );
    assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    let odd = measurement_id(&"é".repeat(30), "x", "y", "z", RunKind::Baseline, 1);
    assert!(odd.len() <= MAX_PLANNED_ID, "no panic on a split character");
}
