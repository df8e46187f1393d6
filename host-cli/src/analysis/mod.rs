//! The analysis: collected measurements turned into the seed paper's answers. How often does
//! an app's traffic leave the region, and which interest groups can access it, compared to
//! the direct network path? Definitions: docs/analysis.md; record schema: docs/schema.md.
//!
//! [`Analyzer::analyze`] is the entry point: measurements in, a [`Report`] (tables as data,
//! and every path hop by hop) out; [`privacy::compute`] adds the Privacy section from the
//! privacy pass's records; [`render`] turns a report into text, CSV, JSON or HTML.

pub mod cli;
pub mod groups;
pub mod paths;
pub mod privacy;
pub mod regions;
pub mod render;
pub mod schema;
pub mod tables;

#[cfg(test)]
pub(crate) mod test_support;

use crate::geo::areas::{Areas, AreasError};
use crate::geo::{GeoError, GeoStack};
use crate::store::StoredRow;
use groups::{Groups, GroupsError};
use paths::{Locator, MeasurementPaths};
use regions::{Regions, RegionsError};
use schema::{Measurement, Status};
use serde::Serialize;
use tables::Tables;

/// Errors of the analysis.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// A geolocation database failed.
    #[error(transparent)]
    Geo(#[from] GeoError),
    /// The built-in M49 table is broken.
    #[error(transparent)]
    Regions(#[from] RegionsError),
    /// The built-in country areas are broken.
    #[error(transparent)]
    Areas(#[from] AreasError),
    /// The interest groups cannot be used.
    #[error(transparent)]
    Groups(#[from] GroupsError),
}

/// A measurement left out of the analysis, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Its id.
    pub id: String,
    /// Why.
    pub reason: String,
}

/// Hop counts over every path of the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HopSummary {
    /// Hops (one per responder and TTL, plus unreached targets).
    pub hops: usize,
    /// Hops without a country.
    pub unknown: usize,
    /// Hops with an implausible database claim.
    pub flagged: usize,
    /// Flagged hops that got a plausible country from another database or a neighbour.
    pub corrected: usize,
}

/// Everything the analysis found: the tables, and each measurement's located paths.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Geolocation databases, in the order they were asked.
    pub geo_sources: Vec<String>,
    /// The interest groups used.
    pub groups: Groups,
    /// Tables 2 and 3.
    pub tables: Tables,
    /// Hop counts.
    pub hops: HopSummary,
    /// Every analysed measurement, hop by hop.
    pub measurements: Vec<MeasurementPaths>,
    /// Measurements left out.
    pub skipped: Vec<Skipped>,
    /// Per app, PII leaks and trackers from the measurements' captures (empty without
    /// privacy records, e.g. for imported measurements).
    pub privacy: privacy::PrivacyReport,
}

/// Databases and tables, ready to analyse measurements.
pub struct Analyzer {
    geo: GeoStack,
    areas: Areas,
    regions: Regions,
    groups: Groups,
}

impl Analyzer {
    /// An analyzer with the built-in country areas.
    pub fn new(geo: GeoStack, regions: Regions, groups: Groups) -> Result<Self, AnalysisError> {
        Ok(Analyzer {
            geo,
            areas: Areas::builtin()?,
            regions,
            groups,
        })
    }

    /// Locates every path and computes the tables. Failed measurements are skipped and
    /// listed; `skipped` adds those left out before (e.g. records that did not parse).
    pub fn analyze(
        &self,
        measurements: &[Measurement],
        mut skipped: Vec<Skipped>,
    ) -> Result<Report, AnalysisError> {
        let mut locator = Locator::new(&self.geo, &self.areas, &self.regions);
        let mut located = Vec::with_capacity(measurements.len());
        for m in measurements {
            if m.status == Status::Failed {
                skipped.push(Skipped {
                    id: m.id.clone(),
                    reason: "the measurement failed".into(),
                });
                continue;
            }
            located.push(locator.measurement(m)?);
        }
        let tables = tables::compute(&located, &self.regions, &self.groups);
        let mut hops = HopSummary::default();
        for h in located
            .iter()
            .flat_map(|m| [&m.network, &m.application])
            .flat_map(|p| &p.traces)
            .flat_map(|t| &t.hops)
        {
            hops.hops += 1;
            hops.unknown += usize::from(h.geo.country.is_none());
            hops.flagged += usize::from(!h.geo.flagged.is_empty());
            hops.corrected += usize::from(h.geo.correction.is_some());
        }
        Ok(Report {
            geo_sources: self.geo.describe(),
            groups: self.groups.clone(),
            tables,
            hops,
            measurements: located,
            skipped,
            privacy: privacy::PrivacyReport::default(),
        })
    }

    /// Analyses stored rows: each record is parsed and checked; rows that fail are skipped
    /// with the reason, never fatal.
    pub fn analyze_rows(&self, rows: &[StoredRow]) -> Result<Report, AnalysisError> {
        let (ms, skipped) = measurements_from_rows(rows);
        self.analyze(&ms, skipped)
    }
}

/// Parses stored rows into measurements; rows that do not parse or validate are skipped.
pub fn measurements_from_rows(rows: &[StoredRow]) -> (Vec<Measurement>, Vec<Skipped>) {
    let mut ms = Vec::new();
    let mut skipped = Vec::new();
    for row in rows {
        let parsed = serde_json::from_str::<Measurement>(&row.record)
            .map_err(|e| format!("the record does not parse: {e}"))
            .and_then(|m| {
                m.validate()
                    .map(|()| m)
                    .map_err(|e| format!("the record is invalid: {e}"))
            });
        match parsed {
            Ok(m) => ms.push(m),
            Err(reason) => skipped.push(Skipped {
                id: row.id.clone(),
                reason,
            }),
        }
    }
    (ms, skipped)
}
