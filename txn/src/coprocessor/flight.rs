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
//! the stream then carries no batches. Both ends use this module, so the
//! framing has one definition.

use arrow_flight::decode::{DecodedPayload, FlightDataDecoder};
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::{FlightData, Ticket};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use proto::kvrpcpb::{CopRequest, CopResponse};

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
            FlightError::Tonic(status) => crate::client::rpc::status_err(*status),
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
