//! How a columnar scan travels: Arrow Flight `DoGet`.
//!
//! Columnar stores answer [`CopRequest`]s over Arrow Flight (gRPC, tonic),
//! so rows come back as Arrow record batches without a copy into one big
//! protobuf message:
//!
//! ```text
//!   client ── DoGet(Ticket = CopRequest, protobuf) ──────────> columnar store
//!          <── FlightData{schema, app_metadata = CopResponse}   locks, errors,
//!                                                               records scanned
//!          <── FlightData{record batch} ...                     the rows (or the
//!                                                               pushed plan's output)
//! ```
//!
//! The header is a [`CopResponse`] without `data`: region and key errors
//! and locks are answered there, as the row coprocessor answers them, and
//! the stream then carries no batches. Both ends use this module (the
//! client's [`CopScan`](crate::client::CopScan) and the columnar store's
//! Flight service), so the framing has one definition. It frames txn's
//! own messages and turns a failed call into a txn error
//! ([`status_err`]); what the rows mean is
//! `copr`'s business, so this lives here and not there.

use arrow_flight::decode::{DecodedPayload, FlightDataDecoder};
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::{FlightData, Ticket};
use copr::arrow::array::RecordBatch;
use copr::arrow::datatypes::SchemaRef;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use proto::kvrpcpb::{CopRequest, CopResponse};

use crate::pb::status_err;
use crate::{Error, Result};

/// The ticket that asks for `req`.
pub fn ticket(req: &CopRequest) -> Ticket {
    Ticket {
        ticket: req.encode_to_vec().into(),
    }
}

/// The request a [`ticket`] carries.
pub fn request(ticket: &Ticket) -> Result<CopRequest> {
    CopRequest::decode(ticket.ticket.as_ref())
        .map_err(|e| Error::InvalidArgument(format!("columnar ticket: {e}")))
}

/// The answer as Flight messages: the schema with `header` (its `data`
/// is ignored) as the first message's metadata, then `batches`.
pub fn encode(
    mut header: CopResponse,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> impl Stream<Item = std::result::Result<FlightData, FlightError>> + Send + 'static {
    header.data.clear();
    FlightDataEncoderBuilder::new()
        .with_metadata(header.encode_to_vec().into())
        .with_schema(schema)
        .build(futures::stream::iter(batches.into_iter().map(Ok)))
}

/// The header and the batches of an answer [`encode`] wrote.
pub async fn decode<S>(stream: S) -> Result<(CopResponse, Vec<RecordBatch>)>
where
    S: Stream<Item = std::result::Result<FlightData, tonic::Status>> + Send + 'static,
{
    let bad = |e: String| Error::BadFormat(format!("columnar answer: {e}"));
    let mut decoder =
        FlightDataDecoder::new(stream.map_err(|s| FlightError::Tonic(Box::new(s))).boxed());
    let mut header = None;
    let mut batches = Vec::new();
    while let Some(msg) = decoder.next().await {
        let msg = msg.map_err(|e| match e {
            FlightError::Tonic(status) => status_err(*status),
            other => bad(other.to_string()),
        })?;
        if header.is_none() {
            header = Some(
                CopResponse::decode(msg.inner.app_metadata.as_ref())
                    .map_err(|e| bad(e.to_string()))?,
            );
        }
        if let DecodedPayload::RecordBatch(b) = msg.payload {
            batches.push(b);
        }
    }
    let header = header.ok_or_else(|| bad("no header".into()))?;
    Ok((header, batches))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use copr::arrow::array::Int64Array;
    use copr::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[tokio::test]
    async fn columnar_answers_frame_over_flight() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("n", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(1..=5)),
                Arc::new(Int64Array::from_iter_values(1..=5)),
            ],
        )
        .unwrap();
        let req = CopRequest {
            start_ts: 42,
            filters: vec![b"f".to_vec()],
            ..Default::default()
        };
        assert_eq!(request(&ticket(&req)).unwrap(), req);
        let header = CopResponse {
            scanned_records: 5,
            ..Default::default()
        };
        let stream = encode(header.clone(), schema.clone(), vec![batch.clone()])
            .map_err(|e| tonic::Status::internal(e.to_string()));
        let (got, batches) = decode(stream).await.unwrap();
        assert_eq!((got, batches), (header, vec![batch]));
        // An answer with nothing to say still has its (empty) header.
        let empty = encode(Default::default(), schema, Vec::new())
            .map_err(|e| tonic::Status::internal(e.to_string()));
        let (got, batches) = decode(empty).await.unwrap();
        assert_eq!((got.scanned_records, batches.len()), (0, 0));
    }
}
