//! Transactions v2 (KIP-890 part 2) against crafted answers
//! (`rkafka_test_support::fake`): no local peer finalizes
//! `transaction.version` 2.
//! Checks what goes on the wire: no AddPartitionsToTxn or AddOffsetsToTxn
//! under v2, Produce v12, TxnOffsetCommit and EndTxn v5, and the epoch
//! EndTxn v5 hands back used by the next transaction's batches; and that
//! the same calls stay on v1 when the feature is not finalized. Also the
//! typed timeout error (a leader refusing the epoch after the coordinator
//! aborted on timeout) and the recovery through `abort_transaction` under
//! both protocols.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::config;
use rkafka_client_producer::{ConsumerGroupMetadata, Producer, ProducerError, ProducerRecord};
use rkafka_test_support::fake::{self, Seen, PRODUCER_ID};

type Shared = std::sync::Arc<std::sync::Mutex<Seen>>;

const LIMIT: Duration = Duration::from_secs(30);
const ADD_PARTITIONS: i16 = 24;
const ADD_OFFSETS: i16 = 25;
const INVALID_PRODUCER_EPOCH: i16 = 47;

async fn transactional(bootstrap: &str) -> Producer {
    let mut cfg = config(bootstrap);
    cfg.transactional_id = Some("txn-v2".to_owned());
    let p = Producer::connect(cfg).await.unwrap();
    p.init_transactions().await.unwrap();
    p
}

async fn send(p: &Producer, partition: i32, n: usize) {
    let mut ds = Vec::new();
    for i in 0..n {
        let r = ProducerRecord::new("t", format!("r{i}")).with_partition(partition);
        ds.push(p.send(r).await.unwrap());
    }
    for d in ds {
        d.await.unwrap();
    }
}

/// Starts the crafted broker (`tv2`, InitProducerId at `init_epoch`), runs
/// `body` on a transactional producer initialized against it, then closes
/// the producer, all within [`LIMIT`]; returns what the broker saw.
async fn run(tv2: bool, init_epoch: i16, body: impl AsyncFnOnce(&Producer, &Shared)) -> Shared {
    let (bootstrap, seen) = fake::start_transactions(tv2, init_epoch).await;
    tokio::time::timeout(LIMIT, async {
        let p = transactional(&bootstrap).await;
        body(&p, &seen).await;
        p.close(Duration::from_secs(5)).await.unwrap();
    })
    .await
    .expect("in time");
    seen
}

/// One transaction of `n` records on `partition`, committed.
async fn commit_one(p: &Producer, partition: i32, n: usize) {
    p.begin_transaction().await.unwrap();
    send(p, partition, n).await;
    p.commit_transaction().await.unwrap();
}

/// (version, epoch, committed) of each EndTxn.
fn ends(seen: &Seen) -> Vec<(i16, i16, bool)> {
    seen.end_txns
        .iter()
        .map(|(v, r)| (*v, r.producer_epoch, r.committed))
        .collect()
}

/// One transaction: records on both partitions, offsets, commit.
async fn one_transaction(p: &Producer) {
    p.begin_transaction().await.unwrap();
    send(p, 0, 3).await;
    send(p, 1, 2).await;
    let offsets = BTreeMap::from([(("in".to_owned(), 0), 42)]);
    p.send_offsets_to_transaction(&offsets, &ConsumerGroupMetadata::new("g"))
        .await
        .unwrap();
    p.commit_transaction().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_adds_partitions_implicitly_and_adopts_the_bumped_epoch() {
    let seen = run(true, 5, async |p, _| {
        assert_eq!(p.client().finalized_feature("transaction.version"), Some(2));
        one_transaction(p).await;
        // The second one is aborted: an abort ends (and bumps) it the same.
        p.begin_transaction().await.unwrap();
        send(p, 0, 2).await;
        p.abort_transaction().await.unwrap();
        commit_one(p, 1, 1).await;
    })
    .await;

    let seen = seen.lock().unwrap();
    assert_eq!(seen.count(ADD_PARTITIONS), 0, "{:?}", seen.requests);
    assert_eq!(seen.count(ADD_OFFSETS), 0, "{:?}", seen.requests);
    assert!(!seen.batches.is_empty());
    for b in &seen.batches {
        assert_eq!(b.version, 12, "{b:?}");
        assert_eq!(b.transactional_id.as_deref(), Some("txn-v2"));
        assert!(b.transactional);
        assert_eq!(b.producer_id, PRODUCER_ID);
    }
    // Transaction 1 at the initial epoch, 2 and 3 at the epochs the EndTxn
    // answers handed out; sequences start over with each epoch.
    assert_eq!(
        firsts(&seen.batches),
        vec![(12, 0, 5, 0), (12, 1, 5, 0), (12, 0, 6, 0), (12, 1, 7, 0)]
    );
    assert_eq!(ends(&seen), vec![(5, 5, true), (5, 6, false), (5, 7, true)]);
    let (v, commit) = &seen.offset_commits[0];
    assert_eq!(
        (*v, commit.producer_epoch, commit.group_id.as_str()),
        (5, 5, "g")
    );
    // No InitProducerId beyond the first: EndTxn v5 did the bumping.
    assert_eq!(seen.inits.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_moves_to_the_new_producer_id_when_the_epoch_is_exhausted() {
    let seen = run(true, i16::MAX - 2, async |p, _| {
        for _ in 0..3 {
            commit_one(p, 0, 1).await;
        }
    })
    .await;
    let seen = seen.lock().unwrap();
    let producers: Vec<(i64, i16)> = seen
        .batches
        .iter()
        .map(|b| (b.producer_id, b.producer_epoch))
        .collect();
    assert!(seen.batches.iter().all(|b| b.base_sequence == 0));
    assert_eq!(
        producers,
        vec![
            (PRODUCER_ID, i16::MAX - 2),
            (PRODUCER_ID, i16::MAX - 1),
            (PRODUCER_ID + 1, 0)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_when_the_feature_is_not_finalized() {
    let seen = run(false, 5, async |p, _| {
        assert_eq!(p.client().finalized_feature("transaction.version"), None);
        one_transaction(p).await;
        commit_one(p, 0, 2).await;
    })
    .await;

    let seen = seen.lock().unwrap();
    assert!(seen.count(ADD_PARTITIONS) >= 2, "{:?}", seen.requests);
    assert_eq!(seen.count(ADD_OFFSETS), 1, "{:?}", seen.requests);
    assert!(seen
        .requests
        .iter()
        .filter(|(k, _)| *k == ADD_PARTITIONS)
        .all(|(_, v)| *v <= 3));
    // Produce at v11, one epoch throughout, sequences carrying on.
    assert!(seen
        .batches
        .iter()
        .all(|b| b.version == 11 && b.producer_epoch == 5));
    let seq_of_txn2 = seen.batches.last().map(|b| (b.partition, b.base_sequence));
    assert_eq!(seq_of_txn2, Some((0, 3)), "{:?}", seen.batches);
    assert!(seen
        .end_txns
        .iter()
        .all(|(v, r)| *v == 4 && r.producer_epoch == 5));
    assert_eq!(seen.end_txns.len(), 2);
    assert_eq!(seen.offset_commits[0].0, 4);
    assert_eq!(seen.inits.len(), 1);
}

/// The first batch of each (partition, epoch), in order: (version,
/// partition, epoch, base sequence).
fn firsts(batches: &[fake::ProducedBatch]) -> Vec<(i16, i32, i16, i32)> {
    let mut out: Vec<(i16, i32, i16, i32)> = Vec::new();
    for b in batches {
        if !out
            .iter()
            .any(|(_, p, e, _)| (*p, *e) == (b.partition, b.producer_epoch))
        {
            out.push((b.version, b.partition, b.producer_epoch, b.base_sequence));
        }
    }
    out
}

/// The coordinator aborted the transaction on timeout and bumped the epoch:
/// the leader refuses the next batch with INVALID_PRODUCER_EPOCH. The record
/// and the commit fail with `TransactionTimedOut` (abortable, not fenced),
/// and after `abort_transaction` the producer goes on at the bumped epoch.
async fn timed_out_then_recovered(tv2: bool) -> Shared {
    run(tv2, 5, async |p, seen| {
        p.begin_transaction().await.unwrap();
        seen.lock()
            .unwrap()
            .produce_errors
            .push_back(INVALID_PRODUCER_EPOCH);
        let d = p
            .send(ProducerRecord::new("t", "late").with_partition(0))
            .await
            .unwrap();
        let r = d.await;
        assert!(
            matches!(r, Err(ProducerError::TransactionTimedOut { .. })),
            "{r:?}"
        );
        // Sends and the commit say so too; only an abort helps.
        let commit = p.commit_transaction().await;
        assert!(
            matches!(commit, Err(ProducerError::TransactionTimedOut { .. })),
            "{commit:?}"
        );
        p.abort_transaction().await.unwrap();
        commit_one(p, 0, 1).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_recovers_from_a_coordinator_timeout_with_an_epoch_bump() {
    let seen = timed_out_then_recovered(false).await;
    let seen = seen.lock().unwrap();
    // No EndTxn for the timed-out transaction: InitProducerId at the
    // current epoch took its place and handed out the bumped one.
    let bumps: Vec<(i64, i16)> = seen
        .inits
        .iter()
        .map(|(_, r)| (r.producer_id, r.producer_epoch))
        .collect();
    assert_eq!(bumps, vec![(-1, -1), (PRODUCER_ID, 5)]);
    let epochs: Vec<(i16, bool)> = ends(&seen).iter().map(|&(_, e, c)| (e, c)).collect();
    assert_eq!(epochs, vec![(6, true)]);
    let last = seen.batches.last().unwrap();
    assert_eq!((last.producer_epoch, last.base_sequence), (6, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_recovers_from_a_coordinator_timeout_through_end_txn() {
    let seen = timed_out_then_recovered(true).await;
    let seen = seen.lock().unwrap();
    // EndTxn v5 aborts and bumps; no second InitProducerId.
    assert_eq!(seen.inits.len(), 1);
    assert_eq!(ends(&seen), vec![(5, 5, false), (5, 6, true)]);
    let last = seen.batches.last().unwrap();
    assert_eq!((last.producer_epoch, last.base_sequence), (6, 0));
}
