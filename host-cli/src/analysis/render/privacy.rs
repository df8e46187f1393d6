//! The Privacy section of the HTML report: per app, its PII leaks and trackers, how many
//! encrypted flows were not inspected and how many the router's interception decrypted. Names, evidence and forms come from captured traffic:
//! every one goes through [`esc`].

use super::html::esc;
use crate::analysis::privacy::{AppPrivacy, PrivacyReport};
use std::fmt::Write as _;

/// Appends the section.
pub fn section(s: &mut String, p: &PrivacyReport) {
    s.push_str("<h2>Privacy</h2>");
    if p.apps.is_empty() {
        s.push_str(
            "<p class=\"note\">No privacy records: the privacy pass runs on the captures a \
             campaign fetches from the routers (imported measurements have none).</p>",
        );
        return;
    }
    let _ = write!(
        s,
        "<p class=\"note\">PII leaks and trackers in the flows of {} capture(s), each flow's \
         first bytes searched for the phones' registered values (plain and encoded) and \
         matched against the tracker list. Policy: {}. Evidence is masked.</p>",
        p.captures,
        esc(&p.policies.join("; "))
    );
    for app in &p.apps {
        app_section(s, app);
    }
}

fn app_section(s: &mut String, a: &AppPrivacy) {
    let _ = write!(
        s,
        "<h3>{}</h3><p>{} measurement(s), {} capture(s), {} flow(s): {} inspected, {}\
         <span class=\"unk\">{} encrypted not inspected</span>{}, {} without payload.</p>",
        esc(&a.app),
        a.measurements,
        a.captures,
        a.flows,
        a.inspected,
        if a.decrypted > 0 {
            format!("{} decrypted TLS, ", a.decrypted)
        } else {
            String::new()
        },
        a.encrypted_not_inspected,
        if a.pinned > 0 {
            format!(" ({} pinned)", a.pinned)
        } else {
            String::new()
        },
        a.without_payload
    );
    for note in &a.notes {
        let _ = write!(s, "<p class=\"note\">{}</p>", esc(note));
    }
    s.push_str("<h4>PII leaks</h4>");
    if a.leaks.is_empty() {
        s.push_str("<p class=\"note\">None found in the inspected flows.</p>");
    } else {
        s.push_str(
            "<table><tr><th>kind</th><th>label</th><th>encoding</th><th>forms</th>\
             <th>via</th><th>destination</th><th>address</th><th>where</th><th>evidence</th>\
             <th>flows</th><th>times</th></tr>",
        );
        for l in &a.leaks {
            let locations: Vec<String> = l
                .locations
                .iter()
                .map(|x| json_name(x).replace('_', " "))
                .collect();
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td><code>{}</code></td>\
                 <td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&l.kind.to_string()),
                esc(l.label.as_deref().unwrap_or("(by shape)")),
                esc(&l.encoding.to_string()),
                esc(&l.forms.join(", ")),
                l.via.label(),
                esc(&l.destination),
                esc(&l.address.to_string()),
                esc(&locations.join(", ")),
                esc(&l.evidence),
                l.flows,
                l.occurrences
            );
        }
        s.push_str("</table>");
    }
    s.push_str("<h4>Trackers</h4>");
    if a.trackers.is_empty() {
        s.push_str("<p class=\"note\">No flow to a listed tracker domain.</p>");
        return;
    }
    s.push_str(
        "<table><tr><th>domain</th><th>tracker</th><th>organisation</th><th>category</th>\
         <th>party</th><th>names</th><th>flows</th><th>bytes</th><th>blocked</th></tr>",
    );
    for t in &a.trackers {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} party</td><td>{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&t.domain),
            esc(&t.tracker),
            esc(&t.organisation),
            esc(&t.category.replace('_', " ")),
            json_name(&t.party),
            esc(&t.names.join(", ")),
            t.flows,
            t.bytes,
            blocked_cell(t.blocked, t.got_through)
        );
    }
    s.push_str("</table>");
}

/// How a tracker's flows fared against the policy's blocking: `no`, `all`, `2 of 3`, and
/// how many got through anyway.
fn blocked_cell(blocked: usize, got_through: usize) -> String {
    match (blocked, got_through) {
        (0, _) => "no".into(),
        (b, 0) => format!("{b}, refused"),
        (b, g) => format!("{b}, {g} got through"),
    }
}

/// A unit enum's JSON name (`to_server`, `third`).
fn json_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
