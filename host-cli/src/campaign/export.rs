//! `matador-host campaign export`: a campaign's measurements as one flat table, a row per
//! planned measurement (its plan, its run state, and how much raw result each side kept),
//! written as CSV or Parquet for pandas, DuckDB, R and the like.
//!
//! The rows are read straight from the result store's tables (`campaign_runs`,
//! `campaign_results`, see `state.rs`), and whatever is in the file gives a row: a plan that
//! does not parse leaves the plan columns empty, text that is not UTF-8 is read lossily.

use crate::spec::{PlannedMeasurement, RunKind};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// One planned measurement of a campaign, as exported. The plan columns (`kind` to `chunk`)
/// are `None` when the stored plan does not parse.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRow {
    /// The campaign's name.
    pub campaign: String,
    /// The measurement's id (`CAMPAIGN-APP-NODEA-NODEB-rN`).
    pub id: String,
    /// Position in the campaign, from 0.
    pub index: i64,
    /// `messages` or `baseline`.
    pub kind: Option<String>,
    /// App name.
    pub app: Option<String>,
    /// Vantage node of phone A (the sender).
    pub node_a: Option<String>,
    /// Vantage node of phone B.
    pub node_b: Option<String>,
    /// Repetition of this kind, from 1.
    pub repetition: Option<i64>,
    /// Chunk, from 0.
    pub chunk: Option<i64>,
    /// `planned`, `running`, `done` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// The last attempt's error.
    pub error: Option<String>,
    /// Start of the last attempt, Unix seconds.
    pub started: Option<f64>,
    /// End of the last finished attempt (done or failed), Unix seconds.
    pub ended: Option<f64>,
    /// `ended - started` when the last attempt has ended, seconds.
    pub duration_s: Option<f64>,
    /// The folder of the last attempt's screenshots.
    pub screenshots: Option<String>,
    /// Raw results kept from router A (capture, flows, traces, log, …).
    pub results_a: i64,
    /// Their total size, bytes.
    pub bytes_a: i64,
    /// Raw results kept from router B.
    pub results_b: i64,
    /// Their total size, bytes.
    pub bytes_b: i64,
}

/// Reads every measurement of `campaign`, in plan order; no rows for an unknown campaign.
pub fn rows(db: &Connection, campaign: &str) -> rusqlite::Result<Vec<ExportRow>> {
    // Correlated sub-queries: each is a range of the (run_id, side, kind) key, and
    // `length()` of a blob reads no blob pages.
    let side = |s: &str| {
        format!(
            "(SELECT COUNT(*) FROM campaign_results WHERE run_id = r.id AND side = '{s}'),
             (SELECT COALESCE(SUM(length(bytes)), 0) FROM campaign_results WHERE run_id = r.id AND side = '{s}')"
        )
    };
    let sql = format!(
        "SELECT r.campaign, r.id, r.idx, r.plan, r.state, r.attempts, r.error, r.started, r.ended,
                r.screenshots, {}, {}
         FROM campaign_runs r WHERE r.campaign = ?1 ORDER BY r.idx, r.id",
        side("a"),
        side("b")
    );
    let mut q = db.prepare(&sql)?;
    let rows = q.query_map([campaign], |r| {
        let plan = text(r.get_ref(3)?).and_then(|t| serde_json::from_str(&t).ok());
        let (started, ended) = (real(r.get_ref(7)?), real(r.get_ref(8)?));
        let mut row = ExportRow {
            campaign: text(r.get_ref(0)?).unwrap_or_default(),
            id: text(r.get_ref(1)?).unwrap_or_default(),
            index: int(r.get_ref(2)?).unwrap_or(-1),
            kind: None,
            app: None,
            node_a: None,
            node_b: None,
            repetition: None,
            chunk: None,
            state: text(r.get_ref(4)?).unwrap_or_default(),
            attempts: int(r.get_ref(5)?).unwrap_or(0),
            error: text(r.get_ref(6)?),
            started,
            ended,
            duration_s: match (started, ended) {
                (Some(s), Some(e)) if e >= s => Some(e - s),
                _ => None,
            },
            screenshots: text(r.get_ref(9)?),
            results_a: int(r.get_ref(10)?).unwrap_or(0),
            bytes_a: int(r.get_ref(11)?).unwrap_or(0),
            results_b: int(r.get_ref(12)?).unwrap_or(0),
            bytes_b: int(r.get_ref(13)?).unwrap_or(0),
        };
        if let Some(p) = plan {
            row.set_plan(p);
        }
        Ok(row)
    })?;
    rows.collect()
}

impl ExportRow {
    fn set_plan(&mut self, p: PlannedMeasurement) {
        self.kind = Some(
            match p.kind {
                RunKind::Messages => "messages",
                RunKind::Baseline => "baseline",
            }
            .to_owned(),
        );
        self.app = Some(p.app);
        self.node_a = Some(p.node_a);
        self.node_b = Some(p.node_b);
        self.repetition = Some(i64::from(p.repetition));
        self.chunk = i64::try_from(p.chunk).ok();
    }

    /// The row's values, in the order of [`COLUMNS`].
    fn cells(&self) -> [Cell<'_>; COLUMNS.len()] {
        use Cell::{Int, Real, Text};
        [
            Text(Some(&self.campaign)),
            Text(Some(&self.id)),
            Int(Some(self.index)),
            Text(self.kind.as_deref()),
            Text(self.app.as_deref()),
            Text(self.node_a.as_deref()),
            Text(self.node_b.as_deref()),
            Int(self.repetition),
            Int(self.chunk),
            Text(Some(&self.state)),
            Int(Some(self.attempts)),
            Text(self.error.as_deref()),
            Real(self.started),
            Real(self.ended),
            Real(self.duration_s),
            Text(self.screenshots.as_deref()),
            Int(Some(self.results_a)),
            Int(Some(self.bytes_a)),
            Int(Some(self.results_b)),
            Int(Some(self.bytes_b)),
        ]
    }
}

/// A stored value as text: NULL is `None`, text that is not UTF-8 is read lossily.
fn text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(b) | ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
    }
}

/// A stored value as an integer, if it is one.
fn int(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Integer(i) => Some(i),
        // Saturates; NaN cannot be stored (SQLite makes it NULL).
        ValueRef::Real(f) if f.fract() == 0.0 => Some(f as i64),
        ValueRef::Text(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// A stored value as a number, if it is one.
fn real(v: ValueRef<'_>) -> Option<f64> {
    match v {
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Real(f) => Some(f),
        ValueRef::Text(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// Column types: Parquet `BYTE_ARRAY (STRING)`, `INT64` and `DOUBLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Text,
    Int,
    Real,
}

/// The exported columns in order: name, type, whether a value may be missing.
const COLUMNS: [(&str, Ty, bool); 20] = [
    ("campaign", Ty::Text, false),
    ("id", Ty::Text, false),
    ("index", Ty::Int, false),
    ("kind", Ty::Text, true),
    ("app", Ty::Text, true),
    ("node_a", Ty::Text, true),
    ("node_b", Ty::Text, true),
    ("repetition", Ty::Int, true),
    ("chunk", Ty::Int, true),
    ("state", Ty::Text, false),
    ("attempts", Ty::Int, false),
    ("error", Ty::Text, true),
    ("started", Ty::Real, true),
    ("ended", Ty::Real, true),
    ("duration_s", Ty::Real, true),
    ("screenshots", Ty::Text, true),
    ("results_a", Ty::Int, false),
    ("bytes_a", Ty::Int, false),
    ("results_b", Ty::Int, false),
    ("bytes_b", Ty::Int, false),
];

/// One value of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cell<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Real(Option<f64>),
}

impl Cell<'_> {
    fn is_some(&self) -> bool {
        match self {
            Cell::Text(v) => v.is_some(),
            Cell::Int(v) => v.is_some(),
            Cell::Real(v) => v.is_some(),
        }
    }

    /// The CSV field: empty when missing; numbers as Rust prints them (shortest exact).
    fn csv(&self) -> String {
        match self {
            Cell::Text(v) => v.unwrap_or_default().to_owned(),
            Cell::Int(v) => v.map(|v| v.to_string()).unwrap_or_default(),
            Cell::Real(v) => v.map(|v| v.to_string()).unwrap_or_default(),
        }
    }
}

/// An export file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated, a header line first, RFC 4180 quoting; missing values are empty.
    Csv,
    /// Apache Parquet, typed columns, missing values null, Snappy-compressed pages.
    Parquet,
}

/// A format name that is none of [`Format`]'s.
#[derive(Debug, thiserror::Error)]
#[error("unknown export format `{0}`: expected csv or parquet")]
pub struct UnknownFormat(String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "parquet" => Ok(Format::Parquet),
            _ => Err(UnknownFormat(s.to_owned())),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        })
    }
}

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Writing the CSV (an I/O error of `out` included).
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    /// Encoding the Parquet file.
    #[error("encoding Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Writing to `out`.
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes `rows` to `out` in `format`. Parquet is built in memory (its writer wants a
/// `Send` sink), then copied to `out`, which may be a pipe.
pub fn write(
    format: Format,
    rows: &[ExportRow],
    out: &mut dyn std::io::Write,
) -> Result<(), ExportError> {
    match format {
        Format::Csv => write_csv(rows, out),
        Format::Parquet => {
            out.write_all(&parquet_bytes(rows)?)?;
            Ok(out.flush()?)
        }
    }
}

fn write_csv(rows: &[ExportRow], out: &mut dyn std::io::Write) -> Result<(), ExportError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS.iter().map(|c| c.0))?;
    for row in rows {
        w.write_record(row.cells().iter().map(Cell::csv))?;
    }
    Ok(w.flush()?)
}

/// The Parquet schema of [`COLUMNS`].
fn parquet_schema() -> String {
    let mut s = String::from("message campaign_export {\n");
    for (name, ty, optional) in COLUMNS {
        let repetition = if optional { "OPTIONAL" } else { "REQUIRED" };
        let ty = match ty {
            Ty::Text => "BYTE_ARRAY",
            Ty::Int => "INT64",
            Ty::Real => "DOUBLE",
        };
        let logical = if ty == "BYTE_ARRAY" { " (STRING)" } else { "" };
        s.push_str(&format!("  {repetition} {ty} {name}{logical};\n"));
    }
    s.push('}');
    s
}

/// The rows as a Parquet file: one row group, a column chunk per column.
fn parquet_bytes(rows: &[ExportRow]) -> Result<Vec<u8>, ExportError> {
    let schema = Arc::new(parse_message_type(&parquet_schema())?);
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("matador-host {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut buf = Vec::new();
    let mut file = SerializedFileWriter::new(&mut buf, schema, Arc::new(props))?;
    if !rows.is_empty() {
        let cells: Vec<_> = rows.iter().map(ExportRow::cells).collect();
        let mut group = file.next_row_group()?;
        let mut i = 0;
        while let Some(mut column) = group.next_column()? {
            let (_, ty, optional) = COLUMNS[i];
            let (mut text, mut ints, mut reals) = (Vec::new(), Vec::new(), Vec::new());
            let mut defs = Vec::with_capacity(rows.len());
            for row in &cells {
                defs.push(i16::from(row[i].is_some()));
                match row[i] {
                    Cell::Text(Some(v)) => text.push(ByteArray::from(v)),
                    Cell::Int(Some(v)) => ints.push(v),
                    Cell::Real(Some(v)) => reals.push(v),
                    _ => {}
                }
            }
            let defs = optional.then_some(defs.as_slice());
            match ty {
                Ty::Text => column
                    .typed::<ByteArrayType>()
                    .write_batch(&text, defs, None)?,
                Ty::Int => column.typed::<Int64Type>().write_batch(&ints, defs, None)?,
                Ty::Real => column
                    .typed::<DoubleType>()
                    .write_batch(&reals, defs, None)?,
            };
            column.close()?;
            i += 1;
        }
        group.close()?;
    }
    file.close()?;
    Ok(buf)
}

#[cfg(test)]
#[path = "export_tests.rs"]
mod tests;
