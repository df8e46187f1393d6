//! CSV in long format: one line per table cell, so spreadsheets and data frames need no
//! reshaping. Text fields are quoted as RFC 4180 asks, and text that a spreadsheet would
//! run as a formula is prefixed with `'`.

use super::scope_name;
use crate::analysis::tables::{Row, Share};
use crate::analysis::Report;

const HEADER: &str = "table,group,scope,name,row_measurements,excluded,path,measurements,hits,\
share_percent,with_unknown";

/// The CSV report.
pub fn render(r: &Report) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for (table, rows) in [
        ("leaving_region", &r.tables.leaving),
        ("interest_group", &r.tables.access),
    ] {
        for row in rows {
            line(&mut out, table, row, "network", &row.network);
            for (app, share) in &row.apps {
                line(&mut out, table, row, &format!("app:{app}"), share);
            }
        }
    }
    out
}

fn line(out: &mut String, table: &str, row: &Row, path: &str, s: &Share) {
    let pct = s.percent().map_or_else(String::new, |p| format!("{p:.4}"));
    let fields = [
        table.to_owned(),
        field(&row.group),
        scope_name(row.scope).to_owned(),
        field(&row.name),
        row.measurements.to_string(),
        row.excluded.to_string(),
        field(path),
        s.measurements.to_string(),
        s.hits.to_string(),
        pct,
        s.with_unknown.to_string(),
    ];
    out.push_str(&fields.join(","));
    out.push('\n');
}

/// A text field: formula-looking text defused, then quoted when it needs to be.
pub(super) fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}
