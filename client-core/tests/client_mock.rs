//! The client against librdkafka's mock cluster (3 brokers): metadata and
//! routing across brokers, and requests that keep working through leader
//! moves, broker restarts, injected retriable errors, coordinator moves and
//! a rebootstrap.
//!
//! The mock comes from the `rkafka-tests` harness; a machine without it fails,
//! saying how to install it (`just peers`). With `KAFKA_BOOTSTRAP` set these
//! tests skip with a printed reason: they need the mock's fault injection.

use std::collections::BTreeMap;
use std::time::Duration;

use rkafka_client_core::admin::{Admin, OffsetSpec};
use rkafka_client_core::client::MetadataRecoveryStrategy;
use rkafka_client_core::{Client, ClientConfig, CoordinatorKind, Target};
use rkafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use rkafka_protocol::messages::{ApiVersionsRequest, HeartbeatRequest, OffsetFetchRequest};
use rkafka_protocol::ErrorCode;
use rkafka_test_support::raw;

use std::sync::Arc;

use rkafka_tests::{MockCluster, MockConfig};

/// Starts a mock cluster (shared with the tasks that drive it).
fn mock_cluster(config: MockConfig) -> Arc<MockCluster> {
    Arc::new(MockCluster::start(config).unwrap_or_else(|e| panic!("{e}")))
}

/// Runs one mock control command off the runtime's threads (the harness
/// blocks until the mock answers); a refused command fails the test.
async fn control(mock: &Arc<MockCluster>, command: &str) {
    let (mock, command) = (Arc::clone(mock), command.to_owned());
    tokio::task::spawn_blocking(move || mock.control(&command))
        .await
        .expect("the control thread")
        .unwrap_or_else(|e| panic!("{e}"));
}

const LIMIT: Duration = Duration::from_secs(60);

fn config(bootstrap: &str) -> ClientConfig {
    let connection = rkafka_client_core::config::ConnectionConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_secs(5))
        .reconnect_backoff(Duration::from_millis(20))
        .reconnect_backoff_max(Duration::from_millis(200))
        .build();
    ClientConfig::builder()
        .bootstrap_servers(bootstrap)
        .client_id("rkafka-client-test")
        .retry_backoff(Duration::from_millis(20))
        .retry_backoff_max(Duration::from_millis(200))
        .default_api_timeout(Duration::from_secs(20))
        .connection(connection)
        .build()
}

async fn start() -> (Arc<MockCluster>, Client) {
    let mock = mock_cluster(MockConfig::brokers(3).topic("t", 4, 3));
    let client = Client::connect(config(mock.bootstrap()))
        .await
        .expect("connect");
    (mock, client)
}

/// Produces `values` to `topic`/`partition` through the client, retrying
/// per-partition errors; returns the base offset.
async fn produce_ok(client: &Client, topic: &str, partition: i32, values: &[&str]) -> i64 {
    raw::produce(client, topic, partition, raw::batch(None, values)).await
}

/// Fetches `topic`/`partition` from `offset` up to the high watermark and
/// decodes the values.
async fn fetch_values(client: &Client, topic: &str, partition: i32, offset: i64) -> Vec<String> {
    raw::fetch_all(client, topic, partition, offset, true)
        .await
        .into_iter()
        .map(|r| String::from_utf8(r.value.unwrap()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_and_routing_across_brokers() {
    rkafka_tests::skip_if_external!(
        "drives the mock cluster (leaders, brokers down, injected errors)"
    );
    let (_mock, client) = start().await;
    tokio::time::timeout(LIMIT, async {
        let md = client.refresh_metadata(&["t".into()]).await.unwrap();
        assert_eq!(md.brokers.len(), 3);
        let t = md.topic("t").expect("topic t");
        assert_eq!(t.partitions.len(), 4);
        for p in 0..4 {
            assert!(md.leader("t", p).is_some());
        }
        for id in md.brokers.keys() {
            client
                .send_to_broker(*id, ApiVersionsRequest::default())
                .await
                .unwrap();
        }
        client
            .send_to_any(ApiVersionsRequest::default())
            .await
            .unwrap();
        // Every partition's data lands at its leader and comes back.
        for p in 0..4 {
            let base = produce_ok(&client, "t", p, &[&format!("v{p}")]).await;
            let got = fetch_values(&client, "t", p, base).await;
            assert_eq!(got, vec![format!("v{p}")]);
        }
        // Connections were opened to every leader.
        assert_eq!(client.view().connections.len(), 3);
        // The mock lacks DescribeCluster: the admin falls back to Metadata.
        let admin = Admin::new(client.clone());
        let cluster = admin.describe_cluster().await.unwrap();
        assert_eq!(cluster.brokers.len(), 3);
        assert_eq!(Some(cluster.cluster_id.as_str()), md.cluster_id.as_deref());
        // ... and CreateTopics: a typed error, at once.
        let created = admin
            .create_topics(
                &[rkafka_client_core::admin::NewTopic::new("x", 1, 1)],
                false,
            )
            .await;
        assert!(
            matches!(
                created,
                Err(rkafka_client_core::Error::UnsupportedVersion { .. })
            ),
            "{created:?}"
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_move_is_followed() {
    rkafka_tests::skip_if_external!(
        "drives the mock cluster (leaders, brokers down, injected errors)"
    );
    let (mock, client) = start().await;
    tokio::time::timeout(LIMIT, async {
        let md = client.refresh_metadata(&["t".into()]).await.unwrap();
        let old = md.leader("t", 0).unwrap().id;
        let new = md.brokers.keys().copied().find(|id| *id != old).unwrap();
        produce_ok(&client, "t", 0, &["before"]).await;
        control(&mock, &format!("leader t 0 {new}")).await;
        // The cached leader answers NOT_LEADER_OR_FOLLOWER; the client
        // refreshes and goes to the new one.
        let base = produce_ok(&client, "t", 0, &["after"]).await;
        assert_eq!(client.metadata().leader("t", 0).unwrap().id, new);
        assert_eq!(fetch_values(&client, "t", 0, base).await, vec!["after"]);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_and_up() {
    rkafka_tests::skip_if_external!(
        "drives the mock cluster (leaders, brokers down, injected errors)"
    );
    let (mock, client) = start().await;
    tokio::time::timeout(LIMIT, async {
        let md = client.refresh_metadata(&["t".into()]).await.unwrap();
        let leader = md.leader("t", 1).unwrap().id;
        produce_ok(&client, "t", 1, &["one"]).await;
        control(&mock, &format!("down {leader}")).await;
        // Other brokers keep answering.
        client
            .send_to_any(ApiVersionsRequest::default())
            .await
            .unwrap();
        let up = {
            let mock = Arc::clone(&mock);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                control(&mock, &format!("up {leader}")).await;
            })
        };
        // Retried until the broker is back, within the deadline.
        produce_ok(&client, "t", 1, &["two"]).await;
        up.await.unwrap();
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_retriable_errors_are_retried() {
    rkafka_tests::skip_if_external!(
        "drives the mock cluster (leaders, brokers down, injected errors)"
    );
    let (mock, client) = start().await;
    let admin = Admin::new(client.clone());
    tokio::time::timeout(LIMIT, async {
        produce_ok(&client, "t", 2, &["x"]).await;
        // Produce (0): leadership error, then a timeout.
        control(&mock, "errors 0 NOT_LEADER_OR_FOLLOWER REQUEST_TIMED_OUT").await;
        produce_ok(&client, "t", 2, &["y"]).await;
        // Fetch (1).
        control(&mock, "errors 1 6 3").await;
        let got = fetch_values(&client, "t", 2, 0).await;
        assert_eq!(got, vec!["x", "y"]);
        // ListOffsets (2), per partition.
        control(
            &mock,
            "errors 2 NOT_LEADER_OR_FOLLOWER LEADER_NOT_AVAILABLE",
        )
        .await;
        let specs: BTreeMap<_, _> = (0..4)
            .map(|p| (("t".to_owned(), p), OffsetSpec::Latest))
            .collect();
        let offsets = admin.list_offsets(&specs, false).await.unwrap();
        assert_eq!(offsets[&("t".to_owned(), 2)].as_ref().unwrap().offset, 2);
        for r in offsets.values() {
            r.as_ref().expect("every partition listed");
        }
        // Metadata (3).
        control(&mock, "errors 3 REQUEST_TIMED_OUT").await;
        client.refresh_metadata(&["t".into()]).await.unwrap();
        // FindCoordinator (10), then the coordinator itself (OffsetFetch, 9).
        control(
            &mock,
            "errors 10 COORDINATOR_NOT_AVAILABLE COORDINATOR_NOT_AVAILABLE",
        )
        .await;
        control(
            &mock,
            "errors 9 COORDINATOR_LOAD_IN_PROGRESS NOT_COORDINATOR",
        )
        .await;
        let resp = client
            .send_checked(Target::group("g1"), offset_fetch("g1"), |r| {
                ErrorCode::from(r.error_code)
            })
            .await
            .unwrap();
        assert_eq!(resp.error_code, 0, "{resp:?}");
    })
    .await
    .expect("test timed out");
}

fn offset_fetch(group: &str) -> OffsetFetchRequest {
    OffsetFetchRequest::default()
        .with_group_id(group.into())
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name("t".into())
            .with_partition_indexes(vec![0])]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_move_is_rediscovered() {
    rkafka_tests::skip_if_external!(
        "drives the mock cluster (leaders, brokers down, injected errors)"
    );
    let (mock, client) = start().await;
    tokio::time::timeout(LIMIT, async {
        let first = client
            .coordinator(CoordinatorKind::Group, "g2")
            .await
            .unwrap();
        let other = client
            .metadata()
            .brokers
            .keys()
            .copied()
            .find(|id| *id != first)
            .unwrap();
        control(&mock, &format!("coordinator group g2 {other}")).await;
        // The old coordinator answers NOT_COORDINATOR; the client looks the
        // group up again and asks the new one, which does not know the
        // member (a final answer, returned as is).
        let hb = HeartbeatRequest::default()
            .with_group_id("g2".into())
            .with_generation_id(1)
            .with_member_id("m".into());
        let resp = client
            .send_checked(Target::group("g2"), hb, |r| ErrorCode::from(r.error_code))
            .await
            .unwrap();
        assert_ne!(ErrorCode::from(resp.error_code), ErrorCode::NOT_COORDINATOR);
        assert_eq!(
            client
                .coordinator(CoordinatorKind::Group, "g2")
                .await
                .unwrap(),
            other
        );
        // Transaction coordinators are found the same way.
        let txn = client
            .coordinator(CoordinatorKind::Transaction, "tx1")
            .await
            .unwrap();
        assert!(client.metadata().brokers.contains_key(&txn));
        // Share-state coordinators need FindCoordinator v6 (KIP-932); the
        // mock stops at v3: a typed error naming the API, not a retry loop.
        let share = client
            .coordinator(CoordinatorKind::Share, "sg:AAAAAAAAAAAAAAAAAAAAAA:0")
            .await;
        assert!(
            matches!(
                &share,
                Err(rkafka_client_core::Error::UnsupportedVersion {
                    api: "FindCoordinator",
                    ..
                })
            ),
            "{share:?}"
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebootstrap_when_every_known_broker_is_gone() {
    rkafka_tests::skip_if_external!(
        "drives the mock cluster (leaders, brokers down, injected errors)"
    );
    let (mock, client) = start().await;
    tokio::time::timeout(LIMIT, async {
        let md = client.refresh_metadata(&["t".into()]).await.unwrap();
        // Every broker advertises an address nobody listens on: after the
        // next refresh, no known broker can be reached.
        for id in md.brokers.keys() {
            control(&mock, &format!("advertise {id} 127.0.0.1 1")).await;
        }
        let md = client.refresh_metadata(&["t".into()]).await.unwrap();
        assert!(md.brokers.values().all(|b| b.port == 1));
        for (id, port) in mock.brokers() {
            control(&mock, &format!("advertise {id} 127.0.0.1 {port}")).await;
        }
        // Only the bootstrap list leads back to the cluster.
        produce_ok(&client, "t", 3, &["back"]).await;
        assert!(client.view().rebootstraps >= 1);
        assert!(client.metadata().brokers.values().all(|b| b.port != 1));

        // All brokers down, then up again.
        for id in md.brokers.keys() {
            control(&mock, &format!("down {id}")).await;
        }
        let up = {
            let mock = Arc::clone(&mock);
            let ids: Vec<i32> = md.brokers.keys().copied().collect();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                for id in ids {
                    control(&mock, &format!("up {id}")).await;
                }
            })
        };
        produce_ok(&client, "t", 3, &["again"]).await;
        up.await.unwrap();
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_none_does_not_rebootstrap() {
    rkafka_tests::skip_if_external!(
        "drives the mock cluster (leaders, brokers down, injected errors)"
    );
    let mock = mock_cluster(MockConfig::brokers(2).topic("t", 2, 2));
    let mut cfg = config(mock.bootstrap());
    cfg.metadata_recovery_strategy = MetadataRecoveryStrategy::None;
    cfg.default_api_timeout = Duration::from_secs(3);
    let client = Client::connect(cfg).await.expect("connect");
    tokio::time::timeout(LIMIT, async {
        for (id, _) in mock.brokers() {
            control(&mock, &format!("advertise {id} 127.0.0.1 1")).await;
        }
        client.refresh_metadata(&[]).await.unwrap();
        for (id, port) in mock.brokers() {
            control(&mock, &format!("advertise {id} 127.0.0.1 {port}")).await;
        }
        let started = std::time::Instant::now();
        let err = client
            .send_to_any(ApiVersionsRequest::default())
            .await
            .expect_err("no known broker is reachable");
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "bounded by the deadline"
        );
        assert_eq!(client.view().rebootstraps, 0, "{err}");
        // An explicit rebootstrap still finds the cluster.
        client.rebootstrap().await.unwrap();
        client
            .send_to_any(ApiVersionsRequest::default())
            .await
            .unwrap();
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebootstrap_required_from_a_broker() {
    rkafka_tests::skip_if_external!(
        "drives the mock cluster (leaders, brokers down, injected errors)"
    );
    let (mock, client) = start().await;
    tokio::time::timeout(LIMIT, async {
        // KIP-1102: Metadata v13 carries a top-level REBOOTSTRAP_REQUIRED.
        control(&mock, "errors 3 129").await;
        client.refresh_metadata(&["t".into()]).await.unwrap();
        assert_eq!(client.view().rebootstraps, 1);
        assert!(client.metadata().leader("t", 0).is_some());
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_max_age_refreshes_in_the_background() {
    rkafka_tests::skip_if_external!(
        "drives the mock cluster (leaders, brokers down, injected errors)"
    );
    let mock = mock_cluster(MockConfig::brokers(2).topic("t", 1, 2));
    let mut cfg = config(mock.bootstrap());
    cfg.metadata_max_age = Duration::from_millis(200);
    let client = Client::connect(cfg).await.expect("connect");
    tokio::time::timeout(LIMIT, async {
        let md = client.refresh_metadata(&["t".into()]).await.unwrap();
        let old = md.leader("t", 0).unwrap().id;
        let new = md.brokers.keys().copied().find(|id| *id != old).unwrap();
        control(&mock, &format!("leader t 0 {new}")).await;
        // No request fails and nobody asks: the max age alone brings the
        // move in.
        let mut view = client.metadata();
        for _ in 0..50 {
            if view.leader("t", 0).map(|b| b.id) == Some(new) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            view = client.metadata();
        }
        assert_eq!(view.leader("t", 0).unwrap().id, new);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_hints_from_produce_responses() {
    rkafka_tests::skip_if_external!(
        "drives the mock cluster (leaders, brokers down, injected errors)"
    );
    let (mock, client) = start().await;
    tokio::time::timeout(LIMIT, async {
        let md = client.refresh_metadata(&["t".into()]).await.unwrap();
        let old = md.leader("t", 0).unwrap().id;
        let new = md.brokers.keys().copied().find(|id| *id != old).unwrap();
        control(&mock, &format!("leader t 0 {new}")).await;
        // Ask the old leader on purpose: Produce v10+ names the new one.
        let resp = client
            .send_once(Target::Broker(old), |_| {
                Ok(raw::produce_request("t", 0, raw::batch(None, &["hint"])))
            })
            .await
            .unwrap();
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!(
            ErrorCode::from(p.error_code),
            ErrorCode::NOT_LEADER_OR_FOLLOWER
        );
        assert!(
            p.current_leader.leader_id >= 0,
            "the pinned mock (librdkafka 2.16) names the new leader in Produce v10+: {resp:?}"
        );
        let endpoints = resp
            .node_endpoints
            .iter()
            .map(|e| rkafka_client_core::metadata::BrokerInfo {
                id: e.node_id,
                host: e.host.clone(),
                port: e.port,
                rack: e.rack.clone(),
            })
            .collect();
        client.leader_hint(rkafka_client_core::metadata::LeaderHint {
            topic: "t".into(),
            partition: 0,
            leader: p.current_leader.leader_id,
            leader_epoch: p.current_leader.leader_epoch,
            endpoints,
        });
        let mut leader = None;
        for _ in 0..50 {
            leader = client.metadata().leader("t", 0).map(|b| b.id);
            if leader == Some(new) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(leader, Some(new));
    })
    .await
    .expect("test timed out");
}
