//! Shared helpers for the share-consumer integration tests: a mock cluster
//! with share groups reading from the earliest offset, a raw producer, and
//! consumers with test-sized timeouts.
#![allow(dead_code)]

pub mod proxy;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rkafka_client_consumer::{
    AcknowledgeType, AcknowledgementMode, ShareConsumer, ShareConsumerConfig, ShareRecord,
};
use rkafka_client_core::config::ConnectionConfig;
use rkafka_client_core::{Client, ClientConfig};
use rkafka_test_support::raw;
use rkafka_tests::{MockCluster, MockConfig};

/// A mock cluster: `brokers` brokers, share groups from the earliest
/// offset, request tracking on, heartbeats every 300 ms (fast rebalances).
pub fn mock(brokers: usize, topics: &[(&str, i32)]) -> Arc<MockCluster> {
    let mut cfg = MockConfig::brokers(brokers);
    for (t, p) in topics {
        cfg = cfg.topic(t, *p, brokers.min(3) as i32);
    }
    cfg.share_earliest = true;
    cfg.track_requests = true;
    let m = MockCluster::start(cfg).unwrap_or_else(|e| panic!("{e}"));
    m.control("share_hb_ms 300")
        .unwrap_or_else(|e| panic!("{e}"));
    Arc::new(m)
}

/// Runs one control command off the runtime threads.
pub async fn control(mock: &Arc<MockCluster>, command: &str) -> String {
    let (mock, command) = (Arc::clone(mock), command.to_owned());
    tokio::task::spawn_blocking(move || mock.control(&command))
        .await
        .expect("control thread")
        .unwrap_or_else(|e| panic!("{e}"))
}

pub fn client_config(bootstrap: &str) -> ClientConfig {
    let connection = ConnectionConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_secs(10))
        .reconnect_backoff(Duration::from_millis(20))
        .reconnect_backoff_max(Duration::from_millis(200))
        .build();
    ClientConfig::builder()
        .bootstrap_servers(bootstrap)
        .retry_backoff(Duration::from_millis(20))
        .retry_backoff_max(Duration::from_millis(200))
        .default_api_timeout(Duration::from_secs(10))
        .connection(connection)
        .build()
}

/// A share consumer of `group` on `topics`.
pub async fn consumer(
    bootstrap: &str,
    group: &str,
    topics: &[&str],
    mode: AcknowledgementMode,
) -> ShareConsumer {
    let cfg = config(bootstrap, group, topics, mode);
    ShareConsumer::connect(cfg).await.expect("connect")
}

/// The config [`consumer`] uses, for tests that change a field.
pub fn config(
    bootstrap: &str,
    group: &str,
    topics: &[&str],
    mode: AcknowledgementMode,
) -> ShareConsumerConfig {
    ShareConsumerConfig::builder()
        .bootstrap(bootstrap)
        .group_id(group)
        .topics(topics.iter().map(|t| t.to_string()).collect())
        .acknowledgement_mode(mode)
        .fetch_max_wait(Duration::from_millis(200))
        .client(client_config(bootstrap))
        .build()
}

/// Produces `n` records (`prefix` + index) to `topic`/`partition`, in
/// batches of 200.
pub async fn produce(client: &Client, topic: &str, partition: i32, n: usize, prefix: &str) {
    let values: Vec<String> = (0..n).map(|k| format!("{prefix}{k}")).collect();
    for chunk in values.chunks(200) {
        let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
        produce_values(client, topic, partition, &chunk).await;
    }
}

pub async fn producer(bootstrap: &str) -> Client {
    Client::connect(client_config(bootstrap))
        .await
        .expect("producer client")
}

/// (partition, offset) → delivery counts seen.
pub type Seen = BTreeMap<(i32, i64), Vec<i16>>;

/// Polls `c` until `stop()` says so or `limit` passes, acknowledging each
/// record with `ack` (explicit mode; `None` in implicit mode).
pub async fn drain(
    c: &mut ShareConsumer,
    limit: Duration,
    ack: Option<AcknowledgeType>,
    mut stop: impl FnMut(&Seen) -> bool,
) -> Seen {
    let mut seen = Seen::new();
    let end = Instant::now() + limit;
    while Instant::now() < end && !stop(&seen) {
        let records = c.poll(Duration::from_millis(200)).await.expect("poll");
        for r in &records {
            seen.entry((r.partition, r.offset))
                .or_default()
                .push(r.delivery_count);
            if let Some(a) = ack {
                c.acknowledge(r, a).expect("acknowledge");
            }
        }
    }
    seen
}

pub fn value(r: &ShareRecord) -> String {
    String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()
}

/// Runs each consumer in its own task, accepting everything, until the
/// union of distinct records reaches `target` or `limit` passes; returns
/// each consumer's records and the consumers (for closing).
pub async fn drain_together(
    consumers: Vec<ShareConsumer>,
    target: usize,
    limit: Duration,
) -> Vec<(ShareConsumer, Seen)> {
    use std::collections::BTreeSet;
    use std::sync::Mutex;
    let union: Arc<Mutex<BTreeSet<(i32, i64)>>> = Arc::default();
    let mut tasks = Vec::new();
    for mut c in consumers {
        let union = union.clone();
        tasks.push(tokio::spawn(async move {
            let end = Instant::now() + limit;
            let mut seen = Seen::new();
            while Instant::now() < end && union.lock().unwrap().len() < target {
                let records = c.poll(Duration::from_millis(200)).await.expect("poll");
                for r in &records {
                    seen.entry((r.partition, r.offset))
                        .or_default()
                        .push(r.delivery_count);
                    union.lock().unwrap().insert((r.partition, r.offset));
                    c.acknowledge(r, AcknowledgeType::Accept).expect("ack");
                }
                // Keep acks flowing even when the other member took the rest.
                if !records.is_empty() {
                    c.commit_async().expect("commit_async");
                }
            }
            let _ = c.commit_sync(Duration::from_secs(5)).await;
            (c, seen)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("consumer task"));
    }
    out
}

/// Asserts no record was delivered twice across `seens` and returns the union size.
pub fn assert_no_duplicates(seens: &[&Seen]) -> usize {
    let mut all = std::collections::BTreeMap::new();
    for s in seens {
        for (k, counts) in s.iter() {
            assert_eq!(
                counts.len(),
                1,
                "{k:?} delivered {} times to one member",
                counts.len()
            );
            *all.entry(*k).or_insert(0) += 1;
        }
    }
    let dups: Vec<_> = all
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| {
            (
                k,
                seens.iter().map(|s| s.get(k).cloned()).collect::<Vec<_>>(),
            )
        })
        .take(5)
        .collect();
    assert!(dups.is_empty(), "delivered to two members: {dups:?}");
    all.len()
}

/// Polls every consumer until the mock lists `n` members in `group` and a
/// few heartbeats have passed, so the assignment is settled before records
/// exist (a rebalance while records are in flight legitimately releases
/// them, which would show as a redelivery).
pub async fn settle(
    m: &Arc<MockCluster>,
    group: &str,
    consumers: &mut [&mut ShareConsumer],
    n: usize,
) {
    let end = Instant::now() + Duration::from_secs(15);
    while Instant::now() < end {
        for c in consumers.iter_mut() {
            c.poll(Duration::from_millis(50)).await.expect("poll");
        }
        if control(m, &format!("share_members {group}"))
            .await
            .split_whitespace()
            .count()
            >= n
        {
            break;
        }
    }
    let end = Instant::now() + Duration::from_millis(1200);
    while Instant::now() < end {
        for c in consumers.iter_mut() {
            c.poll(Duration::from_millis(100)).await.expect("poll");
        }
    }
}

/// Produces the given values to `topic`/`partition` in one batch.
pub async fn produce_values(client: &Client, topic: &str, partition: i32, values: &[&str]) {
    raw::produce(client, topic, partition, raw::batch(None, values)).await;
}
