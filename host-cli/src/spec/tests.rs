//! Spec loading: the examples, and errors that name file, line and column.

use super::*;
use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

#[track_caller]
fn starts(got: String, want: &str) {
    assert!(got.starts_with(want), "got: {got}\nwant: {want}…");
}

#[track_caller]
fn has(got: String, want: &str) {
    assert!(got.contains(want), "got: {got}\nwant: …{want}…");
}

fn no_regions(_: &str) -> Option<String> {
    None
}

pub(crate) const INVENTORY: &str = "\
routers:
  - name: zrh
    api: 10.200.0.2:8443
    token_file: secrets/zrh.token
    fingerprint: \"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89\"
    ap: ap0
    wifi: { ssid: matador-zrh, passphrase: correct-horse }
  - { name: lr-b, from_lab: true }
phones:
  - { serial: R58M123, model: Pixel 7, router: zrh, root: su }
  - { serial: \"127.0.0.1:25551\", model: Galaxy S23, router: lr-b, connect: true }
vantage_nodes:
  - { name: vp-ch, country: CH, city: Zurich, lat: 47.37, lon: 8.54, from_lab: true }
  - { name: vp-de, country: DE, city: Frankfurt, lat: 50.11, lon: 8.68, wg_quick: vp/de.conf }
  - { name: vp-us, country: US, city: New York, lat: 40.71, lon: -74.0, region: Americas, from_lab: true }
  - { name: vp-br, country: BR, city: Sao Paulo, lat: -23.55, lon: -46.63, from_lab: true }
";

pub(crate) const APP: &str = "\
name: chat
package: com.example.chat
activity: .Main
message: { text: \"hello {n}\", count: 3 }
timers: { before_first_s: 5, between_s: 2, after_last_s: 4 }
ui:
  default:
    send:
      - send_message: { field: [10, 20], button: [30, 40] }
";

fn inventory() -> Inventory {
    parse_inventory(INVENTORY, "inv.yaml", Path::new("/etc/matador")).expect("inventory")
}

#[test]
fn the_examples_load_and_expand() {
    let loaded =
        load_campaign(&examples().join("demo.yaml"), None, &no_regions).expect("demo loads");
    assert_eq!(loaded.campaign.name, "demo");
    let names: Vec<_> = loaded.apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["global-messenger", "swiss-messenger", "geo-messenger"]
    );
    assert_eq!(loaded.inventory.routers.len(), 4);
    assert_eq!(loaded.inventory.vantage_nodes.len(), 12);
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        loaded.inventory.router_pairs,
        [pair("lr-a", "lr-b"), pair("lr-c", "lr-d")]
    );
    let global = &loaded.apps[0];
    assert_eq!(
        global.component(),
        "com.globalmessenger.android/.HomeActivity"
    );
    assert_eq!(global.message_text(2), "MATAdOR demo 2 via global");
    assert_eq!(global.script_for("Pixel 7").map(|s| s.open.len()), Some(1));
    assert_eq!(
        global.script_for("Galaxy S23").map(|s| s.send.len()),
        Some(3)
    );
    assert_eq!(
        loaded.apps[1].timers.capture_margin_s, 2.0,
        "the default margin"
    );
    // 4 pairs, each: 3 apps × 1 repetition, no baselines (the demo must be short).
    let plan = expand(&loaded.campaign, &loaded.inventory, &loaded.apps);
    assert_eq!(plan.len(), 4 * 3);
    assert_eq!(plan[0].id, "demo-global-messenger-vp-ch-vp-de-r1");
    assert_eq!(plan[0].kind, RunKind::Messages);
    assert_eq!(plan[1].id, "demo-swiss-messenger-vp-ch-vp-de-r1");
    assert_eq!(plan.last().map(|m| m.chunk), Some(3), "one chunk per pair");
    let inv = load_inventory(&examples().join("lab-inventory.yaml")).expect("inventory");
    assert!(inv.routers.iter().all(|r| r.access == RouterAccess::Lab));
    assert_eq!(
        inv.phone_of("lr-b").map(|p| p.model.as_str()),
        Some("Galaxy S23")
    );
    // The IMEIs registered are the default lab's phones' (derived: lab/src/topology/imei.rs).
    let topology =
        matador_lab::topology::load_file(&examples().join("../lab/topologies/default.yaml"))
            .expect("default topology");
    for node in &topology.nodes {
        let matador_lab::topology::NodeRole::Phone(p) = &node.role else {
            continue;
        };
        let serial = format!("127.0.0.1:{}", p.adb_port);
        let entry = inv
            .phones
            .iter()
            .find(|e| e.serial == serial)
            .expect("listed");
        let imei: Vec<&str> = entry.pii.iter().map(|v| v.value.as_str()).collect();
        assert_eq!(imei, [p.imei.as_str()], "{}", node.name);
    }
}

#[test]
fn an_inventory_resolves_paths_and_fingerprints() {
    let inv = inventory();
    let RouterAccess::Direct {
        api,
        token_file,
        fingerprint,
        wifi,
    } = &inv.routers[0].access
    else {
        panic!("zrh is a direct router");
    };
    assert_eq!(api, "10.200.0.2:8443");
    assert_eq!(token_file, Path::new("/etc/matador/secrets/zrh.token"));
    assert_eq!(
        fingerprint.resolve().expect("inline"),
        "abcdef0123456789".repeat(4)
    );
    assert_eq!(wifi.passphrase.resolve().expect("inline"), "correct-horse");
    assert!(
        !format!("{wifi:?}").contains("correct-horse"),
        "Debug hides it"
    );
    let json = serde_json::to_string(&inv).expect("serialises");
    assert!(
        json.contains("<redacted>") && !json.contains("correct-horse"),
        "{json}"
    );
    assert_eq!(
        inv.routers[1].ap, "lr-b",
        "a lab router's AP is named after it"
    );
    assert_eq!(inv.phones[0].root, RootVia::Su);
    assert_eq!(
        inv.vantage_nodes[1].peer,
        PeerSource::File(PathBuf::from("/etc/matador/vp/de.conf"))
    );
    assert_eq!(inv.router_pairs, [("zrh".to_string(), "lr-b".to_string())]);
    let mut filled = inv.clone();
    filled.fill_regions(|c| (c == "CH").then(|| "Europe".to_string()));
    assert_eq!(filled.vantage_nodes[0].region.as_deref(), Some("Europe"));
    assert_eq!(
        filled.vantage_nodes[2].region.as_deref(),
        Some("Americas"),
        "kept"
    );
}

fn inventory_error(from: &str, to: &str) -> String {
    assert!(INVENTORY.contains(from), "fixture has {from}");
    parse_inventory(&INVENTORY.replacen(from, to, 1), "inv.yaml", Path::new("."))
        .expect_err("refused")
        .to_string()
}

#[test]
fn inventory_mistakes_point_at_their_line() {
    let e = |from: &str, to: &str| inventory_error(from, to);
    starts(
        e("router: lr-b,", "router: lr-x,"),
        "inv.yaml:11:61: router `lr-x` is not in `routers`",
    );
    starts(
        e("    ap: ap0\n", "    ap: ap0\n    colour: red\n"),
        "inv.yaml:7:5: unknown field `colour`, expected one of name, ap, from_lab, api,",
    );
    starts(
        e(
            "name: lr-b, from_lab: true",
            "name: lr-b, from_lab: true, api: \"x:1\"",
        ),
        "inv.yaml:8:13: router `lr-b` is `from_lab`, so it takes no api",
    );
    has(
        e("router: lr-b,", "router: zrh,"),
        "router `zrh` has 2 phones (R58M123, 127.0.0.1:25551)",
    );
    starts(
        e("fingerprint: \"AB:", "fingerprint: \"AB:AB:"),
        "inv.yaml:5:18: fingerprint must be a SHA-256",
    );
    starts(
        e("passphrase: correct-horse", "passphrase: short"),
        "inv.yaml:7:44: a WPA2 passphrase is 8 to 63",
    );
    starts(e("lat: 50.11", "lat: 95"), "inv.yaml:14:55: lat must be");
    has(e("country: BR", "country: Brazil"), "ISO 3166-1");
    has(
        e(", wg_quick: vp/de.conf", ""),
        "needs exactly one of `from_lab: true`, `wg_quick`",
    );
    starts(
        e("wg_quick: vp/de.conf", "wg_quick_inline: \"[Peer]\""),
        "inv.yaml:14:90: wg-quick config",
    );
    has(
        e("R58M123, model", "R58M123, connect: true, model"),
        "`connect: true` needs the serial to be IPv4:PORT",
    );
    has(
        e(
            "phones:\n",
            "  - { name: r3, from_lab: true }\nphones:\n  - { serial: S3, model: X, router: r3 }\n",
        ),
        "3 routers cannot pair up",
    );
    has(
        e(
            "vantage_nodes:\n",
            "router_pairs: [[zrh, zrh]]\nvantage_nodes:\n",
        ),
        "router `zrh` cannot pair with itself",
    );
    has(e("name: vp-br", "name: vp-ch"), "`vp-ch` is listed twice");
}

fn app_error(from: &str, to: &str) -> String {
    assert!(APP.contains(from), "fixture has {from}");
    parse_app(&APP.replacen(from, to, 1), "app.yaml")
        .expect_err("refused")
        .to_string()
}

#[test]
fn app_mistakes_point_at_their_line() {
    let app = parse_app(APP, "app.yaml").expect("app");
    assert_eq!(app.messaging_s(), 5.0 + 2.0 * 2.0 + 4.0);
    assert_eq!(app.rules.app.as_deref(), Some("com.example.chat"));
    has(app.rules_yaml().expect("yaml"), "com.example.chat");
    let e = |from: &str, to: &str| app_error(from, to);
    starts(
        e("activity: .Main", "activity: .Main\nicon: x"),
        "app.yaml:4:1: unknown field `icon`, expected one of name, package, activity, uid,",
    );
    starts(
        e("com.example.chat", "com.example.chat;reboot"),
        "app.yaml:2:10: package",
    );
    starts(e("count: 3", "count: 0"), "app.yaml:4:38: message count");
    starts(e("count: 3", "count: -1"), "app.yaml:4:38: ");
    starts(
        e("between_s: 2", "between_s: 99999"),
        "app.yaml:5:41: between_s",
    );
    has(e("hello {n}", "gr\u{fc}ezi {n}"), "printable ASCII");
    has(
        e(
            "send_message: { field: [10, 20], button: [30, 40] }",
            "tap: [10, 20]",
        ),
        "`send` needs exactly one sending step",
    );
    starts(
        e(
            "send_message: { field: [10, 20], button: [30, 40] }",
            "tap: [10]",
        ),
        "app.yaml:9:9: invalid length 1",
    );
    has(
        e("    send:\n", "    open: [{send_tap: [1, 2]}]\n    send:\n"),
        "`open` must not send",
    );
    starts(
        e("    send:\n", "    open: [{keyevent: enter}]\n    send:\n"),
        "app.yaml:8:12: keyevent `enter`",
    );
    has(
        e("    send:\n", "    open: [{screenshot: ../x}]\n    send:\n"),
        "screenshot name `../x`",
    );
    has(
        e("activity: .Main", "activity: .Main\nuid: 1000"),
        "not an app UID",
    );
    has(
        e("ui:", "rules: { deny: [{ reason: all }] }\nui:"),
        "rules.deny[0] matches everything",
    );
    has(
        e("ui:", "rules: { deny: [{ host: x }] }\nui:"),
        "unknown field `host`",
    );
}

fn campaign(text: &str) -> Result<LoadedCampaign, SpecError> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("inv.yaml"), INVENTORY).expect("write");
    std::fs::write(dir.path().join("chat.yaml"), APP).expect("write");
    let regions = |c: &str| match c {
        "CH" | "DE" => Some("Europe".to_string()),
        "BR" => Some("Americas".to_string()),
        _ => None,
    };
    parse_campaign(text, "c.yaml", dir.path(), None, &regions).map_err(|mut e| {
        // Errors about the temporary files name them by their folder; keep the name only.
        e.file = e.file.rsplit('/').next().unwrap_or_default().to_string();
        e
    })
}

const CAMPAIGN: &str = "\
name: c1
inventory: inv.yaml
apps: [chat.yaml]
pairs: within_region
repetitions: 2
";

#[test]
fn campaign_mistakes_point_at_their_line() {
    let ok = campaign(CAMPAIGN).expect("campaign");
    assert_eq!(ok.apps[0].name, "chat");
    assert_eq!(
        ok.inventory.vantage_nodes[3].region.as_deref(),
        Some("Americas")
    );
    // Europe: CH-DE; Americas: US-BR; 1 app × 2 repetitions each.
    assert_eq!(expand(&ok.campaign, &ok.inventory, &ok.apps).len(), 2 * 2);
    let e = |from: &str, to: &str| {
        assert!(CAMPAIGN.contains(from), "fixture has {from}");
        campaign(&CAMPAIGN.replacen(from, to, 1))
            .expect_err("refused")
            .to_string()
    };
    let explicit = |pairs: &str| {
        e(
            "pairs: within_region",
            &format!("pairs: {{explicit: {pairs}}}"),
        )
    };
    assert_eq!(
        explicit("[[vp-ch, vp-xx]]"),
        "c.yaml:4:28: `vp-xx` is not a vantage node of the inventory"
    );
    assert_eq!(
        e("pairs: within_region", "pairs: some"),
        "c.yaml:4:8: unknown variant `some`, expected one of all, within_region, explicit"
    );
    has(explicit("[[vp-ch, vp-ch]]"), "names one vantage node twice");
    starts(
        explicit("[[vp-ch, vp-de], [vp-de, vp-ch]]"),
        "c.yaml:4:37: pair [vp-de, vp-ch] is listed twice",
    );
    assert_eq!(
        e("[chat.yaml]", "[chat.yaml, other]"),
        "c.yaml:3:19: app `other` is not defined in `app_specs` (give a path such as apps/other.yaml for a file)"
    );
    starts(e("[chat.yaml]", "[missing.yaml]"), "c.yaml:3:8: ");
    has(
        e("[chat.yaml]", "[missing.yaml]"),
        "missing.yaml: cannot read",
    );
    has(
        e("[chat.yaml]", "[chat.yaml, chat.yaml]"),
        "app `chat` is in the campaign twice",
    );
    starts(
        e("repetitions: 2", "repetitions: 0"),
        "c.yaml:5:14: repetitions",
    );
    starts(
        e("name: c1", "name: c1\nchunk_size: 0"),
        "c.yaml:2:13: chunk_size",
    );
    has(e("inventory: inv.yaml\n", ""), "no inventory");
    has(
        e(
            "pairs: within_region",
            "nodes: [vp-ch, vp-us]\npairs: within_region",
        ),
        "finds no two nodes in one region",
    );
    has(
        e("pairs: within_region", "nodes: [vp-ch]\npairs: all"),
        "`all` needs at least two vantage nodes",
    );
    let inline = "app_specs:\n  - name: chat2\n    package: com.x.y\n    activity: .M\n    message: {text: hi, count: 1}\n    timers: {before_first_s: 1, between_s: 1, after_last_s: 1}\n    ui:\n      Pixel 7:\n        send: [{send_tap: [1, 2]}]\n";
    let missing_model = format!("{}{inline}", CAMPAIGN.replace("[chat.yaml]", "[chat2]"));
    assert_eq!(
        campaign(&missing_model).expect_err("refused").to_string(),
        "c.yaml:3:8: app `chat2` has no UI script for phone model `Galaxy S23` and no `default`"
    );
}
