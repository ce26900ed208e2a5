//! The PD worker: an async task that sends heartbeats and split requests to
//! PD and routes PD's answers (operator steps, allocated split ids) back to
//! the store loop. Each request runs on its own task so a slow PD never
//! delays another region's report.

use pd::PdClient;
use proto::metapb;
use proto::pdpb::{RegionHeartbeatRequest, StoreStats};
use tokio::sync::mpsc;

use crate::raftstore::{StoreMsg, StoreRouter};

pub enum PdTask {
    RegionHeartbeat(Box<RegionHeartbeatRequest>),
    StoreHeartbeat(StoreStats),
    AskSplit {
        region: metapb::Region,
        split_key: Vec<u8>,
    },
    ReportSplit {
        left: metapb::Region,
        right: metapb::Region,
    },
}

pub async fn run_pd_worker(
    pd: PdClient,
    mut rx: mpsc::UnboundedReceiver<PdTask>,
    router: StoreRouter,
) {
    while let Some(task) = rx.recv().await {
        if matches!(task, PdTask::ReportSplit { .. }) {
            // In order: PD must know both halves before the shrunk left
            // region's next heartbeat, or its map has a hole meanwhile.
            handle(pd.clone(), task, router.clone()).await;
            continue;
        }
        let pd = pd.clone();
        let router = router.clone();
        tokio::spawn(async move { handle(pd, task, router).await });
    }
}

async fn handle(pd: PdClient, task: PdTask, router: StoreRouter) {
    match task {
        PdTask::RegionHeartbeat(req) => {
            let region_id = req.region.as_ref().map_or(0, |r| r.id);
            match pd.region_heartbeat(*req).await {
                Ok(resp) => {
                    let has_step = resp.change_peer.is_some()
                        || resp.transfer_leader.is_some()
                        || resp.split_region.is_some();
                    if has_step {
                        let _ = router.send(StoreMsg::PdOperator(Box::new(resp)));
                    }
                }
                Err(e) => tracing::debug!(region_id, "region heartbeat failed: {e}"),
            }
        }
        PdTask::StoreHeartbeat(stats) => {
            if let Err(e) = pd.store_heartbeat(stats).await {
                tracing::debug!("store heartbeat failed: {e}");
            }
        }
        PdTask::AskSplit { region, split_key } => match pd.ask_split(region.clone()).await {
            Ok(resp) => {
                let _ = router.send(StoreMsg::ProposeSplit {
                    region_id: region.id,
                    epoch: region.region_epoch.unwrap_or_default(),
                    split_key,
                    new_region_id: resp.new_region_id,
                    new_peer_ids: resp.new_peer_ids,
                });
            }
            Err(e) => tracing::info!(region_id = region.id, "ask split failed: {e}"),
        },
        PdTask::ReportSplit { left, right } => {
            if let Err(e) = pd.report_split(left, right).await {
                tracing::info!("report split failed: {e}");
            }
        }
    }
}
