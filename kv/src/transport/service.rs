//! The receiving end of the raft transport: a tonic service that hands
//! every message to the store loop, reassembling chunked snapshots first.

use proto::raft_serverpb::raft_transport_server::RaftTransport;
use proto::raft_serverpb::{Done, RaftMessageBatch, SnapshotChunk};
use protobuf::Message as _;
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
        let mut data = Vec::new();
        while let Some(chunk) = stream.message().await? {
            if head.is_none() {
                head = chunk.message;
            }
            data.extend_from_slice(&chunk.data);
        }
        let mut msg =
            head.ok_or_else(|| Status::invalid_argument("snapshot stream without a message"))?;
        let mut raft_msg = raft::eraftpb::Message::parse_from_bytes(&msg.message)
            .map_err(|e| Status::invalid_argument(format!("bad raft message: {e}")))?;
        raft_msg.mut_snapshot().data = data.into();
        msg.message = raft_msg
            .write_to_bytes()
            .map_err(|e| Status::internal(format!("encode raft message: {e}")))?;
        self.router
            .send(StoreMsg::Raft(Box::new(msg)))
            .map_err(|_| Status::unavailable("store is shutting down"))?;
        Ok(Response::new(Done {}))
    }
}
