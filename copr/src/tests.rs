use std::sync::Arc;

use codec::datum::{Datum, DatumKind};
use codec::table::Handle;
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::prelude::{col, lit};
use proto::kvrpcpb::{ColumnSpec, TableScan};

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

/// Over the scan's rows: `name, SUM(n), COUNT(n) GROUP BY name`, partial.
fn partial_sum(input: SchemaRef) -> Arc<dyn datafusion::physical_plan::ExecutionPlan> {
    use datafusion::functions_aggregate::{count::count_udaf, sum::sum_udaf};
    use datafusion::physical_expr::aggregate::AggregateExprBuilder;
    use datafusion::physical_expr::expressions::col as pcol;
    use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode, PhysicalGroupBy};
    use datafusion::physical_plan::empty::EmptyExec;
    let scan = Arc::new(EmptyExec::new(input.clone()));
    let n = pcol("n", &input).unwrap();
    let aggr = |f, alias: &str| {
        Arc::new(
            AggregateExprBuilder::new(f, vec![n.clone()])
                .schema(input.clone())
                .alias(alias)
                .build()
                .unwrap(),
        )
    };
    let group_by =
        PhysicalGroupBy::new_single(vec![(pcol("name", &input).unwrap(), "name".into())]);
    Arc::new(
        AggregateExec::try_new(
            AggregateMode::Partial,
            group_by,
            vec![aggr(sum_udaf(), "s"), aggr(count_udaf(), "c")],
            vec![None, None],
            scan,
            input,
        )
        .unwrap(),
    )
}

#[tokio::test]
async fn pushed_plans_travel_and_run_over_each_part() {
    use datafusion::physical_expr::expressions::col as pcol;
    use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
    use datafusion::physical_plan::empty::EmptyExec;
    use datafusion::physical_plan::sorts::sort::SortExec;
    let f = Fragment::new(&table(), &[], &[1, 2], 0).unwrap();
    let input = f.output_schema();
    let part = |ids: std::ops::RangeInclusive<i64>| {
        let records: Vec<_> = ids
            .map(|i| record(i, if i % 2 == 0 { "even" } else { "odd" }, Some(i)))
            .collect();
        f.run(&records, None).unwrap()
    };

    // A partial aggregate, decoded as a store decodes it, run per region.
    let sent = PlanFragment::new(partial_sum(input.clone())).unwrap();
    let plan = PlanFragment::decode(sent.bytes()).unwrap();
    assert_eq!(plan.schema(), sent.schema());
    let mut groups = std::collections::BTreeMap::new();
    for ids in [1..=4, 5..=10] {
        for b in plan.run(vec![part(ids)]).await.unwrap() {
            let names = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
            for r in 0..b.num_rows() {
                let e = groups.entry(names.value(r).to_string()).or_insert((0, 0));
                e.0 += ints(&b, 1)[r];
                e.1 += ints(&b, 2)[r];
            }
        }
    }
    let want: std::collections::BTreeMap<String, (i64, i64)> =
        [("even".into(), (30, 5)), ("odd".into(), (25, 5))].into();
    assert_eq!(groups, want);

    // A top-2 by n descending: each part's best two.
    let order = LexOrdering::new(vec![PhysicalSortExpr::new(
        pcol("n", &input).unwrap(),
        datafusion::arrow::compute::SortOptions::new(true, false),
    )])
    .unwrap();
    let top = SortExec::new(order, Arc::new(EmptyExec::new(input.clone()))).with_fetch(Some(2));
    let plan = PlanFragment::decode(PlanFragment::new(Arc::new(top)).unwrap().bytes()).unwrap();
    let out = plan.run(vec![part(1..=4), part(5..=10)]).await.unwrap();
    assert_eq!(ints(&out[0], 1), [10, 9]);

    // Not a fragment: no placeholder, or garbage.
    let source = datafusion::catalog::memory::MemorySourceConfig::try_new_exec(
        &[vec![part(1..=2)]],
        input.clone(),
        None,
    )
    .unwrap();
    assert!(PlanFragment::new(source).is_err());
    assert!(PlanFragment::decode(b"\x01\x02 not a plan").is_err());
}
