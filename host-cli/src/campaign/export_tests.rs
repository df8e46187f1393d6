use super::*;
use parquet::basic::{LogicalType, Repetition, Type as PhysicalType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

/// A row with every value present; the error needs quoting in CSV and is not ASCII.
fn full() -> ExportRow {
    ExportRow {
        campaign: "demo".into(),
        id: "demo-chat-vp-ch-vp-de-r1".into(),
        index: 0,
        kind: Some("messages".into()),
        app: Some("chat".into()),
        node_a: Some("vp-ch".into()),
        node_b: Some("vp-de".into()),
        repetition: Some(1),
        chunk: Some(0),
        state: "failed".into(),
        attempts: 2,
        error: Some("router zrh: \"Zürich\", stopping\nline two — ✓".into()),
        started: Some(1_714_000_000.25),
        ended: Some(1_714_000_042.5),
        duration_s: Some(42.25),
        screenshots: Some("out/demo, 1/m0".into()),
        results_a: 3,
        bytes_a: 1_234_567,
        results_b: 0,
        bytes_b: 0,
    }
}

/// A row whose plan and optional values are all missing.
fn empty() -> ExportRow {
    ExportRow {
        campaign: "demo".into(),
        id: "x".into(),
        index: 1,
        kind: None,
        app: None,
        node_a: None,
        node_b: None,
        repetition: None,
        chunk: None,
        state: "planned".into(),
        attempts: 0,
        error: None,
        started: None,
        ended: None,
        duration_s: None,
        screenshots: None,
        results_a: 0,
        bytes_a: 0,
        results_b: 0,
        bytes_b: 0,
    }
}

#[test]
fn cells_follow_the_columns() {
    for (cell, (name, ty, _)) in full().cells().iter().zip(COLUMNS) {
        let cell_ty = match cell {
            Cell::Text(_) => Ty::Text,
            Cell::Int(_) => Ty::Int,
            Cell::Real(_) => Ty::Real,
        };
        assert_eq!(cell_ty, ty, "{name}");
        assert!(cell.is_some(), "{name}");
    }
    for (cell, (name, _, optional)) in empty().cells().iter().zip(COLUMNS) {
        assert_eq!(cell.is_some(), !optional, "{name}");
    }
}

#[test]
fn formats_parse_and_an_unknown_one_lists_them() {
    assert_eq!("csv".parse::<Format>().unwrap(), Format::Csv);
    assert_eq!("Parquet".parse::<Format>().unwrap(), Format::Parquet);
    assert_eq!(Format::Parquet.to_string(), "parquet");
    let e = "xlsx".parse::<Format>().unwrap_err().to_string();
    assert_eq!(e, "unknown export format `xlsx`: expected csv or parquet");
}

#[test]
fn csv_quotes_fields_and_reads_back() {
    let mut out = Vec::new();
    write(Format::Csv, &[full(), empty()], &mut out).unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.starts_with(
        "campaign,id,index,kind,app,node_a,node_b,repetition,chunk,state,attempts,error,"
    ));
    assert!(text.contains("\"router zrh: \"\"Zürich\"\", stopping\nline two — ✓\""));
    let mut r = csv::Reader::from_reader(out.as_slice());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header, COLUMNS.map(|c| c.0.to_owned()));
    let records: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 2);
    let first: Vec<&str> = records[0].iter().collect();
    assert_eq!(
        first,
        [
            "demo",
            "demo-chat-vp-ch-vp-de-r1",
            "0",
            "messages",
            "chat",
            "vp-ch",
            "vp-de",
            "1",
            "0",
            "failed",
            "2",
            "router zrh: \"Zürich\", stopping\nline two — ✓",
            "1714000000.25",
            "1714000042.5",
            "42.25",
            "out/demo, 1/m0",
            "3",
            "1234567",
            "0",
            "0"
        ]
    );
    let second: Vec<&str> = records[1].iter().collect();
    assert_eq!(second[..4], ["demo", "x", "1", ""]);
    assert_eq!(second[9..12], ["planned", "0", ""]);
}

/// Writes `rows` as Parquet into a file and opens it with the crate's reader.
fn parquet_round_trip(rows: &[ExportRow]) -> SerializedFileReader<std::fs::File> {
    let mut out = Vec::new();
    write(Format::Parquet, rows, &mut out).unwrap();
    assert_eq!(&out[..4], b"PAR1");
    let mut file = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut file, &out).unwrap();
    SerializedFileReader::new(file).unwrap()
}

#[test]
fn parquet_has_typed_columns_and_reads_back() {
    let reader = parquet_round_trip(&[full(), empty()]);
    let meta = reader.metadata();
    assert_eq!(meta.file_metadata().num_rows(), 2);
    let schema = meta.file_metadata().schema_descr();
    assert_eq!(schema.num_columns(), COLUMNS.len());
    for (i, (name, ty, optional)) in COLUMNS.into_iter().enumerate() {
        let c = schema.column(i);
        assert_eq!(c.name(), name);
        let physical = match ty {
            Ty::Text => PhysicalType::BYTE_ARRAY,
            Ty::Int => PhysicalType::INT64,
            Ty::Real => PhysicalType::DOUBLE,
        };
        assert_eq!(c.physical_type(), physical, "{name}");
        let text = (ty == Ty::Text).then_some(&LogicalType::String);
        assert_eq!(c.logical_type_ref(), text, "{name}");
        let repetition = c.self_type().get_basic_info().repetition();
        let want = if optional {
            Repetition::OPTIONAL
        } else {
            Repetition::REQUIRED
        };
        assert_eq!(repetition, want, "{name}");
        assert_eq!(
            meta.row_group(0).column(i).compression(),
            Compression::SNAPPY
        );
    }
    let rows: Vec<Vec<(String, Field)>> = reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| {
            r.unwrap()
                .get_column_iter()
                .map(|(n, f)| (n.clone(), f.clone()))
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 2);
    let get = |row: usize, name: &str| {
        rows[row]
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| f.clone())
            .unwrap()
    };
    assert_eq!(get(0, "id"), Field::Str("demo-chat-vp-ch-vp-de-r1".into()));
    assert_eq!(get(0, "index"), Field::Long(0));
    assert_eq!(get(0, "kind"), Field::Str("messages".into()));
    assert_eq!(get(0, "repetition"), Field::Long(1));
    assert_eq!(get(0, "error"), Field::Str(full().error.unwrap()));
    assert_eq!(get(0, "started"), Field::Double(1_714_000_000.25));
    assert_eq!(get(0, "duration_s"), Field::Double(42.25));
    assert_eq!(get(0, "bytes_a"), Field::Long(1_234_567));
    assert_eq!(get(1, "index"), Field::Long(1));
    assert_eq!(get(1, "kind"), Field::Null);
    assert_eq!(get(1, "chunk"), Field::Null);
    assert_eq!(get(1, "error"), Field::Null);
    assert_eq!(get(1, "ended"), Field::Null);
    assert_eq!(get(1, "state"), Field::Str("planned".into()));
}

#[test]
fn parquet_of_no_rows_is_a_file_with_the_schema() {
    let reader = parquet_round_trip(&[]);
    assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
    assert_eq!(
        reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .num_columns(),
        COLUMNS.len()
    );
}

/// An in-memory store with the campaign tables exactly as `State::open` creates them.
fn store() -> Connection {
    let db = Connection::open_in_memory().unwrap();
    db.execute_batch(super::super::state::SCHEMA).unwrap();
    db
}

fn planned(index: usize, kind: RunKind) -> PlannedMeasurement {
    PlannedMeasurement {
        id: format!("c-m{index}"),
        index,
        kind,
        app: "chat".into(),
        node_a: "vp-ch".into(),
        node_b: "vp-de".into(),
        repetition: 2,
        chunk: 1,
    }
}

#[test]
fn rows_read_plan_state_and_result_sizes_and_survive_a_garbage_plan() {
    let db = store();
    let plan = |p: &PlannedMeasurement| serde_json::to_string(p).unwrap();
    db.execute(
        "INSERT INTO campaign_runs (id, campaign, idx, plan, state, attempts, error, screenshots, started, ended)
         VALUES ('c-m0', 'c', 0, ?1, 'done', 1, NULL, 'out/c-m0', 100.5, 160.0),
                ('c-m1', 'c', 1, '{not json', 'failed', 2, 'phone gone, \"twice\"', NULL, 200.0, 210.0),
                ('c-m2', 'c', 2, ?2, 'running', 2, X'6F6BFF', NULL, 300.0, 210.0),
                ('d-m0', 'd', 0, ?1, 'done', 1, NULL, NULL, NULL, NULL)",
        rusqlite::params![
            plan(&planned(0, RunKind::Messages)),
            plan(&planned(2, RunKind::Baseline))
        ],
    )
    .unwrap();
    db.execute(
        "INSERT INTO campaign_results (run_id, side, kind, sha256, bytes)
         VALUES ('c-m0', 'a', 'flows', 'h', X'00010203'), ('c-m0', 'a', 'log', 'h', X'0A0B'),
                ('c-m0', 'b', 'flows', 'h', X'FF'), ('c-m1', 'b', 'traces', 'h', zeroblob(1000)),
                ('d-m0', 'a', 'flows', 'h', X'00')",
        [],
    )
    .unwrap();
    let rows = rows(&db, "c").unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0],
        ExportRow {
            campaign: "c".into(),
            id: "c-m0".into(),
            index: 0,
            kind: Some("messages".into()),
            app: Some("chat".into()),
            node_a: Some("vp-ch".into()),
            node_b: Some("vp-de".into()),
            repetition: Some(2),
            chunk: Some(1),
            state: "done".into(),
            attempts: 1,
            error: None,
            started: Some(100.5),
            ended: Some(160.0),
            duration_s: Some(59.5),
            screenshots: Some("out/c-m0".into()),
            results_a: 2,
            bytes_a: 6,
            results_b: 1,
            bytes_b: 1,
        }
    );
    // The garbage plan: a row all the same, its plan columns empty.
    let r = &rows[1];
    assert_eq!(
        (r.id.as_str(), r.index, r.state.as_str()),
        ("c-m1", 1, "failed")
    );
    assert_eq!(
        (&r.kind, &r.app, r.repetition, r.chunk),
        (&None, &None, None, None)
    );
    assert_eq!(r.error.as_deref(), Some("phone gone, \"twice\""));
    assert_eq!(
        (r.results_a, r.bytes_a, r.results_b, r.bytes_b),
        (0, 0, 1, 1000)
    );
    // Running again after a failed attempt: no duration; an error that is not UTF-8.
    let r = &rows[2];
    assert_eq!(r.kind.as_deref(), Some("baseline"));
    assert_eq!(r.duration_s, None);
    assert_eq!(r.error.as_deref(), Some("ok\u{FFFD}"));
    assert!(super::rows(&db, "nope").unwrap().is_empty());
    // And out through both writers.
    let mut out = Vec::new();
    write(Format::Csv, &rows, &mut out).unwrap();
    assert_eq!(
        csv::Reader::from_reader(out.as_slice()).records().count(),
        3
    );
    let reader = parquet_round_trip(&rows);
    assert_eq!(reader.metadata().file_metadata().num_rows(), 3);
}
