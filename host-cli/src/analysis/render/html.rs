//! The HTML report: one self-contained page (no scripts, no external files) with both
//! tables, per-app plots, the Privacy section and every measurement's paths hop by hop. Every string from a
//! record (ids, app and endpoint names, addresses, anything from captured traffic) goes
//! through [`esc`].

use super::svg::{bars, Category};
use super::{cell, scope_name};
use crate::analysis::paths::{LocatedHop, LocatedTrace, MeasurementPaths, PathView};
use crate::analysis::schema::Side;
use crate::analysis::tables::{Row, Scope, Share};
use crate::analysis::Report;
use crate::geo::plausible::Check;
use std::fmt::Write as _;

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;max-width:80em}\
table{border-collapse:collapse;margin:.5em 0 1em}\
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;font-size:13px}\
th{background:#eef}td.n{text-align:right}tr.sub td{color:#444}\
.unk{color:#a60}.flag{color:#b00}.note{font-size:12px;color:#444}\
details{margin:.3em 0}summary{cursor:pointer}code{font-size:12px}";

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The HTML page.
pub fn render(r: &Report) -> String {
    let t = &r.tables;
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>MATAdOR analysis</title><style>{STYLE}</style></head><body>\
         <h1>Where does the traffic go?</h1><p>{} measurement(s) analysed; geolocation: {}; \
         interest groups: {}. Hops: {} in all, <span class=\"unk\">{} unknown</span>, \
         <span class=\"flag\">{} with an implausible claim</span> ({} corrected).</p>",
        r.measurements.len(),
        esc(&r.geo_sources.join(", ")),
        esc(&r.groups.origin),
        r.hops.hops,
        r.hops.unknown,
        r.hops.flagged,
        r.hops.corrected
    );
    s.push_str(
        "<h2>Traffic leaving the region</h2><p class=\"note\">Share of measurements between \
         two countries of one region (subregion) whose path crosses a country outside it. \
         Unknown hops never count; +N? tells how many paths had some.</p>",
    );
    table(&mut s, &t.apps, &t.leaving, false);
    let _ = write!(
        s,
        "<p class=\"note\">Left out: {} measurement(s) between regions, {} with an endpoint \
         country in no region.</p>",
        t.inter_region, t.unplaced
    );
    s.push_str(
        "<h2>Traffic accessible for interest groups</h2><p class=\"note\">Share of \
         measurements whose path crosses a member country. ",
    );
    s.push_str(match t.endpoints {
        crate::analysis::groups::EndpointRule::Exclude => {
            "Measurements with an endpoint in the group are left out (excl.).</p>"
        }
        crate::analysis::groups::EndpointRule::Count => {
            "Measurements with an endpoint in the group count as accessible.</p>"
        }
    });
    table(&mut s, &t.apps, &t.access, true);
    s.push_str("<h3>Groups</h3><ul>");
    for g in &r.groups.groups {
        let members: Vec<&str> = g.members.iter().map(String::as_str).collect();
        let _ = write!(s, "<li>{}: {}</li>", esc(&g.name), esc(&members.join(" ")));
    }
    s.push_str("</ul><h2>Per app</h2>");
    for app in &t.apps {
        plots(&mut s, r, app);
    }
    super::privacy::section(&mut s, &r.privacy);
    s.push_str("<h2>Measurements</h2>");
    for m in &r.measurements {
        measurement(&mut s, m);
    }
    if !r.skipped.is_empty() {
        s.push_str("<h2>Skipped</h2><ul>");
        for k in &r.skipped {
            let _ = write!(s, "<li>{}: {}</li>", esc(&k.id), esc(&k.reason));
        }
        s.push_str("</ul>");
    }
    s.push_str("</body></html>\n");
    s
}

fn share_cell(sh: Option<&Share>) -> String {
    match sh {
        None => "<td class=\"n\">-</td>".into(),
        Some(sh) if sh.with_unknown > 0 => format!(
            "<td class=\"n\">{} <span class=\"unk\">+{}?</span></td>",
            esc(&cell(sh)),
            sh.with_unknown
        ),
        Some(sh) => format!("<td class=\"n\">{}</td>", esc(&cell(sh))),
    }
}

fn table(s: &mut String, apps: &[String], rows: &[Row], with_group: bool) {
    s.push_str("<table><tr>");
    if with_group {
        s.push_str("<th>group</th>");
    }
    s.push_str("<th>scope</th><th>name</th><th>meas.</th>");
    if with_group {
        s.push_str("<th>excl.</th>");
    }
    s.push_str("<th>network path</th>");
    for a in apps {
        let _ = write!(s, "<th>{}</th>", esc(a));
    }
    s.push_str("</tr>");
    for row in rows {
        let class = if row.scope == Scope::Subregion {
            " class=\"sub\""
        } else {
            ""
        };
        let _ = write!(s, "<tr{class}>");
        if with_group {
            let _ = write!(s, "<td>{}</td>", esc(&row.group));
        }
        let _ = write!(
            s,
            "<td>{}</td><td>{}</td><td class=\"n\">{}</td>",
            scope_name(row.scope),
            esc(&row.name),
            row.measurements
        );
        if with_group {
            let _ = write!(s, "<td class=\"n\">{}</td>", row.excluded);
        }
        s.push_str(&share_cell(Some(&row.network)));
        for a in apps {
            s.push_str(&share_cell(row.apps.get(a)));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
}

fn plots(s: &mut String, r: &Report, app: &str) {
    let t = &r.tables;
    let leaving: Vec<Category<'_>> = t
        .leaving
        .iter()
        .filter(|row| matches!(row.scope, Scope::All | Scope::Region) && row.apps.contains_key(app))
        .map(|row| Category {
            label: row.name.clone(),
            network: &row.network,
            app: row.apps.get(app),
        })
        .collect();
    let access: Vec<Category<'_>> = t
        .access
        .iter()
        .filter(|row| row.scope == Scope::All)
        .map(|row| Category {
            label: row.group.clone(),
            network: &row.network,
            app: row.apps.get(app),
        })
        .collect();
    let _ = write!(s, "<h3>{}</h3>", esc(app));
    s.push_str("<p class=\"note\">Share of measurements leaving the region, per region:</p>");
    if leaving.is_empty() {
        s.push_str("<p class=\"note\">No measurement within one region.</p>");
    } else {
        s.push_str(&bars(
            &format!("{app}: share leaving the region, per region"),
            app,
            &leaving,
        ));
    }
    s.push_str("<p class=\"note\">Share of measurements accessible, per interest group:</p>");
    s.push_str(&bars(
        &format!("{app}: share accessible per interest group"),
        app,
        &access,
    ));
}

fn sequence(p: &PathView) -> String {
    if !p.present {
        return "not traced".into();
    }
    p.sequence.join(" → ")
}

fn measurement(s: &mut String, m: &MeasurementPaths) {
    let node = |n: &crate::analysis::schema::VantageNode| {
        format!(
            "{} ({}{})",
            n.name,
            n.country,
            n.city
                .as_deref()
                .map(|c| format!(", {c}"))
                .unwrap_or_default()
        )
    };
    let _ = write!(
        s,
        "<details><summary><code>{}</code> {} — {} → {}: network {} · app {}</summary>",
        esc(&m.id),
        esc(&m.app),
        esc(&node(&m.a)),
        esc(&node(&m.b)),
        esc(&sequence(&m.network)),
        esc(&sequence(&m.application))
    );
    for (title, p) in [
        ("Network path", &m.network),
        ("Application path", &m.application),
    ] {
        let _ = write!(s, "<h4>{title}: {}</h4>", esc(&sequence(p)));
        for t in &p.traces {
            trace(s, t);
        }
    }
    s.push_str("</details>");
}

fn trace(s: &mut String, t: &LocatedTrace) {
    let side = match t.from {
        Side::A => "A",
        Side::B => "B",
    };
    let target = match &t.endpoint {
        Some(e) => format!(
            "{} {}{}{}",
            e.protocol,
            e.ip,
            e.port.map(|p| format!(":{p}")).unwrap_or_default(),
            e.name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ),
        None => t.dst.clone(),
    };
    let state = match (t.traced, t.reached) {
        (false, _) => "not traced",
        (true, true) => "reached",
        (true, false) => "not reached",
    };
    let _ = write!(
        s,
        "<p class=\"note\">From {side} to {} — {} {}</p><table><tr><th>TTL</th>\
         <th>address</th><th>country</th><th>from</th><th>min RTT</th><th>RTT check</th>\
         <th>database answers</th><th>notes</th></tr>",
        esc(&target),
        esc(&t.proto),
        state
    );
    for h in &t.hops {
        hop(s, h);
    }
    s.push_str("</table>");
}

fn hop(s: &mut String, h: &LocatedHop) {
    let g = &h.geo;
    let country = match (&g.country, g.unknown) {
        (Some(c), _) => esc(c),
        (None, Some(why)) => format!("<span class=\"unk\">unknown ({})</span>", esc(&label(why))),
        (None, None) => "<span class=\"unk\">unknown</span>".into(),
    };
    let check = match g.check {
        Some(Check::Plausible { min_km, max_km }) => {
            format!("≥{min_km:.0} km away, reach ≤{max_km:.0} km: plausible")
        }
        Some(Check::Implausible { min_km, max_km }) => {
            format!("≥{min_km:.0} km away, reach ≤{max_km:.0} km: implausible")
        }
        Some(Check::NotChecked { why }) => format!("not checked: {why}"),
        None => String::new(),
    };
    let claims: Vec<String> = g
        .claims
        .iter()
        .map(|c| format!("{}: {}", c.source, c.country))
        .collect();
    let mut notes: Vec<String> = g
        .flagged
        .iter()
        .map(|f| {
            format!(
                "<span class=\"flag\">{} from {} implausible (≥{:.0} km, reach ≤{:.0} km)</span>",
                esc(&f.claimed),
                esc(&f.source),
                f.min_km,
                f.max_km
            )
        })
        .collect();
    if let Some(c) = &g.correction {
        notes.push(esc(c));
    }
    let _ = write!(
        s,
        "<tr><td class=\"n\">{}</td><td><code>{}</code></td><td>{country}</td><td>{}</td>\
         <td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        h.ttl.map_or_else(|| "target".into(), |t| t.to_string()),
        esc(h.addr.as_deref().unwrap_or("*")),
        esc(g.source.as_deref().unwrap_or("")),
        h.min_rtt_ms
            .map(|r| format!("{r:.1} ms ({}/{})", h.replies, h.probes))
            .unwrap_or_default(),
        esc(&check),
        esc(&claims.join("; ")),
        notes.join("<br>")
    );
}

fn label(u: crate::geo::plausible::Unknown) -> String {
    serde_json::to_value(u)
        .ok()
        .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
        .unwrap_or_default()
}
