//! Terminal tables. Names from captured traffic never reach this view (only app names,
//! regions and groups), but control characters are still replaced so a record cannot
//! drive the terminal.

use super::{cell, scope_name};
use crate::analysis::tables::Row;
use crate::analysis::Report;
use std::fmt::Write as _;

/// The text report.
pub fn render(r: &Report) -> String {
    let t = &r.tables;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Traffic leaving the region: share of measurements whose path crosses a country \
         outside the region (subregion) of both endpoints"
    );
    table(&mut out, &t.apps, &t.leaving, false);
    let _ = writeln!(
        out,
        "Left out: {} measurement(s) between regions, {} with an endpoint country in no region.\n",
        t.inter_region, t.unplaced
    );
    let rule = match t.endpoints {
        crate::analysis::groups::EndpointRule::Exclude => {
            "measurements with an endpoint in the group are left out (excl.)"
        }
        crate::analysis::groups::EndpointRule::Count => {
            "measurements with an endpoint in the group count as accessible"
        }
    };
    let _ = writeln!(
        out,
        "Traffic accessible for interest groups ({}): share of measurements whose path crosses \
         a member country; {rule}",
        clean(&r.groups.origin)
    );
    table(&mut out, &t.apps, &t.access, true);
    let _ = writeln!(
        out,
        "Cells: share (hits/measurements with that path); +N?: N of them have hops of unknown \
         country, which never count."
    );
    let h = &r.hops;
    let _ = writeln!(
        out,
        "Hops: {} in all, {} unknown, {} with an implausible claim ({} corrected). \
         Databases: {}.",
        h.hops,
        h.unknown,
        h.flagged,
        h.corrected,
        clean(&r.geo_sources.join(", "))
    );
    privacy(&mut out, &r.privacy);
    let _ = writeln!(out, "Measurements: {} analysed", r.measurements.len());
    for s in &r.skipped {
        let _ = writeln!(out, "  skipped {}: {}", clean(&s.id), clean(&s.reason));
    }
    out
}

fn table(out: &mut String, apps: &[String], rows: &[Row], with_group: bool) {
    let mut header: Vec<String> = Vec::new();
    if with_group {
        header.push("group".into());
    }
    header.extend(["scope", "name", "meas."].map(String::from));
    if with_group {
        header.push("excl.".into());
    }
    header.push("network".into());
    header.extend(apps.iter().map(|a| clean(a)));
    let mut lines = vec![header];
    for row in rows {
        let mut l: Vec<String> = Vec::new();
        if with_group {
            l.push(clean(&row.group));
        }
        l.push(scope_name(row.scope).into());
        l.push(clean(&row.name));
        l.push(row.measurements.to_string());
        if with_group {
            l.push(row.excluded.to_string());
        }
        l.push(with_unknown(&row.network));
        for app in apps {
            l.push(row.apps.get(app).map_or_else(|| "-".into(), with_unknown));
        }
        lines.push(l);
    }
    let cols = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            lines
                .iter()
                .filter_map(|l| l.get(i))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for l in &lines {
        let cells: Vec<String> = l
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
}

fn with_unknown(s: &crate::analysis::tables::Share) -> String {
    if s.with_unknown > 0 {
        format!("{} +{}?", cell(s), s.with_unknown)
    } else {
        cell(s)
    }
}

/// One line per app: leaks, trackers, encrypted flows not inspected (details: HTML, JSON).
fn privacy(out: &mut String, p: &crate::analysis::privacy::PrivacyReport) {
    if p.apps.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "Privacy ({} captures; details in the HTML and JSON reports):",
        p.captures
    );
    for a in &p.apps {
        let mut trackers: Vec<String> = a.trackers.iter().map(|t| clean(&t.organisation)).collect();
        trackers.dedup();
        let _ = writeln!(
            out,
            "  {}: {} PII leak row(s), {} tracker domain(s){}; {} of {} flows encrypted, not inspected{}",
            clean(&a.app),
            a.leaks.len(),
            a.trackers.len(),
            if trackers.is_empty() {
                String::new()
            } else {
                format!(" ({})", trackers.join(", "))
            },
            a.encrypted_not_inspected,
            a.flows,
            interception(a)
        );
    }
    if p.apps.iter().any(|a| a.encrypted_not_inspected > 0) {
        let _ = writeln!(out, "  {}", p.note);
    }
}

/// `; 3 decrypted TLS, 1 pinned` when the router intercepted TLS; empty otherwise.
fn interception(a: &crate::analysis::privacy::AppPrivacy) -> String {
    match (a.decrypted, a.pinned) {
        (0, 0) => String::new(),
        (d, p) => format!("; {d} decrypted TLS, {p} pinned"),
    }
}

/// Replaces control characters (escape sequences) with `?`.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
