//! Raw get/put on a few keys under concurrent clients, across a leader
//! failure, checked for linearizability.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::Rng;
use tests::cluster::{Cluster, init_logging};
use tests::linearizability::{Event, Op, check};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn raw_get_put_is_linearizable_across_leader_failure() -> anyhow::Result<()> {
    init_logging();
    let mut cluster = Cluster::start(3).await?;
    let start = Instant::now();
    let history = Arc::new(Mutex::new(Vec::<Event>::new()));
    let stop_at = start + Duration::from_secs(6);
    let mut clients = Vec::new();
    for c in 0..4u64 {
        let client = cluster
            .raw_client()
            .await?
            .with_timeout(Duration::from_secs(3));
        let history = history.clone();
        clients.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < stop_at {
                let key = rand::rng().random_range(0..3u64);
                let call = start.elapsed().as_nanos();
                if rand::rng().random_bool(0.5) {
                    n += 1;
                    let value = c * 1_000_000 + n;
                    let r = client
                        .put(key.to_be_bytes().to_vec(), value.to_be_bytes().to_vec())
                        .await;
                    let ret = r.is_ok().then(|| start.elapsed().as_nanos());
                    history.lock().push(Event {
                        key,
                        op: Op::Put(value),
                        call,
                        ret,
                    });
                } else if let Ok(v) = client.get(key.to_be_bytes().to_vec()).await {
                    let ret = start.elapsed().as_nanos();
                    let v = v.map(|b| u64::from_be_bytes(b.try_into().expect("8-byte value")));
                    history.lock().push(Event {
                        key,
                        op: Op::Get(v),
                        call,
                        ret: Some(ret),
                    });
                }
            }
        }));
    }
    // Kill the leader once the history is well under way.
    tests::cluster::wait_until("100 operations done", Duration::from_secs(10), || async {
        history.lock().len() >= 100
    })
    .await?;
    let (leader, _) = cluster
        .wait_leader_of(&0u64.to_be_bytes(), Duration::from_secs(10))
        .await?;
    let killed_at = start.elapsed().as_nanos();
    cluster.stop_store(leader).await?;
    for c in clients {
        c.await?;
    }
    let history = history.lock().clone();
    let completed = history.iter().filter(|e| e.ret.is_some()).count();
    let after_kill = history
        .iter()
        .filter(|e| e.call > killed_at && e.ret.is_some())
        .count();
    let unknown = history.iter().filter(|e| e.ret.is_none()).count();
    eprintln!(
        "{completed} operations completed ({after_kill} after the leader was stopped), {unknown} puts with unknown outcome"
    );
    assert!(completed > 50, "too few operations completed: {completed}");
    assert!(
        after_kill > 10,
        "the cluster did not serve after the leader failure: {after_kill}"
    );
    let checked = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || check(&history))?
        .join()
        .expect("checker thread");
    assert_eq!(checked, Ok(()), "history not linearizable for that key");
    cluster.shutdown().await;
    Ok(())
}
