//! The sending end of the raft transport over gRPC.
//!
//! ```text
//!  store loop ──send──> RaftClient ──filter──> per-store queue ──> sender task
//!                                                                  │ batches what queued up
//!                                                                  v
//!                                              client stream Raft(stream RaftMessageBatch)
//!  MsgSnapshot ──> snapshot task: Snapshot(stream SnapshotChunk): the message,
//!                  then the region's keys read from the snapshot's source
//!                  (raftstore::snap) a chunk at a time, then SnapshotStatus
//!                  back to the store loop
//! ```
//!
//! A sender task resolves its store's address through PD, connects, and
//! keeps one stream open. If the stream breaks it reports the affected
//! peers unreachable (raft-rs then probes instead of pipelining), backs off
//! and reconnects, re-resolving the address: a restarted store may have
//! moved. Messages are never retried by the transport; raft retransmits.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use pd::PdClient;
use prost::Message as _;
use proto::raft_serverpb::raft_transport_client::RaftTransportClient;
use proto::raft_serverpb::{RaftMessage, RaftMessageBatch, SnapshotChunk};
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint};

use super::{FilterAction, MessageFilter, Transport};
use crate::raftstore::snap::{self, SnapshotSources};
use crate::raftstore::{StoreMsg, StoreRouter};

const MAX_BATCH: usize = 512;

#[derive(Clone)]
pub struct RaftClient {
    inner: Arc<Inner>,
}

struct Inner {
    store_id: u64,
    pd: PdClient,
    router: StoreRouter,
    filter: Option<Arc<dyn MessageFilter>>,
    runtime: tokio::runtime::Handle,
    queues: Mutex<HashMap<u64, mpsc::UnboundedSender<RaftMessage>>>,
    snap_chunk_size: usize,
    snapshots: SnapshotSources,
}

impl RaftClient {
    pub fn new(
        store_id: u64,
        pd: PdClient,
        router: StoreRouter,
        filter: Option<Arc<dyn MessageFilter>>,
        runtime: tokio::runtime::Handle,
        snap_chunk_size: usize,
        snapshots: SnapshotSources,
    ) -> Self {
        RaftClient {
            inner: Arc::new(Inner {
                store_id,
                pd,
                router,
                filter,
                runtime,
                queues: Mutex::new(HashMap::new()),
                snap_chunk_size: snap_chunk_size.max(1),
                snapshots,
            }),
        }
    }

    fn enqueue(inner: &Arc<Inner>, msg: RaftMessage, snapshot: bool) {
        let to_store = msg.to_peer.as_ref().map_or(0, |p| p.store_id);
        if snapshot {
            let inner2 = inner.clone();
            inner
                .runtime
                .spawn(async move { send_snapshot(inner2, msg).await });
            return;
        }
        let mut queues = inner.queues.lock();
        let mut msg = msg;
        // A sender task that ended (its stream broke for good) is replaced
        // once; if the new one is gone at once too, the runtime is shutting
        // down and the message is dropped (raft retransmits what matters).
        for _ in 0..2 {
            let tx = queues.entry(to_store).or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                inner.runtime.spawn(run_sender(inner.clone(), to_store, rx));
                tx
            });
            match tx.send(msg) {
                Ok(()) => return,
                Err(mpsc::error::SendError(m)) => {
                    queues.remove(&to_store);
                    msg = m;
                }
            }
        }
        tracing::debug!(to_store, "raft message dropped: no sender task can run");
    }
}

impl RaftClient {
    fn filtered_send(&self, msg: RaftMessage, snapshot: bool) {
        let to_store = msg.to_peer.as_ref().map_or(0, |p| p.store_id);
        let action = match &self.inner.filter {
            Some(f) => f.action(self.inner.store_id, to_store, &msg),
            None => FilterAction::Deliver,
        };
        match action {
            FilterAction::Deliver => Self::enqueue(&self.inner, msg, snapshot),
            FilterAction::Drop => {}
            FilterAction::Delay(d) => {
                let inner = self.inner.clone();
                self.inner.runtime.spawn(async move {
                    tokio::time::sleep(d).await;
                    RaftClient::enqueue(&inner, msg, snapshot);
                });
            }
        }
    }
}

impl Transport for RaftClient {
    fn send(&self, msg: RaftMessage) {
        self.filtered_send(msg, false);
    }

    fn send_snapshot(&self, msg: RaftMessage) {
        self.filtered_send(msg, true);
    }
}

async fn connect(inner: &Inner, store_id: u64) -> Result<RaftTransportClient<Channel>, String> {
    let store = inner
        .pd
        .get_store(store_id)
        .await
        .map_err(|e| e.to_string())?;
    let endpoint = Endpoint::from_shared(format!("http://{}", store.address))
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true);
    let channel = endpoint.connect().await.map_err(|e| e.to_string())?;
    Ok(RaftTransportClient::new(channel)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX))
}

fn report_unreachable(inner: &Inner, msgs: &[RaftMessage]) {
    let mut seen = std::collections::HashSet::new();
    for m in msgs {
        let to = m.to_peer.as_ref().map_or(0, |p| p.id);
        if seen.insert((m.region_id, to)) {
            let _ = inner.router.send(StoreMsg::Unreachable {
                region_id: m.region_id,
                to_peer_id: to,
            });
        }
    }
}

/// Keeps a stream to one store and forwards batches over it.
async fn run_sender(
    inner: Arc<Inner>,
    to_store: u64,
    mut rx: mpsc::UnboundedReceiver<RaftMessage>,
) {
    let mut backoff = Duration::from_millis(50);
    'reconnect: loop {
        // Wait for something to send before connecting.
        let Some(first) = rx.recv().await else { return };
        let mut client = match connect(&inner, to_store).await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(to_store, "raft connect failed: {e}");
                let mut dropped = vec![first];
                while let Ok(m) = rx.try_recv() {
                    dropped.push(m);
                }
                report_unreachable(&inner, &dropped);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue 'reconnect;
            }
        };
        backoff = Duration::from_millis(50);
        let (batch_tx, batch_rx) = mpsc::channel::<RaftMessageBatch>(64);
        let stream = tokio_stream::wrappers::ReceiverStream::new(batch_rx);
        let mut call = Box::pin(async move { client.raft(stream).await });
        let mut pending = Some(first);
        loop {
            let mut msgs = Vec::new();
            if let Some(m) = pending.take() {
                msgs.push(m);
            } else {
                tokio::select! {
                    m = rx.recv() => match m {
                        Some(m) => msgs.push(m),
                        None => return,
                    },
                    res = &mut call => {
                        tracing::debug!(to_store, "raft stream closed: {:?}", res.err());
                        continue 'reconnect;
                    }
                }
            }
            while msgs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(m) => msgs.push(m),
                    Err(_) => break,
                }
            }
            let batch = RaftMessageBatch { msgs };
            tokio::select! {
                sent = batch_tx.send(batch) => {
                    if let Err(mpsc::error::SendError(batch)) = sent {
                        report_unreachable(&inner, &batch.msgs);
                        continue 'reconnect;
                    }
                }
                res = &mut call => {
                    tracing::debug!(to_store, "raft stream closed: {:?}", res.err());
                    continue 'reconnect;
                }
            }
        }
    }
}

/// How many chunks may be read ahead of the stream: the sender holds at
/// most this many chunks of a region in memory.
const SNAP_READ_AHEAD: usize = 4;

/// Sends one snapshot message: the raft message (its snapshot data only the
/// header) first, then the region's keys in chunks read from the snapshot's
/// source as the stream takes them; reports the outcome to the store loop.
async fn send_snapshot(inner: Arc<Inner>, msg: RaftMessage) {
    let to_store = msg.to_peer.as_ref().map_or(0, |p| p.store_id);
    let to_peer_id = msg.to_peer.as_ref().map_or(0, |p| p.id);
    let region_id = msg.region_id;
    let result = async {
        let (index, term) = snap::label(&msg).map_err(|e| e.to_string())?;
        let source = inner
            .snapshots
            .get(region_id, index, term)
            .ok_or_else(|| format!("no source for the snapshot at {index}/{term}"))?;
        let mut client = connect(&inner, to_store).await?;
        let (tx, rx) = mpsc::channel::<SnapshotChunk>(SNAP_READ_AHEAD);
        let first = SnapshotChunk {
            message: Some(msg),
            data: Vec::new(),
        };
        tx.send(first).await.map_err(|e| e.to_string())?;
        let chunk_size = inner.snap_chunk_size;
        let reader = tokio::task::spawn_blocking(move || {
            snap::for_each_chunk(&source, chunk_size, &mut |cf| {
                let chunk = SnapshotChunk {
                    message: None,
                    data: cf.encode_to_vec(),
                };
                tx.blocking_send(chunk).is_ok()
            })
        });
        let sent = client
            .snapshot(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .map_err(|e| e.to_string());
        let read = reader.await.map_err(|e| e.to_string())?;
        read.map_err(|e| e.to_string())?;
        sent?;
        Ok::<_, String>(())
    }
    .await;
    if let Err(e) = &result {
        tracing::warn!(region_id, to_store, "sending snapshot failed: {e}");
    }
    let _ = inner.router.send(StoreMsg::SnapshotStatus {
        region_id,
        to_peer_id,
        ok: result.is_ok(),
    });
}
