//! A real PD server on loopback, driven through the real client: bootstrap,
//! stores, heartbeats with operator answers, routing, splits, the admin API,
//! concurrent timestamps, and a restart on the same data directory.

use std::collections::BTreeSet;
use std::time::Duration;

use pd::{Error, PdClient, PdConfig};
use proto::metapb::{self, PeerRole, StoreState};
use proto::pdpb::{self, ConfChangeType, OperatorKind};
use tokio::net::TcpListener;

fn store(id: u64, port: u16) -> metapb::Store {
    metapb::Store {
        id,
        address: format!("127.0.0.1:{port}"),
        ..Default::default()
    }
}

fn config(dir: &std::path::Path) -> PdConfig {
    PdConfig {
        schedule_interval: Duration::from_millis(50),
        // Balance-leader would race the assertions about operators below.
        enable_balance_leader: false,
        ..PdConfig::with_data_dir(dir.join("pd"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_server_over_grpc_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = pd::start(config(dir.path()), listener).await.unwrap();
    assert_eq!(server.addr(), addr);
    let client = PdClient::connect(&addr.to_string()).await.unwrap();

    // --- Before bootstrap: ids, timestamps and stores work, routing does not.
    assert!(!client.is_bootstrapped().await.unwrap());
    let ts0 = client.get_ts().await.unwrap();
    assert!(
        pd::core::physical(ts0) > 1_600_000_000_000,
        "physical part is wall-clock ms"
    );
    assert!(matches!(
        client.get_region(b"a").await,
        Err(Error::NotBootstrapped)
    ));
    assert!(matches!(
        client.get_operators().await,
        Err(Error::NotBootstrapped)
    ));
    let s1 = client.alloc_id().await.unwrap();
    let (region_id, peer_id) = (
        client.alloc_id().await.unwrap(),
        client.alloc_id().await.unwrap(),
    );
    client.put_store(store(s1, 20161)).await.unwrap();
    assert_eq!(client.get_store(s1).await.unwrap().state(), StoreState::Up);

    // --- Bootstrap, exactly once.
    let region = metapb::Region {
        id: region_id,
        region_epoch: Some(metapb::RegionEpoch {
            conf_ver: 1,
            version: 1,
        }),
        peers: vec![metapb::Peer {
            id: peer_id,
            store_id: s1,
            role: 0,
        }],
        ..Default::default()
    };
    client
        .bootstrap(store(s1, 20161), region.clone())
        .await
        .unwrap();
    assert!(client.is_bootstrapped().await.unwrap());
    let again = client.bootstrap(store(s1, 20161), region.clone()).await;
    assert!(
        matches!(again, Err(Error::AlreadyBootstrapped)),
        "{again:?}"
    );

    // --- Two more stores; all heartbeat.
    let s2 = client.alloc_id().await.unwrap();
    let s3 = client.alloc_id().await.unwrap();
    client.put_store(store(s2, 20162)).await.unwrap();
    client.put_store(store(s3, 20163)).await.unwrap();
    for s in [s1, s2, s3] {
        client
            .store_heartbeat(pdpb::StoreStats {
                store_id: s,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let unknown = client
        .store_heartbeat(pdpb::StoreStats {
            store_id: 999,
            ..Default::default()
        })
        .await;
    assert!(matches!(unknown, Err(Error::StoreNotFound(_))));

    // --- The first region heartbeat is answered with a step: add a learner.
    let leader = region.peers[0];
    let hb = |region: metapb::Region, pending: Vec<metapb::Peer>| pdpb::RegionHeartbeatRequest {
        region: Some(region),
        leader: Some(leader),
        pending_peers: pending,
        approximate_size: 1 << 20,
        ..Default::default()
    };
    let resp = client
        .region_heartbeat(hb(region.clone(), vec![]))
        .await
        .unwrap();
    let step = resp.change_peer.expect("an operator step");
    assert_eq!(step.change_type(), ConfChangeType::AddLearnerNode);
    let new_peer = step.peer.unwrap();
    assert_eq!(new_peer.role(), PeerRole::Learner);
    assert!([s2, s3].contains(&new_peer.store_id));
    assert_eq!(resp.region_id, region_id);
    let ops = client.get_operators().await.unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(
        (ops[0].source.as_str(), ops[0].desc.as_str()),
        ("replica-checker", "add-replica")
    );

    // The leader applies it; while the learner catches up PD waits, then promotes.
    let mut grown = region.clone();
    grown.peers.push(new_peer);
    grown.region_epoch.as_mut().unwrap().conf_ver += 1;
    let resp = client
        .region_heartbeat(hb(grown.clone(), vec![new_peer]))
        .await
        .unwrap();
    assert!(resp.change_peer.is_none() && resp.transfer_leader.is_none());
    let resp = client
        .region_heartbeat(hb(grown.clone(), vec![]))
        .await
        .unwrap();
    assert_eq!(
        resp.change_peer.unwrap().change_type(),
        ConfChangeType::AddNode
    );

    // A stale heartbeat (older conf_ver) is refused.
    let stale = client.region_heartbeat(hb(region.clone(), vec![])).await;
    assert!(matches!(stale, Err(Error::StaleRegion(_))), "{stale:?}");

    // --- Routing.
    let got = client.get_region(b"any key").await.unwrap();
    assert_eq!(got.region.unwrap(), grown);
    assert_eq!(got.leader, Some(leader));
    assert_eq!(got.approximate_size, 1 << 20);
    assert_eq!(
        client
            .get_region_by_id(region_id)
            .await
            .unwrap()
            .region
            .unwrap()
            .id,
        region_id
    );
    assert!(matches!(
        client.get_region_by_id(424242).await,
        Err(Error::RegionNotFound(_))
    ));

    // --- Split.
    let ids = client.ask_split(grown.clone()).await.unwrap();
    assert_eq!(ids.new_peer_ids.len(), grown.peers.len());
    let mut left = grown.clone();
    left.end_key = b"m".to_vec();
    left.region_epoch.as_mut().unwrap().version += 1;
    let mut right = left.clone();
    right.id = ids.new_region_id;
    right.start_key = b"m".to_vec();
    right.end_key = vec![];
    for (p, id) in right.peers.iter_mut().zip(&ids.new_peer_ids) {
        p.id = *id;
    }
    client
        .report_split(left.clone(), right.clone())
        .await
        .unwrap();
    let scanned = client.scan_regions(b"", b"", 0).await.unwrap();
    let scanned: Vec<u64> = scanned
        .iter()
        .map(|r| r.region.as_ref().unwrap().id)
        .collect();
    assert_eq!(scanned, vec![region_id, ids.new_region_id]);
    assert_eq!(
        client.get_region(b"z").await.unwrap().region.unwrap().id,
        ids.new_region_id
    );
    assert_eq!(client.scan_regions(b"", b"", 1).await.unwrap().len(), 1);

    // --- Admin API.
    let bad = client
        .add_operator(OperatorKind::TransferLeader, region_id, s3)
        .await;
    assert!(
        matches!(bad, Err(Error::InvalidArgument(ref m)) if m.contains("no voter")),
        "{bad:?}"
    );
    let missing = client.add_operator(OperatorKind::AddPeer, 424242, s3).await;
    assert!(matches!(missing, Err(Error::RegionNotFound(_))));
    let nostore = client
        .add_operator(OperatorKind::AddPeer, region_id, 777)
        .await;
    assert!(matches!(nostore, Err(Error::StoreNotFound(_))));
    let schedulers = client.get_schedulers().await.unwrap();
    let names: Vec<(&str, bool)> = schedulers
        .iter()
        .map(|s| (s.name.as_str(), s.enabled))
        .collect();
    assert_eq!(
        names,
        vec![
            ("replica-checker", true),
            ("balance-leader", false),
            ("columnar-placement", true)
        ]
    );
    // Columnar placement rules: validated, replaced by id, deleted at 0.
    let rule = |id: &str, start: &[u8], end: &[u8], count| pdpb::ColumnarRule {
        id: id.into(),
        start_key: start.to_vec(),
        end_key: end.to_vec(),
        count,
    };
    let bad = client.set_columnar_rule(rule("t", b"b", b"a", 1)).await;
    assert!(matches!(bad, Err(Error::InvalidArgument(_))), "{bad:?}");
    client
        .set_columnar_rule(rule("t1", b"a", b"b", 1))
        .await
        .unwrap();
    client
        .set_columnar_rule(rule("t2", b"b", b"c", 1))
        .await
        .unwrap();
    client
        .set_columnar_rule(rule("t1", b"a", b"b", 2))
        .await
        .unwrap();
    client
        .set_columnar_rule(rule("t2", b"", b"", 0))
        .await
        .unwrap();
    assert!(schedulers[0].config.contains("\"max-replicas\":3"));

    // --- Stores: counts from the region map; removing an empty store.
    let s4 = client.alloc_id().await.unwrap();
    client.put_store(store(s4, 20164)).await.unwrap();
    client.remove_store(s4).await.unwrap();
    assert_eq!(
        client.get_store(s4).await.unwrap().state(),
        StoreState::Tombstone
    );
    assert!(matches!(
        client.put_store(store(s4, 20164)).await,
        Err(Error::StoreTombstone(_))
    ));
    let all = client.get_all_stores(true).await.unwrap();
    assert_eq!(all.len(), 3);
    let s1_info = all
        .iter()
        .find(|s| s.store.as_ref().unwrap().id == s1)
        .unwrap();
    assert_eq!((s1_info.region_count, s1_info.leader_count), (2, 2));
    assert!(s1_info.last_heartbeat_ms > 0);
    assert_eq!(client.get_all_stores(false).await.unwrap().len(), 4);

    // --- Many concurrent timestamps: all distinct, all after ts0.
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.get_ts().await.unwrap() })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for t in tasks {
        let ts = t.await.unwrap();
        assert!(ts > ts0);
        assert!(seen.insert(ts), "duplicate timestamp {ts}");
    }
    let last_ts = client.get_ts().await.unwrap();
    assert!(last_ts > *seen.last().unwrap());
    let last_id = client.alloc_id().await.unwrap();

    // --- Restart on the same directory and address.
    server.shutdown().await;
    let down = client.alloc_id().await;
    assert!(down.as_ref().is_err_and(Error::is_retryable), "{down:?}");
    let listener = TcpListener::bind(addr).await.unwrap();
    // Without the replica checker, so the operator listing stays quiet.
    let restarted = PdConfig {
        enable_replica_checker: false,
        ..config(dir.path())
    };
    let server = pd::start(restarted, listener).await.unwrap();

    // The same client carries on.
    assert!(client.is_bootstrapped().await.unwrap());
    let ts = client.get_ts().await.unwrap();
    assert!(
        ts > last_ts,
        "TSO went backwards across restart: {ts} <= {last_ts}"
    );
    assert!(
        client.alloc_id().await.unwrap() > last_id,
        "ids are never reused"
    );
    assert_eq!(
        client.get_store(s2).await.unwrap().address,
        "127.0.0.1:20162"
    );
    assert_eq!(
        client.get_columnar_rules().await.unwrap(),
        vec![rule("t1", b"a", b"b", 2)],
        "columnar rules are persisted"
    );
    assert_eq!(
        client.get_store(s4).await.unwrap().state(),
        StoreState::Tombstone
    );
    let scanned = client.scan_regions(b"", b"", 0).await.unwrap();
    assert_eq!(scanned.len(), 2);
    assert_eq!(scanned[0].region.as_ref().unwrap(), &left);
    assert_eq!(scanned[1].region.as_ref().unwrap(), &right);
    // Operators are soft state: gone (the checkers would plan them afresh).
    assert!(client.get_operators().await.unwrap().is_empty());
    assert!(!client.get_schedulers().await.unwrap()[0].enabled);
    server.shutdown().await;
}

#[tokio::test]
async fn connecting_to_nothing_is_unreachable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = PdClient::connect(&format!("127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains(&port.to_string()));
}

#[tokio::test]
async fn a_second_pd_cannot_open_a_directory_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let first = pd::start(
        config(dir.path()),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let second = pd::start(
        config(dir.path()),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await;
    assert!(matches!(second, Err(Error::Storage(_))));
    first.shutdown().await;
}
