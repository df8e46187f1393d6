//! Renderers: numbers where they belong, and nothing from a record unescaped.

use super::*;
use crate::analysis::groups::Groups;
use crate::analysis::regions::Regions;
use crate::analysis::test_support::{geo, measurement};
use crate::analysis::{Analyzer, Skipped};

const EVIL: &str = "<script>alert(\"x\")</script>";

fn report() -> Report {
    let mut m1 = measurement(
        "m1",
        "alpha",
        ("DE", "FR"),
        Some(&["DE", "FR"]),
        &["DE", "GB", "US"],
        &["FR", "GB", "US"],
    );
    // Names from captured traffic and ids from elsewhere are hostile.
    m1.app_paths[0].endpoint.name = Some(EVIL.into());
    let mut m2 = measurement(
        "m2<img src=x>",
        "=beta,\"q\"",
        ("DE", "PL"),
        Some(&["DE", "*", "PL"]),
        &["DE", "DE"],
        &["PL", "DE"],
    );
    m2.a.city = Some(EVIL.into());
    let regions = Regions::builtin().unwrap();
    let groups = Groups::preset("default", &regions).unwrap().unwrap();
    let a = Analyzer::new(geo(), regions, groups).unwrap();
    a.analyze(
        &[m1, m2],
        vec![Skipped {
            id: EVIL.into(),
            reason: "the record does not parse".into(),
        }],
    )
    .unwrap()
}

#[test]
fn html_escapes_everything_from_records() {
    let html = render(&report(), Format::Html).unwrap();
    assert!(!html.contains("<script"), "unescaped script");
    assert!(!html.contains("<img"), "unescaped img");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    assert!(html.contains("m2&lt;img src=x&gt;"));
    assert!(html.contains("=beta,&quot;q&quot;"));
    // Tables, plots and the drill-down are all there.
    assert!(html.contains("Traffic leaving the region"));
    assert!(html.contains("<svg"));
    assert!(html.contains("100.0% (1/1)"));
    assert!(html.contains("<details>"));
    assert!(
        html.contains("DE → ? → PL"),
        "network sequence with the unknown hop"
    );
    assert!(html.contains("unknown (unresponsive)"));
}

#[test]
fn text_tables_show_shares_and_unknown_counts() {
    let text = render(&report(), Format::Table).unwrap();
    // Europe: network 0 of 2 (m2 with an unknown hop); alpha 1 of 1 (m1 leaves via US).
    assert!(text.contains("0.0% (0/2) +1?"), "{text}");
    assert!(text.contains("100.0% (1/1)"), "{text}");
    assert!(text.contains("skipped"), "{text}");
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn csv_is_long_format_with_quoted_fields() {
    let csv = render(&report(), Format::Csv).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("table,group,scope,name"));
    assert!(csv.contains("leaving_region,,region,Europe,2,0,network,2,0,0.0000,1"));
    assert!(csv.contains("leaving_region,,region,Europe,2,0,app:alpha,1,1,100.0000,0"));
    // The hostile app name is defused and quoted.
    assert!(csv.contains("\"app:=beta,\"\"q\"\"\""), "{csv}");
    assert_eq!(csv::field("=1+1"), "'=1+1");
}

#[test]
fn json_is_the_report_as_data() {
    let json = render(&report(), Format::Json).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["measurements"].as_array().unwrap().len(), 2);
    assert_eq!(v["tables"]["apps"][0], "=beta,\"q\"");
    assert_eq!(v["skipped"][0]["id"], EVIL);
}
