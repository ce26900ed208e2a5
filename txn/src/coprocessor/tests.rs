use datafusion::arrow::array::{Int64Array, StringArray};
use datafusion::prelude::{col, lit};

use super::*;

fn spec(id: i64, name: &str, kind: DatumKind, handle: bool, default: Option<Datum>) -> ColumnSpec {
    let mut d = Vec::new();
    if let Some(v) = &default {
        codec::key::encode_key_datum(&mut d, v);
    }
    ColumnSpec {
        id,
        name: name.into(),
        kind: codec::arrow::kind_to_u32(kind),
        handle,
        nullable: !handle,
        default: d,
        ..Default::default()
    }
}

/// Table 7: `id` (integer handle), `name` (id 2), `n` (id 3, added later
/// with default 42).
fn table() -> TableScan {
    TableScan {
        table_id: 7,
        columns: vec![
            spec(1, "id", DatumKind::I64, true, None),
            spec(2, "name", DatumKind::Bytes, false, None),
            spec(3, "n", DatumKind::I64, false, Some(Datum::I64(42))),
        ],
    }
}

fn record(id: i64, name: &str, n: Option<i64>) -> (Vec<u8>, Vec<u8>) {
    let key = codec::table::encode_row_key(7, &Handle::Int(id));
    let name = Datum::Bytes(name.as_bytes().to_vec());
    let n = n.map(Datum::I64);
    let mut cols: Vec<(i64, &Datum)> = vec![(2, &name)];
    if let Some(n) = &n {
        cols.push((3, n));
    }
    let mut value = Vec::new();
    codec::row::encode_row(&mut value, &cols);
    (key, value)
}

fn ints(b: &RecordBatch, i: usize) -> Vec<i64> {
    let a = b.column(i).as_any().downcast_ref::<Int64Array>().unwrap();
    a.values().to_vec()
}

#[test]
fn decodes_filters_and_projects_records() {
    let records = vec![
        record(1, "a", Some(5)),
        record(2, "b", None),
        record(3, "c", Some(50)),
        record(4, "d", Some(7)),
    ];
    let filter = encode_filter(&col("n").gt(lit(6i64))).unwrap();
    let f = Fragment::new(&table(), &[filter], &[1, 0], 0).unwrap();
    let out = f.run(&records, None).unwrap();
    // Row 2 lacks `n` and reads the default 42.
    assert_eq!(out.num_rows(), 3);
    let names = out
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let names: Vec<&str> = names.iter().map(|s| s.unwrap()).collect();
    assert_eq!(names, ["b", "c", "d"]);
    assert_eq!(ints(&out, 1), [2, 3, 4]);
    assert_eq!(out.schema().field(0).name(), "name");
}

#[test]
fn a_limit_cuts_the_answer() {
    let records: Vec<_> = (1..=10).map(|i| record(i, "x", Some(i))).collect();
    let f = Fragment::new(&table(), &[], &[0], 3).unwrap();
    let out = f.run(&records, f.limit).unwrap();
    assert_eq!(ints(&out, 0), [1, 2, 3]);
}

#[test]
fn batches_survive_the_ipc_round_trip() {
    let records: Vec<_> = (1..=5).map(|i| record(i, "é", Some(i * 10))).collect();
    let f = Fragment::new(&table(), &[], &[0, 1, 2], 0).unwrap();
    let batch = f.run(&records, None).unwrap();
    let bytes = encode_batches(&f.output_schema(), std::slice::from_ref(&batch)).unwrap();
    let back = decode_batches(&bytes).unwrap();
    assert_eq!(back, vec![batch]);
    assert!(encode_batches(&f.output_schema(), &[]).unwrap().is_empty());
    assert!(decode_batches(&[]).unwrap().is_empty());
}

#[test]
fn no_output_columns_still_counts_rows() {
    // COUNT(*) WHERE n > 6 needs `n` for the filter and no column back.
    let records: Vec<_> = (1..=8).map(|i| record(i, "x", Some(i))).collect();
    let filter = encode_filter(&col("n").gt(lit(6i64))).unwrap();
    let f = Fragment::new(&table(), &[filter], &[], 0).unwrap();
    let batch = f.run(&records, None).unwrap();
    assert_eq!((batch.num_columns(), batch.num_rows()), (0, 2));
    let bytes = encode_batches(&f.output_schema(), std::slice::from_ref(&batch)).unwrap();
    let back = decode_batches(&bytes).unwrap();
    assert_eq!(back.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
}

#[test]
fn malformed_requests_are_refused_not_panicked_on() {
    assert!(Fragment::new(&table(), &[b"\xff\xff garbage".to_vec()], &[], 0).is_err());
    assert!(Fragment::new(&table(), &[], &[9], 0).is_err());
    let mut bad = table();
    bad.columns[1].kind = 99;
    assert!(Fragment::new(&bad, &[], &[], 0).is_err());
    // A filter on a column the scan does not have.
    let filter = encode_filter(&col("nope").eq(lit(1i64))).unwrap();
    assert!(Fragment::new(&table(), &[filter], &[], 0).is_err());
    assert!(decode_batches(b"not arrow").is_err());
}
