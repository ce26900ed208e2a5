//! # Client-side TSO batching
//!
//! Transactions ask for timestamps constantly, and concurrently. Rather than
//! one round trip per caller, the client funnels all `get_ts` calls into one
//! task that owns a single TSO stream:
//!
//! ```text
//!   get_ts() ─┐                           ┌─> ts - 2
//!   get_ts() ─┼─> queue ─> dispatcher ─────┼─> ts - 1       one TsoRequest{count: 3}
//!   get_ts() ─┘      drains all waiting    └─> ts           one TsoResponse{last: ts}
//! ```
//!
//! While one request is in flight, new callers queue up and go together in
//! the next one, so the batch size adapts to the load (TiDB's PD client does
//! the same). Timestamps within a batch share the physical part and differ in
//! the logical part, so the waiters get `last - count + 1 ..= last` in order.
//!
//! The stream is opened lazily and re-opened after any failure (PD restart,
//! connection reset), with a short backoff and a few attempts before the
//! waiting callers get the error.

use std::time::Duration;

use proto::pdpb::{self, pd_client::PdClient as GrpcClient};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use crate::core;
use crate::error::{Error, Result};

/// Most timestamps asked for in one request.
const MAX_BATCH: usize = 10_000;
/// Attempts per batch (each on a fresh stream after a failure).
const ATTEMPTS: u32 = 4;
const RPC_TIMEOUT: Duration = Duration::from_secs(5);

type Waiter = oneshot::Sender<Result<u64>>;

/// Handle to the batching task; the task ends when the handle is dropped.
pub(crate) struct TsoDispatcher {
    queue: mpsc::UnboundedSender<Waiter>,
}

impl TsoDispatcher {
    pub(crate) fn spawn(rpc: GrpcClient<Channel>) -> Self {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rpc, rx));
        TsoDispatcher { queue }
    }

    pub(crate) async fn get_ts(&self) -> Result<u64> {
        let (tx, rx) = oneshot::channel();
        let stopped = || Error::Other("the TSO dispatcher stopped".into());
        self.queue.send(tx).map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

struct TsoStream {
    requests: mpsc::Sender<pdpb::TsoRequest>,
    responses: tonic::Streaming<pdpb::TsoResponse>,
}

async fn run(mut rpc: GrpcClient<Channel>, mut queue: mpsc::UnboundedReceiver<Waiter>) {
    let mut stream: Option<TsoStream> = None;
    let mut waiters: Vec<Waiter> = Vec::new();
    while let Some(first) = queue.recv().await {
        waiters.push(first);
        while waiters.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(w) => waiters.push(w),
                Err(_) => break,
            }
        }
        waiters.retain(|w| !w.is_closed());
        if waiters.is_empty() {
            continue;
        }
        let count = waiters.len() as u32;
        match fetch(&mut rpc, &mut stream, count).await {
            Ok(last) => {
                let first = last - u64::from(count) + 1;
                for (i, w) in waiters.drain(..).enumerate() {
                    let _ = w.send(Ok(first + i as u64));
                }
            }
            Err(e) => {
                for w in waiters.drain(..) {
                    let _ = w.send(Err(e.clone()));
                }
            }
        }
    }
}

/// One batch: `count` timestamps, the last returned.
async fn fetch(
    rpc: &mut GrpcClient<Channel>,
    stream: &mut Option<TsoStream>,
    count: u32,
) -> Result<u64> {
    let mut backoff = Duration::from_millis(50);
    let mut attempt = 1;
    loop {
        let result = match stream {
            Some(s) => exchange(s, count).await,
            None => match open(rpc).await {
                Ok(s) => exchange(stream.insert(s), count).await,
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(ts) => return Ok(ts),
            Err(e) => {
                *stream = None;
                if !e.is_retryable() || attempt >= ATTEMPTS {
                    return Err(e);
                }
                tracing::debug!(error = %e, attempt, "tso request failed; reopening the stream");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff *= 2;
        attempt += 1;
    }
}

async fn open(rpc: &mut GrpcClient<Channel>) -> Result<TsoStream> {
    let (requests, rx) = mpsc::channel(4);
    let call = rpc.tso(ReceiverStream::new(rx));
    let responses = tokio::time::timeout(RPC_TIMEOUT, call)
        .await
        .map_err(|_| deadline("opening the TSO stream"))??
        .into_inner();
    Ok(TsoStream {
        requests,
        responses,
    })
}

async fn exchange(s: &mut TsoStream, count: u32) -> Result<u64> {
    let closed = || Error::Transport {
        code: tonic::Code::Unavailable,
        message: "TSO stream closed by PD".into(),
    };
    s.requests
        .send(pdpb::TsoRequest { count })
        .await
        .map_err(|_| closed())?;
    let resp = tokio::time::timeout(RPC_TIMEOUT, s.responses.message())
        .await
        .map_err(|_| deadline("waiting for timestamps"))??
        .ok_or_else(closed)?;
    if let Some(e) = Error::from_header(resp.header.as_ref()) {
        return Err(e);
    }
    let ts = resp
        .timestamp
        .ok_or_else(|| Error::Other("TSO response without timestamp".into()))?;
    if resp.count != count {
        return Err(Error::Other(format!(
            "asked PD for {count} timestamps, got {}",
            resp.count
        )));
    }
    Ok(core::compose(ts.physical as u64, ts.logical as u64))
}

fn deadline(what: &str) -> Error {
    Error::Transport {
        code: tonic::Code::DeadlineExceeded,
        message: format!("timed out {what}"),
    }
}
