//! Reports as text: terminal tables, CSV (long format: one line per cell), JSON (the report
//! as data), and a self-contained HTML page with plots and a per-measurement drill-down.

mod csv;
mod html;
mod privacy;
mod svg;
mod text;

use super::tables::{Scope, Share};
use super::Report;

/// Output formats of `matador-host analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned tables for a terminal.
    Table,
    /// One line per table cell.
    Csv,
    /// The whole report as data.
    Json,
    /// A page with tables, plots and every path hop by hop.
    Html,
}

/// Renders a report.
pub fn render(report: &Report, format: Format) -> Result<String, serde_json::Error> {
    Ok(match format {
        Format::Table => text::render(report),
        Format::Csv => csv::render(report),
        Format::Json => serde_json::to_string_pretty(report)? + "\n",
        Format::Html => html::render(report),
    })
}

/// A share as `50.0% (1/2)`, `-` without measurements.
fn cell(s: &Share) -> String {
    match s.percent() {
        None => "-".into(),
        Some(p) => format!("{p:.1}% ({}/{})", s.hits, s.measurements),
    }
}

/// The label of a scope.
fn scope_name(s: Scope) -> &'static str {
    match s {
        Scope::All => "all",
        Scope::Region => "region",
        Scope::Subregion => "subregion",
        Scope::InterRegion => "inter-region",
    }
}

#[cfg(test)]
mod tests;
