//! The kv crate's error type. Region errors carry what a client needs to
//! retry (leader hint, current regions) and convert to `errorpb::Error`.

use proto::errorpb;
use proto::metapb;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("region {region_id}: not leader (leader: {leader:?})")]
    NotLeader {
        region_id: u64,
        leader: Option<metapb::Peer>,
    },
    #[error("region {0} not found on this store")]
    RegionNotFound(u64),
    #[error("key {key:?} not in region {region_id}")]
    KeyNotInRegion {
        key: Vec<u8>,
        region_id: u64,
        start_key: Vec<u8>,
        end_key: Vec<u8>,
    },
    #[error("epoch not match; current regions: {}", .0.len())]
    EpochNotMatch(Vec<metapb::Region>),
    #[error("store id mismatch: request for {requested}, this is {actual}")]
    StoreNotMatch { requested: u64, actual: u64 },
    #[error("stale command: the proposal was superseded by another leader's entries")]
    StaleCommand,
    #[error("server is busy: {0}")]
    ServerIsBusy(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("store is shutting down")]
    ShuttingDown,
    #[error("engine: {0}")]
    Engine(String),
    #[error("codec: {0}")]
    Codec(String),
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    #[error("pd: {0}")]
    Pd(#[from] pd::Error),
    #[error("transport: {0}")]
    Transport(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Whether a client should refresh routing and retry.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::NotLeader { .. }
                | Error::RegionNotFound(_)
                | Error::KeyNotInRegion { .. }
                | Error::EpochNotMatch(_)
                | Error::StoreNotMatch { .. }
                | Error::StaleCommand
                | Error::ServerIsBusy(_)
                | Error::Timeout(_)
                | Error::Transport(_)
                | Error::ShuttingDown
        ) || matches!(self, Error::Pd(e) if e.is_retryable())
    }

    /// The region error to send to a client, if this is one.
    pub fn to_region_error(&self) -> Option<errorpb::Error> {
        let mut e = errorpb::Error {
            message: self.to_string(),
            ..Default::default()
        };
        match self {
            Error::NotLeader { region_id, leader } => {
                e.not_leader = Some(errorpb::NotLeader {
                    region_id: *region_id,
                    leader: *leader,
                })
            }
            Error::RegionNotFound(id) => {
                e.region_not_found = Some(errorpb::RegionNotFound { region_id: *id })
            }
            Error::KeyNotInRegion {
                key,
                region_id,
                start_key,
                end_key,
            } => {
                e.key_not_in_region = Some(errorpb::KeyNotInRegion {
                    key: key.clone(),
                    region_id: *region_id,
                    start_key: start_key.clone(),
                    end_key: end_key.clone(),
                })
            }
            Error::EpochNotMatch(regions) => {
                e.epoch_not_match = Some(errorpb::EpochNotMatch {
                    current_regions: regions.clone(),
                })
            }
            Error::StoreNotMatch { requested, actual } => {
                e.store_not_match = Some(errorpb::StoreNotMatch {
                    request_store_id: *requested,
                    actual_store_id: *actual,
                })
            }
            Error::StaleCommand => e.stale_command = Some(errorpb::StaleCommand {}),
            Error::ServerIsBusy(reason) | Error::Timeout(reason) => {
                e.server_is_busy = Some(errorpb::ServerIsBusy {
                    reason: reason.clone(),
                })
            }
            Error::ShuttingDown => {
                e.server_is_busy = Some(errorpb::ServerIsBusy {
                    reason: "shutting down".into(),
                })
            }
            _ => return None,
        }
        Some(e)
    }

    /// The inverse of [`Error::to_region_error`], on the client side.
    pub fn from_region_error(e: errorpb::Error) -> Error {
        if let Some(nl) = e.not_leader {
            return Error::NotLeader {
                region_id: nl.region_id,
                leader: nl.leader,
            };
        }
        if let Some(r) = e.region_not_found {
            return Error::RegionNotFound(r.region_id);
        }
        if let Some(k) = e.key_not_in_region {
            return Error::KeyNotInRegion {
                key: k.key,
                region_id: k.region_id,
                start_key: k.start_key,
                end_key: k.end_key,
            };
        }
        if let Some(m) = e.epoch_not_match {
            return Error::EpochNotMatch(m.current_regions);
        }
        if let Some(s) = e.store_not_match {
            return Error::StoreNotMatch {
                requested: s.request_store_id,
                actual: s.actual_store_id,
            };
        }
        if e.stale_command.is_some() {
            return Error::StaleCommand;
        }
        if let Some(b) = e.server_is_busy {
            return Error::ServerIsBusy(b.reason);
        }
        Error::Other(e.message)
    }
}

impl From<prost::DecodeError> for Error {
    fn from(e: prost::DecodeError) -> Self {
        Error::Codec(e.to_string())
    }
}

impl From<protobuf::ProtobufError> for Error {
    fn from(e: protobuf::ProtobufError) -> Self {
        Error::Codec(e.to_string())
    }
}
