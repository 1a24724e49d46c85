//! The share consumer against librdkafka's mock cluster (issue 5, tests
//! 1-7, 10, 11): delivery across members, release/reject/lock expiry,
//! implicit and explicit modes, drop and close, injected faults.
//! With `KAFKA_BOOTSTRAP` set these skip: they need the mock's controls.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rkafka_client_consumer::{AckOutcome, AcknowledgeType, AcknowledgementMode, ShareError};
use rkafka_protocol::ErrorCode;

const EXPLICIT: AcknowledgementMode = AcknowledgementMode::Explicit;

/// 1. Two consumers, two partitions, 400 records: all of them, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_two_partitions_get_everything_once() {
    rkafka_tests::skip_if_external!("uses the mock's share controls");
    let m = mock(1, &[("t", 2)]);
    let mut c1 = consumer(m.bootstrap(), "g1", &["t"], EXPLICIT).await;
    let mut c2 = consumer(m.bootstrap(), "g1", &["t"], EXPLICIT).await;
    settle(&m, "g1", &mut [&mut c1, &mut c2], 2).await;
    let p = producer(m.bootstrap()).await;
    produce(&p, "t", 0, 200, "a").await;
    produce(&p, "t", 1, 200, "b").await;
    let out = drain_together(vec![c1, c2], 400, Duration::from_secs(30)).await;
    let n = assert_no_duplicates(&[&out[0].1, &out[1].1]);
    assert_eq!(n, 400);
    for (c, _) in out {
        c.close(Duration::from_secs(5)).await;
    }
}

/// 2. Two consumers really sharing one partition: both receive, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_share_one_partition() {
    rkafka_tests::skip_if_external!("uses share_assign_all");
    let m = mock(1, &[("t", 1)]);
    let mut c1 = consumer(m.bootstrap(), "g2", &["t"], EXPLICIT).await;
    let mut c2 = consumer(m.bootstrap(), "g2", &["t"], EXPLICIT).await;
    // Both members must exist before the assignment is forced.
    for _ in 0..20 {
        c1.poll(Duration::from_millis(100)).await.unwrap();
        c2.poll(Duration::from_millis(100)).await.unwrap();
        let members = control(&m, "share_members g2").await;
        if members.split_whitespace().count() == 2 {
            break;
        }
    }
    control(&m, "share_assign_all g2 t 1").await;
    for _ in 0..10 {
        c1.poll(Duration::from_millis(100)).await.unwrap();
        c2.poll(Duration::from_millis(100)).await.unwrap();
    }
    let p = producer(m.bootstrap()).await;
    produce(&p, "t", 0, 1000, "m").await;
    let out = drain_together(vec![c1, c2], 1000, Duration::from_secs(40)).await;
    let n = assert_no_duplicates(&[&out[0].1, &out[1].1]);
    assert_eq!(n, 1000);
    assert!(
        !out[0].1.is_empty() && !out[1].1.is_empty(),
        "both members receive: {} / {}",
        out[0].1.len(),
        out[1].1.len()
    );
    for (c, _) in out {
        c.close(Duration::from_secs(5)).await;
    }
}

/// 3. Release: redelivered with count + 1 until the limit, then never again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_redelivers_until_the_delivery_limit() {
    rkafka_tests::skip_if_external!("sets the mock's delivery limit");
    let m = mock(1, &[("t", 1)]);
    control(&m, "share_max_delivery 3").await;
    let p = producer(m.bootstrap()).await;
    produce(&p, "t", 0, 1, "m").await;
    let mut c = consumer(m.bootstrap(), "g3", &["t"], EXPLICIT).await;
    let seen = drain(
        &mut c,
        Duration::from_secs(8),
        Some(AcknowledgeType::Release),
        |s| s.get(&(0, 0)).is_some_and(|v| v.len() >= 3),
    )
    .await;
    assert_eq!(seen.get(&(0, 0)), Some(&vec![1, 2, 3]));
    c.commit_sync(Duration::from_secs(5)).await.unwrap();
    let after = drain(
        &mut c,
        Duration::from_secs(2),
        Some(AcknowledgeType::Release),
        |_| false,
    )
    .await;
    assert!(after.is_empty(), "archived after the limit: {after:?}");
    c.close(Duration::from_secs(5)).await;
}

/// 4. Reject: never redelivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_records_never_come_back() {
    rkafka_tests::skip_if_external!("uses the mock");
    let m = mock(1, &[("t", 1)]);
    let p = producer(m.bootstrap()).await;
    produce(&p, "t", 0, 5, "m").await;
    let mut c = consumer(m.bootstrap(), "g4", &["t"], EXPLICIT).await;
    let seen = drain(
        &mut c,
        Duration::from_secs(8),
        Some(AcknowledgeType::Reject),
        |s| s.len() >= 5,
    )
    .await;
    assert_eq!(seen.len(), 5);
    let res = c.commit_sync(Duration::from_secs(5)).await.unwrap();
    assert!(res.values().all(|r| r.is_ok()), "{res:?}");
    let after = drain(
        &mut c,
        Duration::from_secs(2),
        Some(AcknowledgeType::Reject),
        |_| false,
    )
    .await;
    assert!(after.is_empty(), "{after:?}");
    c.close(Duration::from_secs(5)).await;
}

/// 5. A late ack after the lock expired: INVALID_RECORD_STATE in the
/// callback and in commit_sync; the record comes back with count 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_ack_after_lock_expiry_reports_invalid_record_state() {
    rkafka_tests::skip_if_external!("sets the mock's lock duration");
    let m = mock(1, &[("t", 1)]);
    control(&m, "share_lock_ms 1000").await;
    let p = producer(m.bootstrap()).await;
    produce(&p, "t", 0, 1, "m").await;
    let mut c = consumer(m.bootstrap(), "g5", &["t"], EXPLICIT).await;
    let outcomes: Arc<Mutex<Vec<AckOutcome>>> = Arc::default();
    let sink = outcomes.clone();
    c.set_acknowledgement_commit_callback(move |o| sink.lock().unwrap().push(o.clone()));
    let mut first = Vec::new();
    for _ in 0..40 {
        first = c.poll(Duration::from_millis(200)).await.unwrap();
        if !first.is_empty() {
            break;
        }
    }
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].delivery_count, 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    c.acknowledge(&first[0], AcknowledgeType::Accept).unwrap();
    let res = c.commit_sync(Duration::from_secs(5)).await.unwrap();
    let r = res.values().next().expect("one partition");
    assert_eq!(
        r.as_ref().unwrap_err().code,
        ErrorCode::INVALID_RECORD_STATE,
        "{res:?}"
    );
    {
        let o = outcomes.lock().unwrap();
        let o = o
            .iter()
            .find(|o| o.offsets == vec![0])
            .expect("callback saw the ack");
        assert_eq!(
            o.error.as_ref().map(|e| e.code),
            Some(ErrorCode::INVALID_RECORD_STATE)
        );
    }
    let again = drain(
        &mut c,
        Duration::from_secs(8),
        Some(AcknowledgeType::Accept),
        |s| !s.is_empty(),
    )
    .await;
    assert_eq!(again.get(&(0, 0)), Some(&vec![2]));
    c.close(Duration::from_secs(5)).await;
}

/// 6. A consumer dropped without close: its records reach the other member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_consumer_records_reach_the_other_member() {
    rkafka_tests::skip_if_external!("uses the mock");
    let m = mock(1, &[("t", 1)]);
    // Whichever comes first releases them: the closed connection (Kafka)
    // or the lock expiry (the mock does not tie sessions to connections).
    control(&m, "share_lock_ms 2000").await;
    // The mock's assignor gives the partition to one member: the dropped
    // one must time out of the group before the other is assigned.
    control(&m, "share_session_ms 2000").await;
    let p = producer(m.bootstrap()).await;
    produce(&p, "t", 0, 10, "m").await;
    let mut c1 = consumer(m.bootstrap(), "g6", &["t"], EXPLICIT).await;
    let mut got = Vec::new();
    for _ in 0..40 {
        got = c1.poll(Duration::from_millis(200)).await.unwrap();
        if !got.is_empty() {
            break;
        }
    }
    assert!(!got.is_empty());
    drop(c1);
    let mut c2 = consumer(m.bootstrap(), "g6", &["t"], EXPLICIT).await;
    let seen = drain(
        &mut c2,
        Duration::from_secs(15),
        Some(AcknowledgeType::Accept),
        |s| s.len() >= 10,
    )
    .await;
    assert_eq!(seen.len(), 10);
    for r in &got {
        assert_eq!(
            seen.get(&(0, r.offset)),
            Some(&vec![2]),
            "offset {} redelivered",
            r.offset
        );
    }
    c2.close(Duration::from_secs(5)).await;
}

/// 7a. Implicit mode: each poll accepts the previous one; nothing comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_mode_accepts_on_the_next_poll() {
    rkafka_tests::skip_if_external!("uses the mock");
    let m = mock(1, &[("t", 1)]);
    let p = producer(m.bootstrap()).await;
    produce(&p, "t", 0, 50, "m").await;
    let mut c = consumer(m.bootstrap(), "g7", &["t"], AcknowledgementMode::Implicit).await;
    let mut seen = Seen::new();
    let mut polls_after_all = 0;
    for _ in 0..100 {
        let records = c.poll(Duration::from_millis(200)).await.unwrap();
        if let Some(r) = records.first() {
            assert!(matches!(
                c.acknowledge(r, AcknowledgeType::Accept),
                Err(ShareError::ImplicitMode)
            ));
        }
        for r in &records {
            seen.entry((r.partition, r.offset))
                .or_default()
                .push(r.delivery_count);
        }
        if seen.len() >= 50 {
            polls_after_all += 1;
            if polls_after_all > 10 {
                break;
            }
        }
    }
    assert_eq!(seen.len(), 50);
    assert_eq!(polls_after_all, 11, "ten polls after everything arrived");
    assert_no_duplicates(&[&seen]);
    c.close(Duration::from_secs(5)).await;
}

/// 7b. Explicit mode: a poll with unacknowledged records is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_mode_refuses_poll_with_unacked_records() {
    rkafka_tests::skip_if_external!("uses the mock");
    let m = mock(1, &[("t", 1)]);
    let p = producer(m.bootstrap()).await;
    produce(&p, "t", 0, 3, "m").await;
    let mut c = consumer(m.bootstrap(), "g7b", &["t"], EXPLICIT).await;
    let mut got = Vec::new();
    for _ in 0..40 {
        got = c.poll(Duration::from_millis(200)).await.unwrap();
        if !got.is_empty() {
            break;
        }
    }
    assert!(!got.is_empty());
    let err = c.poll(Duration::from_millis(10)).await.unwrap_err();
    assert!(
        matches!(err, ShareError::UnacknowledgedRecords { count } if count == got.len()),
        "{err}"
    );
    for r in &got {
        c.acknowledge(r, AcknowledgeType::Accept).unwrap();
    }
    assert!(matches!(
        c.acknowledge(&got[0], AcknowledgeType::Accept),
        Err(ShareError::NotDelivered { .. })
    ));
    c.poll(Duration::from_millis(10))
        .await
        .expect("poll after acking");
    c.close(Duration::from_secs(5)).await;
}
