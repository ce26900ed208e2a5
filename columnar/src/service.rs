//! # The columnar store's Arrow Flight service: consistent scans of learner replicas
//!
//! One Flight `DoGet`, whose ticket is a [`CopRequest`] (framing in
//! [`txn::coprocessor::flight`]), reads one region's part of a range at
//! `start_ts`, with the same answer the row store's coprocessor gives:
//!
//! 1. a replica read on the learner: ReadIndex from the leader, then wait
//!    until applied (bounded by the store's request timeout; an error
//!    tells the client this replica lags, and it reads the row store);
//! 2. locks in range with `ts <= start_ts` that block the read (as the row
//!    path decides: not pessimistic or `Lock` locks, not pushed past
//!    `start_ts`, not already resolved by the client) are answered instead
//!    of rows, for the client to resolve;
//! 3. the columnar view catches up with that snapshot;
//! 4. the rows visible at `start_ts` — stable chunks already as columns
//!    (chunks whose min/max no pushed filter can match are skipped), delta
//!    rows decoded — run through the request's [`Fragment`] (filter,
//!    project, limit), then through its [`PlanFragment`] when it has one
//!    (a partial aggregate or a top-N, so only their result travels).
//!
//! A region's part is answered in one page (`resume_key` stays empty). The
//! other Flight calls (listing flights, `DoPut`, actions) are not served:
//! a columnar store takes no writes from clients and has no named flights.

use std::sync::Arc;

use arrow_flight::flight_service_server::FlightService;
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaResult, Ticket,
};
use copr::{Fragment, PlanFragment};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_optimizer::pruning::{PruningPredicate, PruningPredicateBuilder};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use proto::kvrpcpb::{CopRequest, CopResponse};
use tonic::{Request, Response, Status, Streaming};
use txn::coprocessor::flight;
use txn::mvcc::{MvccReader, range_locks};
use txn::pb::{lock_info_to_pb, split};
use txn::storage::{StoreHandle, clamp_to_region};
use txn::types::{Key, LockInfo, TimeStamp};

use crate::view::{ColumnarView, Scan};

pub struct ColumnarService {
    store: StoreHandle,
    view: Arc<ColumnarView>,
}

/// What one scan found: rows or locks in the way.
struct Outcome {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    scanned: u64,
    locks: Vec<LockInfo>,
}

impl ColumnarService {
    pub fn new(store: StoreHandle, view: Arc<ColumnarView>) -> Self {
        ColumnarService { store, view }
    }

    async fn scan(&self, req: CopRequest) -> txn::Result<Outcome> {
        let scan = req
            .scan
            .as_ref()
            .ok_or_else(|| txn::Error::InvalidArgument("columnar scan without a table".into()))?;
        let fragment = Fragment::new(scan, &req.filters, &req.output, req.limit)?;
        let plan = if req.plan.is_empty() {
            None
        } else {
            Some(PlanFragment::decode(&req.plan)?)
        };
        let mut ctx = req.context.unwrap_or_default();
        ctx.replica_read = true;
        let snap = self.store.snapshot(ctx).await?;
        let (lo, hi) = clamp_to_region(&snap.region, &req.start_key, &req.end_key);
        let ts = TimeStamp::new(req.start_ts);
        let bypass: Vec<TimeStamp> = req.resolved_locks.iter().map(|&t| t.into()).collect();

        let mut reader = MvccReader::new(&*snap.snapshot);
        let start = Key::from_encoded(lo.clone());
        let end = (!hi.is_empty()).then(|| Key::from_encoded(hi.clone()));
        let locks = range_locks(&mut reader, &start, end.as_ref(), ts, &bypass)?;
        if !locks.is_empty() {
            return Ok(Outcome {
                schema: fragment.output_schema(),
                batches: Vec::new(),
                scanned: 0,
                locks,
            });
        }

        let raw = |k: &[u8]| -> txn::Result<Vec<u8>> {
            if k.is_empty() {
                Ok(Vec::new())
            } else {
                Key::from_encoded_slice(k).to_raw()
            }
        };
        let schema = fragment.scan_schema();
        // Filters a chunk's min/max can rule out (others keep every chunk).
        let prune: Vec<Arc<PruningPredicate>> = fragment
            .filters()
            .iter()
            .filter_map(|f| {
                PruningPredicateBuilder::new()
                    .with_file_schema(schema.clone())
                    .build(f.clone())
            })
            .collect();
        let (lo_raw, hi_raw) = (raw(&lo)?, raw(&hi)?);
        let found = self.view.read_at(
            &*snap.snapshot,
            &Scan {
                table: scan.table_id,
                start: &lo_raw,
                end: &hi_raw,
                ts: ts.into_inner(),
                columns: &scan.columns,
                schema: &schema,
                prune: Some(&prune),
            },
        )?;
        // A range reset after our snapshot (the learner removed meanwhile):
        // what this region held at the snapshot is gone from the view.
        let Some(found) = found else {
            return Err(txn::Error::Kv(kv::Error::RegionNotFound(snap.region.id)));
        };
        let scanned =
            found.records.len() + found.batches.iter().map(|b| b.num_rows()).sum::<usize>();
        let mut out = Vec::with_capacity(found.batches.len() + 1);
        let mut remaining = fragment.limit;
        for b in found.batches {
            if remaining == Some(0) {
                break;
            }
            let mut b = fragment.apply(b)?;
            if let Some(n) = &mut remaining {
                if b.num_rows() > *n {
                    b = b.slice(0, *n);
                }
                *n -= b.num_rows();
            }
            out.push(b);
        }
        if remaining != Some(0) && !found.records.is_empty() {
            out.push(fragment.run(&found.records, remaining)?);
        }
        let (schema, batches) = match plan {
            Some(plan) => (plan.schema(), plan.run(out).await?),
            None => (fragment.output_schema(), out),
        };
        Ok(Outcome {
            schema,
            batches,
            scanned: scanned as u64,
            locks,
        })
    }
}

type Answer<T> = Result<Response<BoxStream<'static, Result<T, Status>>>, Status>;

fn not_served<T>(what: &str) -> Result<T, Status> {
    Err(Status::unimplemented(format!(
        "a columnar store serves Flight DoGet only, not {what}"
    )))
}

#[tonic::async_trait]
impl FlightService for ColumnarService {
    type HandshakeStream = BoxStream<'static, Result<HandshakeResponse, Status>>;
    type ListFlightsStream = BoxStream<'static, Result<FlightInfo, Status>>;
    type DoGetStream = BoxStream<'static, Result<FlightData, Status>>;
    type DoPutStream = BoxStream<'static, Result<PutResult, Status>>;
    type DoExchangeStream = BoxStream<'static, Result<FlightData, Status>>;
    type DoActionStream = BoxStream<'static, Result<arrow_flight::Result, Status>>;
    type ListActionsStream = BoxStream<'static, Result<ActionType, Status>>;

    async fn do_get(&self, req: Request<Ticket>) -> Answer<FlightData> {
        let req =
            flight::request(req.get_ref()).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let (header, schema, batches) = match ColumnarService::scan(self, req).await {
            Ok(out) => (
                CopResponse {
                    locks: out.locks.iter().map(lock_info_to_pb).collect(),
                    scanned_records: out.scanned,
                    ..Default::default()
                },
                out.schema,
                out.batches,
            ),
            Err(e) => {
                let (region_error, error) = split(e);
                let header = CopResponse {
                    region_error,
                    error,
                    ..Default::default()
                };
                (
                    header,
                    Arc::new(datafusion::arrow::datatypes::Schema::empty()),
                    Vec::new(),
                )
            }
        };
        let stream = flight::encode(header, schema, batches).map_err(Status::from);
        Ok(Response::new(stream.boxed()))
    }

    async fn handshake(
        &self,
        _: Request<Streaming<HandshakeRequest>>,
    ) -> Answer<HandshakeResponse> {
        not_served("Handshake")
    }

    async fn list_flights(&self, _: Request<Criteria>) -> Answer<FlightInfo> {
        not_served("ListFlights")
    }

    async fn get_flight_info(
        &self,
        _: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        not_served("GetFlightInfo")
    }

    async fn poll_flight_info(
        &self,
        _: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        not_served("PollFlightInfo")
    }

    async fn get_schema(
        &self,
        _: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        not_served("GetSchema")
    }

    async fn do_put(&self, _: Request<Streaming<FlightData>>) -> Answer<PutResult> {
        not_served("DoPut")
    }

    async fn do_exchange(&self, _: Request<Streaming<FlightData>>) -> Answer<FlightData> {
        not_served("DoExchange")
    }

    async fn do_action(&self, _: Request<Action>) -> Answer<arrow_flight::Result> {
        not_served("DoAction")
    }

    async fn list_actions(&self, _: Request<Empty>) -> Answer<ActionType> {
        not_served("ListActions")
    }
}
