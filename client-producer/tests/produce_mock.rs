//! The producer against librdkafka's mock cluster: delivery reports,
//! per-record errors, flush/close, and exactly-once delivery under injected
//! errors, leader moves and a broker restart. Records are read back with
//! raw Fetch requests.
//!
//! With `KAFKA_BOOTSTRAP` set these tests skip with a printed reason: they
//! need the mock's fault injection or its fresh topics.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{config, control, fetch_all, in_transaction, mock, reader, warm_up};
use rkafka_client_core::{CoordinatorKind, Target};
use rkafka_client_producer::partitioner::key_partition;
use rkafka_client_producer::{Acks, Producer, ProducerError, ProducerRecord};
use rkafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use rkafka_protocol::messages::{InitProducerIdRequest, ProduceRequest};
use rkafka_protocol::records::{NewRecord, RecordBatchBuilder};
use rkafka_protocol::ErrorCode;
use rkafka_tests::MockConfig;

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_reports_offsets_headers_and_timestamps() {
    rkafka_tests::skip_if_external!("reads back a fresh mock topic from offset 0");
    let mock = mock(MockConfig::brokers(1).topic("d", 3, 1));
    tokio::time::timeout(LIMIT, async {
        let producer = Producer::connect(config(mock.bootstrap())).await.unwrap();
        let mut deliveries = Vec::new();
        for i in 0..50 {
            let r = ProducerRecord::new("d", format!("v{i}"))
                .with_partition(1)
                .with_key(format!("k{i}"))
                .with_header("h", Some(format!("x{i}")))
                .with_timestamp(1_700_000_000_000 + i);
            deliveries.push(producer.send(r).await.unwrap());
        }
        for (i, d) in deliveries.into_iter().enumerate() {
            let m = d.await.unwrap();
            assert_eq!(m.partition, 1);
            assert_eq!(m.offset, i as i64);
            // The mock answers every Produce with log_append_time_ms 1234,
            // as if the topic used LogAppendTime; like Java, the producer
            // then reports the broker's time.
            assert!(
                m.timestamp == 1_700_000_000_000 + i as i64 || m.timestamp == 1234,
                "{m:?}"
            );
        }
        let back = fetch_all(&reader(mock.bootstrap()).await, "d", 1).await;
        assert_eq!(back.len(), 50);
        for (i, r) in back.iter().enumerate() {
            assert_eq!(r.value.as_deref(), Some(format!("v{i}").as_bytes()));
            assert_eq!(r.key.as_deref(), Some(format!("k{i}").as_bytes()));
            assert_eq!(
                r.headers,
                vec![("h".to_owned(), Some(format!("x{i}").into_bytes()))]
            );
            assert_eq!(r.timestamp, 1_700_000_000_000 + i as i64);
            assert!(r.producer_id >= 0, "idempotent by default");
        }
        // Keyed records without a partition land where Java's default
        // partitioner puts them (the formula is cross-checked against
        // librdkafka in cross_client.rs); unkeyed ones stick to one
        // partition for a batch's worth.
        for i in 0..40 {
            let key = format!("user-{i}");
            let m = producer
                .send(ProducerRecord::new("d", "v").with_key(key.clone()))
                .await
                .unwrap()
                .await
                .unwrap();
            assert_eq!(m.partition, key_partition(key.as_bytes(), 3), "{key}");
        }
        let mut unkeyed = Vec::new();
        for _ in 0..20 {
            unkeyed.push(producer.send(ProducerRecord::new("d", "u")).await.unwrap());
        }
        let mut parts = std::collections::HashSet::new();
        for d in unkeyed {
            parts.insert(d.await.unwrap().partition);
        }
        assert_eq!(
            parts.len(),
            1,
            "20 small unkeyed records share one sticky partition"
        );
        producer.close(Duration::from_secs(5)).await.unwrap();
    })
    .await
    .expect("in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_too_large_record_fails_alone_and_closed_producer_refuses() {
    rkafka_tests::skip_if_external!("reads back a fresh mock topic from offset 0");
    let mock = mock(MockConfig::brokers(1).topic("big", 1, 1));
    tokio::time::timeout(LIMIT, async {
        let mut cfg = config(mock.bootstrap());
        cfg.max_request_size = 10_000;
        let producer = Producer::connect(cfg).await.unwrap();
        let a = producer
            .send(ProducerRecord::new("big", "a"))
            .await
            .unwrap();
        let big = producer
            .send(ProducerRecord::new("big", vec![0u8; 20_000]))
            .await;
        assert!(
            matches!(big, Err(ProducerError::RecordTooLarge { .. })),
            "{big:?}"
        );
        let b = producer
            .send(ProducerRecord::new("big", "b"))
            .await
            .unwrap();
        let bad = producer
            .send(ProducerRecord::new("big", "x").with_partition(7))
            .await
            .unwrap()
            .await;
        assert!(matches!(
            bad,
            Err(ProducerError::InvalidPartition { partitions: 1, .. })
        ));
        assert_eq!(a.await.unwrap().offset, 0);
        assert_eq!(b.await.unwrap().offset, 1);
        producer.flush().await.unwrap();
        producer.close(Duration::from_secs(5)).await.unwrap();
        let after = producer.send(ProducerRecord::new("big", "late")).await;
        assert!(matches!(after, Err(ProducerError::Closed)), "{after:?}");
        assert!(matches!(producer.flush().await, Err(ProducerError::Closed)));
    })
    .await
    .expect("in time");
}

/// Sends `n` keyed records (value = index) and returns their delivery
/// results, while `faults` runs against the mock.
async fn send_all(producer: &Producer, topic: &str, n: usize) -> Vec<Result<i32, ProducerError>> {
    let mut deliveries = Vec::with_capacity(n);
    for i in 0..n {
        let r = ProducerRecord::new(topic.to_owned(), i.to_string()).with_key(i.to_string());
        deliveries.push(producer.send(r).await.expect("accepted"));
        // Spread the sends over about two seconds so the faults hit them.
        if i % (n / 100).max(1) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let mut out = Vec::with_capacity(n);
    for d in deliveries {
        out.push(d.await.map(|m| m.partition));
    }
    out
}

/// Injects retriable Produce errors, moves leaders and restarts a broker.
async fn faults(mock: std::sync::Arc<rkafka_tests::MockCluster>, topic: &'static str) {
    let pause = Duration::from_millis(150);
    tokio::time::sleep(pause).await;
    control(
        &mock,
        "errors 0 NOT_LEADER_OR_FOLLOWER REQUEST_TIMED_OUT NOT_ENOUGH_REPLICAS",
    )
    .await;
    tokio::time::sleep(pause).await;
    for p in 0..6 {
        control(&mock, &format!("leader {topic} {p} {}", 1 + (p + 1) % 3)).await;
    }
    tokio::time::sleep(pause).await;
    control(&mock, "errors 0 NETWORK_EXCEPTION LEADER_NOT_AVAILABLE").await;
    control(&mock, "down 2").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    control(&mock, "up 2").await;
    tokio::time::sleep(pause).await;
    for p in 0..6 {
        control(&mock, &format!("leader {topic} {p} {}", 1 + p % 3)).await;
    }
}

/// Reads back every partition: value → (partition, position), checking
/// per-partition order on the way.
async fn read_back(bootstrap: &str, topic: &str) -> (HashMap<usize, usize>, usize) {
    let client = reader(bootstrap).await;
    let mut seen: HashMap<usize, usize> = HashMap::new();
    let mut total = 0;
    for p in 0..6 {
        let mut last: Option<usize> = None;
        for r in fetch_all(&client, topic, p).await {
            if r.control.is_some() {
                continue;
            }
            let v: usize = std::str::from_utf8(r.value.as_deref().unwrap())
                .unwrap()
                .parse()
                .unwrap();
            if let Some(l) = last {
                assert!(
                    v > l || seen.contains_key(&v),
                    "partition {p}: {v} after {l} (producer {} sequence {} offset {})",
                    r.producer_id,
                    r.base_sequence,
                    r.offset
                );
            }
            last = Some(v);
            *seen.entry(v).or_insert(0) += 1;
            total += 1;
        }
    }
    (seen, total)
}

/// Sends N keyed records to a 6-partition topic on 3 brokers through
/// [`faults`], then reads them back: each exactly once, in order per
/// partition. With `transactional_id` all go in one transaction.
async fn exactly_once_in_order_through_faults(
    topic: &'static str,
    transactional_id: Option<&str>,
    tune: impl FnOnce(&mut rkafka_client_producer::ProducerConfig),
) {
    const N: usize = 100_000;
    let mock = mock(MockConfig::brokers(3).topic(topic, 6, 3));
    tokio::time::timeout(Duration::from_secs(120), async {
        let mut cfg = config(mock.bootstrap());
        tune(&mut cfg);
        cfg.transactional_id = transactional_id.map(str::to_owned);
        if let Some(id) = transactional_id {
            // Its coordinator stays up: `faults` takes broker 2 down.
            control(&mock, &format!("coordinator transaction {id} 1")).await;
        }
        let producer = Producer::connect(cfg).await.unwrap();
        if transactional_id.is_some() {
            producer.init_transactions().await.unwrap();
            producer.begin_transaction().await.unwrap();
        }
        let chaos = tokio::spawn(faults(mock.clone(), topic));
        let results = send_all(&producer, topic, N).await;
        chaos.await.unwrap();
        let failed: Vec<_> = results.iter().filter(|r| r.is_err()).take(3).collect();
        assert!(failed.is_empty(), "deliveries failed: {failed:?}");
        if transactional_id.is_some() {
            producer.commit_transaction().await.unwrap();
        }
        producer.close(Duration::from_secs(10)).await.unwrap();
        let (seen, total) = read_back(mock.bootstrap(), topic).await;
        assert_eq!(total, N, "every record exactly once (no duplicates)");
        assert_eq!(seen.len(), N, "no record lost");
        assert!(seen.values().all(|&c| c == 1));
    })
    .await
    .expect("in time");
}

/// One request in flight per broker: the mock does not check sequences of
/// a non-transactional producer (see
/// `the_mock_checks_sequences_only_for_transactional_producers`), so with
/// requests pipelined a batch sent behind one that then fails is written
/// before it, whatever the producer does; Kafka would refuse it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_exactly_once_in_order_through_faults() {
    rkafka_tests::skip_if_external!("drives the mock cluster (errors, leader moves, down/up)");
    exactly_once_in_order_through_faults("eos", None, |cfg| {
        cfg.max_in_flight_requests_per_connection = 1;
    })
    .await;
}

/// Five batches per partition in flight (the default), where the mock
/// checks sequences as Kafka does: for a transactional producer. Small
/// batches, so that partitions have several in flight when faults hit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_in_flight_exactly_once_in_order_through_faults() {
    rkafka_tests::skip_if_external!("drives the mock cluster (errors, leader moves, down/up)");
    exactly_once_in_order_through_faults("eos5", Some("eos5-txn"), |cfg| {
        assert_eq!(cfg.max_in_flight_requests_per_connection, 5);
        cfg.batch_size = 1024;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_idempotence_nothing_is_lost() {
    rkafka_tests::skip_if_external!("drives the mock cluster (errors, leader moves, down/up)");
    const N: usize = 20_000;
    let mock = mock(MockConfig::brokers(3).topic("alo", 6, 3));
    tokio::time::timeout(Duration::from_secs(120), async {
        let mut cfg = config(mock.bootstrap());
        cfg.enable_idempotence = Some(false);
        cfg.acks = Acks::Leader;
        let producer = Producer::connect(cfg).await.unwrap();
        let chaos = tokio::spawn(faults(mock.clone(), "alo"));
        let results = send_all(&producer, "alo", N).await;
        chaos.await.unwrap();
        producer.close(Duration::from_secs(10)).await.unwrap();
        assert!(results.iter().all(Result::is_ok));
        let client = reader(mock.bootstrap()).await;
        let mut seen = std::collections::HashSet::new();
        for p in 0..6 {
            for r in fetch_all(&client, "alo", p).await {
                assert!(r.producer_id < 0, "not idempotent");
                seen.insert(r.value.unwrap());
            }
        }
        assert_eq!(seen.len(), N, "at least once: nothing lost");
    })
    .await
    .expect("in time");
}

/// Sends every record to the topic's last partition.
#[derive(Debug)]
struct LastPartition;

impl rkafka_client_producer::partitioner::Partitioner for LastPartition {
    fn partition(
        &self,
        _: &str,
        _: Option<&[u8]>,
        _: Option<&[u8]>,
        partitions: i32,
    ) -> Option<i32> {
        Some(partitions - 1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_partitioner_decides_unless_the_record_names_a_partition() {
    rkafka_tests::skip_if_external!("uses a fresh mock topic");
    let mock = mock(MockConfig::brokers(1).topic("cp", 4, 1));
    tokio::time::timeout(LIMIT, async {
        let mut cfg = config(mock.bootstrap());
        cfg.partitioner = Some(std::sync::Arc::new(LastPartition));
        let producer = Producer::connect(cfg).await.unwrap();
        for key in ["a", "b", "c"] {
            let m = producer
                .send(ProducerRecord::new("cp", "v").with_key(key))
                .await
                .unwrap()
                .await
                .unwrap();
            assert_eq!(m.partition, 3);
        }
        let m = producer
            .send(ProducerRecord::new("cp", "v").with_partition(1))
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(m.partition, 1);
        producer.close(Duration::from_secs(5)).await.unwrap();
    })
    .await
    .expect("in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_refused_as_too_large_is_split_and_every_record_delivered() {
    rkafka_tests::skip_if_external!("injects errors into the mock");
    let mock = mock(MockConfig::brokers(1).topic("split", 1, 1));
    tokio::time::timeout(LIMIT, async {
        let mut cfg = config(mock.bootstrap());
        cfg.linger = Duration::from_millis(200);
        let producer = Producer::connect(cfg).await.unwrap();
        // Metadata and connection first, so the 64 records share one batch.
        warm_up(&producer, "split").await;
        control(&mock, "errors 0 MESSAGE_TOO_LARGE MESSAGE_TOO_LARGE").await;
        let mut ds = Vec::new();
        for i in 0..64 {
            let r =
                ProducerRecord::new("split", format!("s{i}")).with_header("i", Some(i.to_string()));
            ds.push(producer.send(r).await.unwrap());
        }
        let mut offsets = Vec::new();
        for d in ds {
            offsets.push(d.await.expect("delivered after the split").offset);
        }
        offsets.sort();
        assert_eq!(offsets, (1..=64).collect::<Vec<i64>>());
        let back = fetch_all(&reader(mock.bootstrap()).await, "split", 0).await;
        let values: Vec<String> = back
            .iter()
            .skip(1)
            .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
            .collect();
        let want: Vec<String> = (0..64).map(|i| format!("s{i}")).collect();
        assert_eq!(values, want, "split halves keep the order");
        producer.close(Duration::from_secs(5)).await.unwrap();
    })
    .await
    .expect("in time");
}

/// A batch refused as too large while later batches of its partition are
/// in flight. Its halves keep its sequence range; the later batches, which
/// the mock refuses as out of order (it checks a transactional producer's
/// sequences, as Kafka checks every idempotent one), go again after them;
/// every record arrives once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_split_with_later_batches_in_flight_keeps_the_order() {
    rkafka_tests::skip_if_external!("injects errors into the mock");
    const N: usize = 3_000;
    let mock = mock(MockConfig::brokers(1).topic("split5", 1, 1));
    tokio::time::timeout(LIMIT, async {
        // About 60 records a batch, so the burst below keeps five in flight.
        let producer = in_transaction(mock.bootstrap(), "split5-txn", 1024).await;
        // The partition joins the transaction before the burst.
        warm_up(&producer, "split5").await;
        control(&mock, "errors 0 MESSAGE_TOO_LARGE").await;
        let mut ds = Vec::with_capacity(N);
        for i in 0..N {
            let r = ProducerRecord::new("split5", format!("{i:05}"));
            ds.push(producer.send(r).await.unwrap());
        }
        for d in ds {
            d.await.expect("delivered after the split");
        }
        producer.commit_transaction().await.unwrap();
        producer.close(Duration::from_secs(5)).await.unwrap();
        let back = fetch_all(&reader(mock.bootstrap()).await, "split5", 0).await;
        let values: Vec<String> = back
            .iter()
            .filter(|r| r.control.is_none())
            .skip(1)
            .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
            .collect();
        let want: Vec<String> = (0..N).map(|i| format!("{i:05}")).collect();
        assert!(
            values == want,
            "{} records back, first differences: {:?}",
            values.len(),
            values
                .iter()
                .zip(&want)
                .filter(|(a, b)| a != b)
                .take(3)
                .collect::<Vec<_>>()
        );
    })
    .await
    .expect("in time");
}

/// Sends one idempotent batch of one record with base sequence 5 (the
/// broker expects 0 from a new producer) and returns the partition's error.
async fn produce_out_of_sequence(
    client: &rkafka_client_core::Client,
    topic: &str,
    transactional_id: Option<&str>,
) -> ErrorCode {
    let target = match transactional_id {
        Some(id) => Target::Coordinator {
            kind: CoordinatorKind::Transaction,
            key: id.to_owned(),
        },
        None => Target::Any,
    };
    let init = InitProducerIdRequest::default()
        .with_transactional_id(transactional_id.map(str::to_owned))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(-1)
        .with_producer_epoch(-1);
    let init = client.send(target, init).await.unwrap();
    assert_eq!(ErrorCode(init.error_code), ErrorCode::NONE);
    let mut batch = RecordBatchBuilder::with_capacity(1024)
        .producer(init.producer_id, init.producer_epoch, 5)
        .transactional(transactional_id.is_some());
    batch
        .push(&NewRecord {
            timestamp: 1,
            key: None,
            value: Some(b"x"),
            headers: &[],
        })
        .unwrap();
    let req = ProduceRequest::default()
        .with_transactional_id(transactional_id.map(str::to_owned))
        .with_acks(-1)
        .with_timeout_ms(5_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic.to_owned())
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch.finish().unwrap()))])]);
    let resp = client.send(Target::leader(topic, 0), req).await.unwrap();
    ErrorCode(resp.responses[0].partition_responses[0].error_code)
}

/// librdkafka's mock checks producer sequences only for Produce requests
/// that carry a transactional id (`rd_kafka_mock_validate_records` returns
/// early otherwise). A batch from a plain idempotent producer is written
/// whatever its sequence, where Kafka answers OUT_OF_ORDER_SEQUENCE_NUMBER,
/// so a batch pipelined behind one that then fails is written before it.
/// Order with several batches of a partition in flight rests on that
/// refusal (as in Java), so on the mock only a transactional producer can
/// show it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mock_checks_sequences_only_for_transactional_producers() {
    rkafka_tests::skip_if_external!("documents a quirk of the mock cluster");
    let mock = mock(MockConfig::brokers(1).topic("seq", 1, 1));
    tokio::time::timeout(LIMIT, async {
        let client = reader(mock.bootstrap()).await;
        assert_eq!(
            produce_out_of_sequence(&client, "seq", None).await,
            ErrorCode::NONE,
            "the mock now checks idempotent producers' sequences: \
             idempotent_exactly_once_in_order_through_faults can pipeline"
        );
        assert_eq!(
            produce_out_of_sequence(&client, "seq", Some("seq-txn")).await,
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
        );
    })
    .await
    .expect("in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unkeyed_records_move_away_from_a_slow_broker() {
    rkafka_tests::skip_if_external!("slows one mock broker down");
    // Partitions 0 and 1 on broker 1, 2 and 3 on broker 2, which answers
    // 200 ms late: its partitions' batches queue up, and KIP-794's adaptive
    // choice sends fewer new records there.
    let mock = mock(MockConfig::brokers(2).topic("slow", 4, 1));
    tokio::time::timeout(LIMIT, async {
        for (p, leader) in [(0, 1), (1, 1), (2, 2), (3, 2)] {
            control(&mock, &format!("leader slow {p} {leader}")).await;
        }
        control(&mock, "rtt 2 200").await;
        let mut cfg = config(mock.bootstrap());
        // About 16 records a batch: the sticky partition changes often.
        cfg.batch_size = 2_000;
        let producer = Producer::connect(cfg).await.unwrap();
        let mut deliveries = Vec::new();
        for i in 0..10_000 {
            let r = ProducerRecord::new("slow", format!("{i:0>100}"));
            deliveries.push(producer.send(r).await.unwrap());
            if i % 1_000 == 999 {
                // Paced a little, so queues (the signal) build up while
                // records are still being placed, however loaded the machine.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let mut per_partition = [0usize; 4];
        for d in deliveries {
            per_partition[d.await.unwrap().partition as usize] += 1;
        }
        let fast = per_partition[0] + per_partition[1];
        // Uniform gives 5,000 each side (measured: 5,010, with about 625
        // partition choices the spread is ±200); adaptive gave 8,800-9,000.
        assert!(fast > 6_500, "{per_partition:?}");
        producer.close(Duration::from_secs(5)).await.unwrap();
    })
    .await
    .expect("in time");
}

/// `partitioner.availability.timeout.ms`: once a leader has had batches
/// ready for longer than the timeout with every request it allows in
/// flight unanswered, records without a key skip its partitions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unkeyed_records_skip_a_leader_past_the_availability_timeout() {
    rkafka_tests::skip_if_external!("slows one mock broker down");
    // Off (the default), adaptive partitioning alone still sends some.
    let off = stalled_leader_share(Duration::ZERO, 200, 300).await;
    assert!(off > 30, "{off} of 300 records on the stalled leader");
    let on = stalled_leader_share(Duration::from_millis(100), 1_000, 1_000).await;
    // At most the rest of a batch the sticky choice had already started.
    assert!(on <= 20, "{on} of 1,000 records on the stalled leader");
}

/// Partitions 0 and 1 on broker 1, 2 and 3 on broker 2, which answers
/// `rtt_ms` late and, with one request in flight, stalls once records for
/// partition 2 fill a few batches. 200 ms later, `n` records without a
/// key: how many went to broker 2's partitions. (With a 1 s delay they are
/// all placed before broker 2 answers its first request.)
async fn stalled_leader_share(availability_timeout: Duration, rtt_ms: u64, n: usize) -> usize {
    let mock = mock(MockConfig::brokers(2).topic("stalled", 4, 1));
    tokio::time::timeout(LIMIT, async {
        for (p, leader) in [(0, 1), (1, 1), (2, 2), (3, 2)] {
            control(&mock, &format!("leader stalled {p} {leader}")).await;
        }
        control(&mock, &format!("rtt 2 {rtt_ms}")).await;
        let mut cfg = config(mock.bootstrap());
        // About 16 records a batch: the sticky partition changes often.
        cfg.batch_size = 2_000;
        cfg.max_in_flight_requests_per_connection = 1;
        cfg.partitioner_availability_timeout = availability_timeout;
        let producer = Producer::connect(cfg).await.unwrap();
        let mut deliveries = Vec::new();
        for i in 0..40 {
            let r = ProducerRecord::new("stalled", format!("{i:0>100}")).with_partition(2);
            deliveries.push(producer.send(r).await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        for i in 0..n {
            let r = ProducerRecord::new("stalled", format!("{i:0>100}"));
            deliveries.push(producer.send(r).await.unwrap());
        }
        let mut on_stalled = 0;
        for d in deliveries.split_off(40) {
            on_stalled += usize::from(d.await.unwrap().partition >= 2);
        }
        for d in deliveries {
            d.await.unwrap();
        }
        producer.close(Duration::from_secs(10)).await.unwrap();
        on_stalled
    })
    .await
    .expect("in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_0_records_are_written_and_report_no_offset() {
    rkafka_tests::skip_if_external!("reads back a fresh mock topic from offset 0");
    let mock = mock(MockConfig::brokers(1).topic("a0", 1, 1));
    tokio::time::timeout(LIMIT, async {
        let mut cfg = config(mock.bootstrap());
        cfg.acks = Acks::None;
        cfg.enable_idempotence = Some(false);
        let producer = Producer::connect(cfg).await.unwrap();
        let mut ds = Vec::new();
        for i in 0..10 {
            ds.push(
                producer
                    .send(ProducerRecord::new("a0", format!("v{i}")))
                    .await
                    .unwrap(),
            );
        }
        for d in ds {
            // The broker does not answer: no offset to report.
            assert_eq!(d.await.unwrap().offset, -1);
        }
        producer.close(Duration::from_secs(5)).await.unwrap();
        let back = fetch_all(&reader(mock.bootstrap()).await, "a0", 0).await;
        let values: Vec<_> = back.iter().map(|r| r.value.clone().unwrap()).collect();
        let expected: Vec<_> = (0..10).map(|i| format!("v{i}").into_bytes()).collect();
        assert_eq!(values, expected);
    })
    .await
    .expect("in time");
}
