//! Transactions on librdkafka's mock cluster: commit and abort write the
//! right control markers (seen in a raw fetch), an abort drops the records
//! never sent, and records outside a transaction are refused. `send_offsets_to_transaction` and fencing run
//! against Tansu: the mock acknowledges TxnOffsetCommit without storing the
//! offsets, and accepts an older producer epoch.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{config, fetch_all, mock, reader};
use rkafka_client_core::admin::{Admin, NewTopic};
use rkafka_client_core::ClientConfig;
use rkafka_client_core::Target;
use rkafka_client_producer::{ConsumerGroupMetadata, Producer, ProducerError, ProducerRecord};
use rkafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use rkafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse};
use rkafka_tests::{MockConfig, Tansu};

const LIMIT: Duration = Duration::from_secs(60);

async fn transactional(bootstrap: &str, id: &str) -> Producer {
    let mut cfg = config(bootstrap);
    cfg.transactional_id = Some(id.to_owned());
    cfg.max_block = Duration::from_secs(8);
    let p = Producer::connect(cfg).await.unwrap();
    p.init_transactions().await.unwrap();
    p
}

async fn send_n(p: &Producer, topic: &str, partition: i32, prefix: &str, n: usize) {
    let mut ds = Vec::new();
    for i in 0..n {
        let r =
            ProducerRecord::new(topic.to_owned(), format!("{prefix}{i}")).with_partition(partition);
        ds.push(p.send(r).await.unwrap());
    }
    for d in ds {
        d.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_and_abort_write_markers() {
    rkafka_tests::skip_if_external!("reads back a fresh mock topic from offset 0");
    let mock = mock(MockConfig::brokers(3).topic("tx", 2, 3));
    tokio::time::timeout(LIMIT, async {
        let p = transactional(mock.bootstrap(), "txn-markers").await;
        // Outside a transaction a record fails alone, typed.
        let early = p
            .send(ProducerRecord::new("tx", "early"))
            .await
            .unwrap()
            .await;
        assert!(
            matches!(early, Err(ProducerError::Transaction { .. })),
            "{early:?}"
        );

        p.begin_transaction().await.unwrap();
        send_n(&p, "tx", 0, "c", 10).await;
        send_n(&p, "tx", 1, "c", 3).await;
        p.commit_transaction().await.unwrap();

        p.begin_transaction().await.unwrap();
        send_n(&p, "tx", 0, "a", 4).await;
        p.abort_transaction().await.unwrap();

        // A transaction with no records needs no EndTxn and still works.
        p.begin_transaction().await.unwrap();
        p.commit_transaction().await.unwrap();

        let client = reader(mock.bootstrap()).await;
        let p0 = fetch_all(&client, "tx", 0).await;
        let kinds: Vec<String> = p0
            .iter()
            .map(|r| match r.control {
                Some(true) => "COMMIT".to_owned(),
                Some(false) => "ABORT".to_owned(),
                None => {
                    assert!(r.transactional, "{r:?}");
                    String::from_utf8(r.value.clone().unwrap()).unwrap()
                }
            })
            .collect();
        let mut want: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
        want.push("COMMIT".into());
        want.extend((0..4).map(|i| format!("a{i}")));
        want.push("ABORT".into());
        assert_eq!(kinds, want);
        let p1 = fetch_all(&client, "tx", 1).await;
        assert_eq!(p1.len(), 4);
        assert_eq!(p1.last().unwrap().control, Some(true));
        p.close(Duration::from_secs(5)).await.unwrap();
    })
    .await
    .expect("in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_drops_the_records_never_sent() {
    rkafka_tests::skip_if_external!("reads back a fresh mock topic from offset 0");
    let mock = mock(MockConfig::brokers(1).topic("drop", 1, 1));
    tokio::time::timeout(LIMIT, async {
        let mut cfg = config(mock.bootstrap());
        cfg.transactional_id = Some("txn-drop".into());
        // Records wait in the buffer until flushed.
        cfg.linger = Duration::from_secs(30);
        let p = Producer::connect(cfg).await.unwrap();
        p.init_transactions().await.unwrap();

        p.begin_transaction().await.unwrap();
        let sent = p
            .send(ProducerRecord::new("drop", "sent").with_partition(0))
            .await
            .unwrap();
        p.flush().await.unwrap();
        sent.await.unwrap();
        let mut buffered = Vec::new();
        for i in 0..3 {
            let r = ProducerRecord::new("drop", format!("buffered{i}")).with_partition(0);
            buffered.push(p.send(r).await.unwrap());
        }
        p.abort_transaction().await.unwrap();
        for d in buffered {
            let r = d.await;
            assert!(matches!(r, Err(ProducerError::TransactionAborted)), "{r:?}");
        }

        // The producer goes on: the next transaction commits.
        p.begin_transaction().await.unwrap();
        let after = p
            .send(ProducerRecord::new("drop", "after").with_partition(0))
            .await
            .unwrap();
        p.commit_transaction().await.unwrap();
        after.await.unwrap();

        let client = reader(mock.bootstrap()).await;
        let kinds: Vec<String> = fetch_all(&client, "drop", 0)
            .await
            .iter()
            .map(|r| match r.control {
                Some(true) => "COMMIT".to_owned(),
                Some(false) => "ABORT".to_owned(),
                None => String::from_utf8(r.value.clone().unwrap()).unwrap(),
            })
            .collect();
        // The buffered records were never written.
        assert_eq!(kinds, vec!["sent", "ABORT", "after", "COMMIT"]);
        p.close(Duration::from_secs(5)).await.unwrap();
    })
    .await
    .expect("in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_offsets_commits_the_group_offsets_on_tansu() {
    rkafka_tests::skip_if_external!("starts its own Tansu");
    let tansu = Tansu::start().unwrap_or_else(|e| panic!("{e}"));
    let bootstrap = tansu.bootstrap();
    tokio::time::timeout(LIMIT, async {
        create_topics(
            &bootstrap,
            &[NewTopic::new("in", 2, 1), NewTopic::new("out", 1, 1)],
        )
        .await;
        let p = transactional(&bootstrap, "txn-offsets").await;
        p.begin_transaction().await.unwrap();
        send_n(&p, "out", 0, "o", 3).await;
        let offsets = BTreeMap::from([(("in".to_owned(), 0), 42), (("in".to_owned(), 1), 7)]);
        p.send_offsets_to_transaction(&offsets, &ConsumerGroupMetadata::new("g-eos"))
            .await
            .unwrap();
        p.commit_transaction().await.unwrap();

        let client = reader(&bootstrap).await;
        let build = |v: i16| {
            Ok(if v >= 8 {
                OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
                    .with_group_id("g-eos".into())
                    .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                        .with_name("in".into())
                        .with_partition_indexes(vec![0, 1])]))])
            } else {
                OffsetFetchRequest::default()
                    .with_group_id("g-eos".into())
                    .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                        .with_name("in".into())
                        .with_partition_indexes(vec![0, 1])]))
            })
        };
        let resp: OffsetFetchResponse = client
            .send_built(Target::group("g-eos"), build, |r: &OffsetFetchResponse| {
                rkafka_protocol::ErrorCode(r.error_code)
            })
            .await
            .unwrap();
        let mut got: Vec<(i32, i64)> = resp
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (p.partition_index, p.committed_offset))
            })
            .chain(resp.groups.iter().flat_map(|g| {
                g.topics.iter().flat_map(|t| {
                    t.partitions
                        .iter()
                        .map(|p| (p.partition_index, p.committed_offset))
                })
            }))
            .collect();
        got.sort();
        assert_eq!(got, vec![(0, 42), (1, 7)], "{resp:?}");
        p.close(Duration::from_secs(5)).await.unwrap();
    })
    .await
    .expect("in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_the_wrong_state_are_typed_errors() {
    rkafka_tests::skip_if_external!("uses a fresh mock");
    let mock = mock(MockConfig::brokers(1).topic("st", 1, 1));
    tokio::time::timeout(LIMIT, async {
        let mut cfg = config(mock.bootstrap());
        cfg.transactional_id = Some("txn-state".into());
        let p = Producer::connect(cfg).await.unwrap();
        assert!(matches!(
            p.begin_transaction().await,
            Err(ProducerError::Transaction { .. })
        ));
        p.init_transactions().await.unwrap();
        assert!(matches!(
            p.commit_transaction().await,
            Err(ProducerError::Transaction { .. })
        ));
        p.begin_transaction().await.unwrap();
        assert!(matches!(
            p.begin_transaction().await,
            Err(ProducerError::Transaction { .. })
        ));
        p.abort_transaction().await.unwrap();
        // Not transactional at all: a config error.
        let plain = Producer::connect(config(mock.bootstrap())).await.unwrap();
        assert!(matches!(
            plain.init_transactions().await,
            Err(ProducerError::Config(_))
        ));
    })
    .await
    .expect("in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_producer_with_the_same_id_fences_the_older_one_on_tansu() {
    rkafka_tests::skip_if_external!("starts its own Tansu");
    let tansu = Tansu::start().unwrap_or_else(|e| panic!("{e}"));
    let bootstrap = tansu.bootstrap();
    tokio::time::timeout(LIMIT, async {
        create_topics(&bootstrap, &[NewTopic::new("fence", 1, 1)]).await;
        let old = transactional(&bootstrap, "txn-fence").await;
        old.begin_transaction().await.unwrap();
        // A second instance takes over the transactional id (new epoch).
        let new = transactional(&bootstrap, "txn-fence").await;
        // The old one's records are refused with a typed error. (The mock
        // cluster does not fence: it accepts the old epoch; Tansu does.)
        let late = old
            .send(ProducerRecord::new("fence", "late").with_partition(0))
            .await
            .unwrap()
            .await;
        assert!(
            matches!(late, Err(ProducerError::Fenced { .. })),
            "{late:?}"
        );
        let commit = old.commit_transaction().await;
        assert!(
            matches!(commit, Err(ProducerError::Fenced { .. })),
            "{commit:?}"
        );
        // The new one works.
        new.begin_transaction().await.unwrap();
        send_n(&new, "fence", 0, "n", 2).await;
        new.commit_transaction().await.unwrap();
    })
    .await
    .expect("in time");
}

/// Creates `topics` on the Tansu broker at `bootstrap`.
async fn create_topics(bootstrap: &str, topics: &[NewTopic]) {
    let admin = Admin::connect(
        ClientConfig::builder()
            .bootstrap_servers(bootstrap)
            .default_api_timeout(Duration::from_secs(20))
            .build(),
    )
    .await
    .expect("admin");
    admin.create_topics(topics, false).await.expect("topics");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_batch_fails_in_a_transaction_the_abort_resets_sequences() {
    rkafka_tests::skip_if_external!("injects a Produce error on a fresh mock topic");
    let mock = mock(MockConfig::brokers(1).topic("gap", 1, 1));
    tokio::time::timeout(LIMIT, async {
        // Two records a batch: batches pipeline behind the one that fails,
        // and are refused out of sequence after it.
        let p = common::in_transaction(mock.bootstrap(), "txn-gap", 250).await;
        // INVALID_RECORD (87), not retriable.
        common::control(&mock, "errors 0 87").await;
        let mut ds = Vec::new();
        for i in 0..40 {
            let r = ProducerRecord::new("gap", format!("doomed{i:0>90}")).with_partition(0);
            ds.push(p.send(r).await.unwrap());
        }
        let mut failed = 0;
        for d in ds {
            failed += usize::from(d.await.is_err());
        }
        assert!(failed > 0);
        // Without a new epoch the broker would expect the failed batch's
        // sequence forever: the abort must not wait for retries of the
        // batches behind it, and the next transaction must go through
        // (each of these would run into LIMIT otherwise).
        p.abort_transaction().await.unwrap();
        p.begin_transaction().await.unwrap();
        send_n(&p, "gap", 0, "ok", 10).await;
        p.commit_transaction().await.unwrap();

        let client = reader(mock.bootstrap()).await;
        let fetched = fetch_all(&client, "gap", 0).await;
        let committed: Vec<String> = fetched
            .iter()
            .rev()
            .skip(1)
            .take(10)
            .map(|r| String::from_utf8(r.value.clone().unwrap_or_default()).unwrap())
            .collect();
        let expected: Vec<String> = (0..10).rev().map(|i| format!("ok{i}")).collect();
        assert_eq!(committed, expected);
        assert_eq!(fetched.last().and_then(|r| r.control), Some(true));
        p.close(Duration::from_secs(5)).await.unwrap();
    })
    .await
    .expect("in time");
}
