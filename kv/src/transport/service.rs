//! The receiving end of the raft transport: a tonic service that hands
//! every message to the store loop, reassembling chunked snapshots first
//! (each chunk an encoded `CfData` of the region's keys).

use prost::Message as _;
use proto::raft_serverpb::raft_transport_server::RaftTransport;
use proto::raft_serverpb::{CfData, Done, RaftMessageBatch, SnapshotChunk};
use tonic::{Request, Response, Status, Streaming};

use crate::raftstore::{StoreMsg, StoreRouter};

pub struct RaftService {
    router: StoreRouter,
}

impl RaftService {
    pub fn new(router: StoreRouter) -> Self {
        RaftService { router }
    }
}

#[tonic::async_trait]
impl RaftTransport for RaftService {
    async fn raft(
        &self,
        request: Request<Streaming<RaftMessageBatch>>,
    ) -> Result<Response<Done>, Status> {
        let mut stream = request.into_inner();
        while let Some(batch) = stream.message().await? {
            for msg in batch.msgs {
                if self.router.send(StoreMsg::Raft(Box::new(msg))).is_err() {
                    return Err(Status::unavailable("store is shutting down"));
                }
            }
        }
        Ok(Response::new(Done {}))
    }

    async fn snapshot(
        &self,
        request: Request<Streaming<SnapshotChunk>>,
    ) -> Result<Response<Done>, Status> {
        let mut stream = request.into_inner();
        let mut head = None;
        let mut chunks = Vec::new();
        while let Some(chunk) = stream.message().await? {
            if head.is_none() {
                head = chunk.message;
            }
            if !chunk.data.is_empty() {
                let cf = CfData::decode(&chunk.data[..])
                    .map_err(|e| Status::invalid_argument(format!("bad snapshot chunk: {e}")))?;
                chunks.push(cf);
            }
        }
        let head =
            head.ok_or_else(|| Status::invalid_argument("snapshot stream without a message"))?;
        let msg = crate::raftstore::snap::assemble(head, chunks)
            .map_err(|e| Status::invalid_argument(format!("bad snapshot message: {e}")))?;
        self.router
            .send(StoreMsg::Raft(Box::new(msg)))
            .map_err(|_| Status::unavailable("store is shutting down"))?;
        Ok(Response::new(Done {}))
    }
}
