//! Admin calls and raw produce/fetch against Tansu, a second, independently
//! written broker; groups made by a real `confluent_kafka` consumer; data
//! crossing between rkafka's raw requests and librdkafka.
//!
//! Tansu and the Python peer come from the `rkafka-tests` harness; a machine
//! without them fails, saying how to install them (`just peers`).

use std::collections::BTreeMap;
use std::time::Duration;

use rkafka_client_core::admin::{
    Admin, AlterConfigOp, ConfigResource, NewPartitions, NewTopic, OffsetSpec,
};
use rkafka_client_core::{Client, ClientConfig, Error};
use rkafka_protocol::ErrorCode;
use rkafka_test_support::raw;

use rkafka_tests::{Tansu, TansuConfig};

const LIMIT: Duration = Duration::from_secs(90);

async fn start() -> (Tansu, Admin) {
    let tansu = Tansu::start().unwrap_or_else(|e| panic!("{e}"));
    let cfg = ClientConfig::builder()
        .bootstrap_servers(tansu.bootstrap())
        .client_id("rkafka-admin-test")
        .retry_backoff(Duration::from_millis(20))
        .retry_backoff_max(Duration::from_millis(200))
        .default_api_timeout(Duration::from_secs(20))
        .build();
    let admin = Admin::connect(cfg).await.expect("connect");
    (tansu, admin)
}

fn topic_name(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

/// Produces `values`, each keyed `k`, in one batch; returns the base offset.
async fn produce_ok(client: &Client, topic: &str, partition: i32, values: &[&str]) -> i64 {
    raw::produce(client, topic, partition, raw::batch(Some(b"k"), values)).await
}

/// A read-back record's value as text.
fn value(r: &raw::Fetched) -> &str {
    std::str::from_utf8(r.value.as_deref().unwrap()).unwrap()
}

/// Runs a Python snippet with `confluent_kafka`; returns its stdout.
async fn run_python(script: &'static str, args: &[&str]) -> Result<String, String> {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        rkafka_tests::run_python(script, &args, Duration::from_secs(60)).map_err(|e| e.to_string())
    })
    .await
    .expect("the Python peer's thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_admin_produce_fetch_delete() {
    let (_tansu, admin) = start().await;
    tokio::time::timeout(LIMIT, async {
        let client = admin.client().clone();
        let topic = topic_name("admin-topic");
        let created = admin
            .create_topics(
                &[NewTopic::new(topic.clone(), 3, 1).with_config("retention.ms", "3600000")],
                false,
            )
            .await
            .unwrap();
        created[&topic].as_ref().expect("created");
        let again = admin
            .create_topics(&[NewTopic::new(topic.clone(), 3, 1)], false)
            .await
            .unwrap();
        assert!(matches!(&again[&topic],
            Err(Error::Kafka { code, .. }) if *code == ErrorCode::TOPIC_ALREADY_EXISTS));

        let described = admin
            .describe_topics(std::slice::from_ref(&topic))
            .await
            .unwrap();
        let d = described[&topic].as_ref().unwrap();
        assert_eq!(d.partitions.len(), 3);
        assert!(d.partitions.iter().all(|p| p.leader.is_some()));
        assert!(admin.list_topics(false).await.unwrap().contains(&topic));

        // One record per batch: Tansu 0.6 reports the high watermark as the
        // last batch's base offset + 1 (librdkafka sees the same), so
        // multi-record batches would make the offsets below disagree.
        for (i, v) in ["a", "b", "c"].into_iter().enumerate() {
            assert_eq!(produce_ok(&client, &topic, 1, &[v]).await, i as i64);
        }
        let got = raw::fetch_all(&client, &topic, 1, 0, true).await;
        let values: Vec<_> = got.iter().map(value).collect();
        assert_eq!(values, vec!["a", "b", "c"]);

        let specs: BTreeMap<_, _> = [
            ((topic.clone(), 1), OffsetSpec::Latest),
            ((topic.clone(), 0), OffsetSpec::Earliest),
        ]
        .into();
        let offsets = admin.list_offsets(&specs, false).await.unwrap();
        assert_eq!(offsets[&(topic.clone(), 1)].as_ref().unwrap().offset, 3);
        assert_eq!(offsets[&(topic.clone(), 0)].as_ref().unwrap().offset, 0);
        // By time: every record above is stamped 1_700_000_000_000, so an
        // earlier time finds the first. (Tansu 0.6 also answers 0 for a
        // time after every record, where Kafka answers -1, and the mock
        // answers -1 to any time: admin_live.rs checks that against Kafka.)
        let tp = (topic.clone(), 1);
        for (asked, want) in [(1_699_000_000_000, 0)] {
            let by_time = admin
                .list_offsets(&[(tp.clone(), OffsetSpec::Timestamp(asked))].into(), false)
                .await
                .unwrap();
            let got = by_time[&tp].as_ref().unwrap();
            assert_eq!(got.offset, want, "offset for time {asked}: {got:?}");
        }
        // Partitions and topics that do not exist are answers, not retries.
        let started = std::time::Instant::now();
        let missing = admin
            .list_offsets(
                &[
                    ((topic.clone(), 7), OffsetSpec::Latest),
                    (("no-such-topic".to_owned(), 0), OffsetSpec::Latest),
                ]
                .into(),
                false,
            )
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        for r in missing.values() {
            assert!(
                matches!(r, Err(Error::Kafka { code, .. }) if *code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                "{missing:?}"
            );
        }

        // DeleteRecords is not tested here: Tansu 0.6's memory storage
        // panics on it (the connection drops); see admin_live.rs.

        // Tansu lacks CreatePartitions: a typed error, not a hang.
        let more = admin
            .create_partitions(
                &[(
                    topic.clone(),
                    NewPartitions {
                        total_count: 4,
                        assignments: vec![],
                    },
                )]
                .into(),
                false,
            )
            .await;
        assert!(
            matches!(more, Err(Error::UnsupportedVersion { .. })),
            "{more:?}"
        );

        let gone = admin
            .delete_topics(std::slice::from_ref(&topic))
            .await
            .unwrap();
        gone[&topic].as_ref().expect("deleted");
        let missing = admin
            .describe_topics(std::slice::from_ref(&topic))
            .await
            .unwrap();
        assert!(matches!(&missing[&topic],
            Err(Error::Kafka { code, .. }) if *code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_cluster_and_configs() {
    let (tansu, admin) = start().await;
    tokio::time::timeout(LIMIT, async {
        let cluster = admin.describe_cluster().await.unwrap();
        assert_eq!(cluster.brokers.len(), 1);
        assert_eq!(cluster.brokers[0].addr(), tansu.bootstrap());
        assert!(!cluster.cluster_id.is_empty());

        // A broker's own configs are asked of that broker.
        let broker = ConfigResource::broker(cluster.brokers[0].id);
        let described = admin
            .describe_configs(std::slice::from_ref(&broker))
            .await
            .unwrap();
        assert!(
            matches!(&described[&broker], Ok(_) | Err(Error::Kafka { .. })),
            "{described:?}"
        );

        let topic = topic_name("admin-configs");
        admin
            .create_topics(&[NewTopic::new(topic.clone(), 1, 1)], false)
            .await
            .unwrap()[&topic]
            .as_ref()
            .unwrap();
        let res = ConfigResource::topic(topic.clone());
        let changes = [(
            res.clone(),
            vec![(
                "retention.ms".to_owned(),
                AlterConfigOp::Set("123456".into()),
            )],
        )]
        .into();
        let altered = admin
            .incremental_alter_configs(&changes, false)
            .await
            .unwrap();
        altered[&res].as_ref().expect("altered");
        let described = admin
            .describe_configs(std::slice::from_ref(&res))
            .await
            .unwrap();
        let entries = described[&res].as_ref().expect("described");
        let retention = entries.iter().find(|e| e.name == "retention.ms");
        assert_eq!(
            retention.and_then(|e| e.value.as_deref()),
            Some("123456"),
            "{entries:?}"
        );
        // Tansu lacks the legacy AlterConfigs: a typed error, at once.
        let legacy = [(
            res.clone(),
            [("retention.ms".to_owned(), "1".to_owned())].into(),
        )]
        .into();
        let started = std::time::Instant::now();
        let r = admin.alter_configs(&legacy, false).await;
        assert!(matches!(r, Err(Error::UnsupportedVersion { .. })), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    })
    .await
    .expect("test timed out");
}

const CONSUME: &str = r#"
import sys
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2],
              "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
              "enable.auto.commit": False})
c.subscribe([sys.argv[3]])
want = int(sys.argv[4])
got = []
for _ in range(200):
    m = c.poll(0.25)
    if m is None or m.error():
        continue
    got.append(m.value().decode())
    if len(got) >= want:
        break
c.commit(asynchronous=False)
c.close()
print("\n".join(got))
"#;

const PRODUCE: &str = r#"
import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1]})
for v in sys.argv[3:]:
    p.produce(sys.argv[2], value=v.encode(), key=b"py", partition=0)
assert p.flush(30) == 0
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_cross_client_data() {
    let (tansu, admin) = start().await;
    tokio::time::timeout(LIMIT, async {
        let client = admin.client().clone();
        let topic = topic_name("admin-groups");
        admin
            .create_topics(&[NewTopic::new(topic.clone(), 1, 1)], false)
            .await
            .unwrap()[&topic]
            .as_ref()
            .unwrap();

        // librdkafka writes, rkafka's raw Fetch reads.
        run_python(PRODUCE, &[&tansu.bootstrap(), &topic, "p1", "p2"])
            .await
            .unwrap();
        let got = raw::fetch_all(&client, &topic, 0, 0, true).await;
        let values: Vec<_> = got.iter().map(value).collect();
        assert_eq!(values, vec!["p1", "p2"]);
        assert!(got.iter().all(|r| r.key.as_deref() == Some(&b"py"[..])));

        // rkafka's raw Produce writes, librdkafka's consumer reads (and
        // leaves a classic group behind).
        produce_ok(&client, &topic, 0, &["r1", "r2"]).await;
        let group = topic_name("admin-group");
        let read = run_python(CONSUME, &[&tansu.bootstrap(), &group, &topic, "4"])
            .await
            .unwrap();
        assert_eq!(
            read.lines().collect::<Vec<_>>(),
            vec!["p1", "p2", "r1", "r2"]
        );

        let listed = admin.list_groups(&[], &[]).await.unwrap();
        assert!(listed.errors.is_empty(), "{:?}", listed.errors);
        assert!(
            listed.groups.iter().any(|g| g.group_id == group),
            "{:?}",
            listed.groups
        );
        let described = admin
            .describe_groups(std::slice::from_ref(&group))
            .await
            .unwrap();
        let d = described[&group].as_ref().expect("described");
        assert_eq!(d.group_id, group);
        assert!(d.members.is_empty(), "the consumer closed: {d:?}");

        // Tansu also answers ConsumerGroupDescribe (KIP-848) v0: for a
        // classic group that is an answer with a typed error or a group.
        let kip848 = admin
            .describe_consumer_groups(std::slice::from_ref(&group))
            .await
            .unwrap();
        assert!(
            matches!(&kip848[&group], Ok(_) | Err(Error::Kafka { .. })),
            "{kip848:?}"
        );

        let deleted = admin
            .delete_groups(std::slice::from_ref(&group))
            .await
            .unwrap();
        deleted[&group].as_ref().expect("group deleted");
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_coordinator_lookups_share_one_batch() {
    let (_tansu, admin) = start().await;
    tokio::time::timeout(LIMIT, async {
        let client = admin.client().clone();
        // Tansu speaks FindCoordinator v4+, so lookups queued together go
        // out as one request with several keys.
        let lookups = (0..8).map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .coordinator(rkafka_client_core::CoordinatorKind::Group, &format!("g{i}"))
                    .await
            })
        });
        let broker = *client.metadata().brokers.keys().next().unwrap();
        for l in lookups.collect::<Vec<_>>() {
            assert_eq!(l.await.unwrap().unwrap(), broker);
        }
        assert_eq!(client.view().coordinators.len(), 8);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_waits_for_a_broker_that_starts_late() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = ClientConfig::builder()
        .bootstrap_servers(format!("127.0.0.1:{port}"))
        .retry_backoff(Duration::from_millis(50))
        .retry_backoff_max(Duration::from_millis(200))
        .default_api_timeout(Duration::from_secs(20))
        .build();
    let connecting = tokio::spawn(Client::connect(cfg));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let _tansu = Tansu::start_with(TansuConfig {
        port: Some(port),
        ..TansuConfig::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let client = tokio::time::timeout(LIMIT, connecting)
        .await
        .expect("connect timed out")
        .unwrap()
        .expect("connected once the broker was up");
    assert_eq!(client.metadata().brokers.len(), 1);
}

/// Builds and runs one of client-core's examples with `args`; its stdout, after
/// checking that it succeeded. Blocks the test's thread while the example runs
/// (the broker is another process, so nothing here needs to make progress).
fn run_example(name: &str, args: &[&str]) -> String {
    rkafka_tests::run_example("rkafka-client-core", name, args, LIMIT)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn the_admin_example_lists_brokers_and_creates_a_topic() {
    let (tansu, _admin) = start().await;
    let topic = topic_name("example-topic");
    let bootstrap = tansu.bootstrap();
    let stdout = run_example("admin", &["--bootstrap", &bootstrap, "--topic", &topic]);
    assert!(
        stdout.contains(&format!("at {bootstrap}")),
        "no broker listed:\n{stdout}"
    );
    assert!(
        stdout.contains(&format!("created {topic}")),
        "no topic created:\n{stdout}"
    );
}

#[tokio::test]
async fn the_connect_example_negotiates_and_lists_the_brokers_apis() {
    let (tansu, _admin) = start().await;
    let stdout = run_example("connect", &[&tansu.bootstrap()]);
    assert!(stdout.contains("connected to"), "{stdout}");
    // Tansu serves Produce and Fetch; the example prints each API's range.
    assert!(
        stdout.contains("Produce") && stdout.contains("Fetch"),
        "{stdout}"
    );
    assert!(stdout.contains("cluster: 1 broker(s)"), "{stdout}");
}
