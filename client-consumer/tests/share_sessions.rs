//! Share sessions against a 3-broker mock, read through an epoch-reading
//! proxy (issue 5, tests 9-11): one session per broker with a correct epoch
//! sequence, leader moves, injected session/membership faults, close.
//! With `KAFKA_BOOTSTRAP` set these skip: they need the mock's controls.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::proxy::{self, session_epochs, Log};
use common::*;
use rkafka_client_consumer::{AcknowledgeType, AcknowledgementMode};

const EXPLICIT: AcknowledgementMode = AcknowledgementMode::Explicit;

/// Checks one broker's session epochs: 0 first, then +1 each time; a
/// reset to 0 only if `resets`; -1 (close) only last.
fn assert_epochs(seq: &[(i16, i32)], resets: bool) {
    assert_eq!(
        seq.first().map(|s| s.1),
        Some(0),
        "a session opens at 0: {seq:?}"
    );
    for w in seq.windows(2) {
        let (prev, next) = (w[0].1, w[1].1);
        assert_ne!(prev, -1, "nothing after a close: {seq:?}");
        let ok = next == prev + 1 || next == -1 || (resets && next == 0);
        assert!(ok, "epoch {prev} then {next}: {seq:?}");
    }
    for &(api, e) in seq {
        assert!(
            !(api == 79 && e == 0),
            "never acknowledge at epoch 0: {seq:?}"
        );
    }
}

fn heartbeat_epochs(log: &Log) -> Vec<i32> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|r| r.1 == 76)
        .map(|r| r.2)
        .collect()
}

/// 9. Three partitions led by three brokers: a session per broker with a
/// correct epoch sequence; a leader move loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_per_broker_and_leader_moves() {
    rkafka_tests::skip_if_external!("moves leaders on the mock");
    let m = mock(3, &[("t", 3)]);
    for (p, b) in [(0, 1), (1, 2), (2, 3)] {
        control(&m, &format!("leader t {p} {b}")).await;
    }
    let (bootstrap, log) = proxy::start(&m).await;
    let p = producer(&bootstrap).await;
    for part in 0..3 {
        produce(&p, "t", part, 100, "m").await;
    }
    let mut c = consumer(&bootstrap, "g9", &["t"], EXPLICIT).await;
    let mut seen = drain(
        &mut c,
        Duration::from_secs(20),
        Some(AcknowledgeType::Accept),
        |s| s.len() >= 300,
    )
    .await;
    assert_eq!(seen.len(), 300);
    for b in 1..=3 {
        let seq = session_epochs(&log, b);
        assert!(!seq.is_empty(), "broker {b} has its own session: {seq:?}");
        assert_epochs(&seq, false);
    }
    c.commit_sync(Duration::from_secs(5)).await.unwrap();

    control(&m, "leader t 0 2").await;
    produce(&p, "t", 0, 100, "n").await;
    let more = drain(
        &mut c,
        Duration::from_secs(20),
        Some(AcknowledgeType::Accept),
        |s| s.keys().filter(|k| k.0 == 0).count() >= 100,
    )
    .await;
    for (k, v) in more {
        seen.entry(k).or_default().extend(v);
    }
    let p0: BTreeSet<i64> = seen.keys().filter(|k| k.0 == 0).map(|k| k.1).collect();
    assert_eq!(p0, (0..200).collect(), "nothing lost across the move");
    c.close(Duration::from_secs(5)).await;
    // Heartbeats follow the broker's interval (300 ms here); the mock
    // repeats the assignment in every answer, which must not trigger more.
    let hb = heartbeat_epochs(&log);
    assert!(hb.len() < 100, "{} heartbeats", hb.len());
    for b in 1..=3 {
        let seq = session_epochs(&log, b);
        assert_epochs(&seq, true);
        assert_eq!(
            seq.last().map(|s| s.1),
            Some(-1),
            "broker {b} session closed: {seq:?}"
        );
    }
}

/// 10. Injected SHARE_SESSION_NOT_FOUND / INVALID_SHARE_SESSION_EPOCH on
/// ShareFetch, FENCED_MEMBER_EPOCH and NOT_COORDINATOR on the heartbeat:
/// the consumer recovers and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_from_session_and_membership_faults() {
    rkafka_tests::skip_if_external!("injects errors on the mock");
    let m = mock(1, &[("t", 1)]);
    // Acks lost with a dropped session come back after the lock expires.
    control(&m, "share_lock_ms 2000").await;
    let (bootstrap, log) = proxy::start(&m).await;
    let p = producer(&bootstrap).await;
    produce(&p, "t", 0, 100, "m").await;
    let mut c = consumer(&bootstrap, "g10", &["t"], EXPLICIT).await;
    let mut seen = drain(
        &mut c,
        Duration::from_secs(20),
        Some(AcknowledgeType::Accept),
        |s| s.len() >= 100,
    )
    .await;
    control(&m, "track_clear").await;
    control(
        &m,
        "errors 78 SHARE_SESSION_NOT_FOUND INVALID_SHARE_SESSION_EPOCH",
    )
    .await;
    control(&m, "errors 76 FENCED_MEMBER_EPOCH NOT_COORDINATOR").await;
    produce(&p, "t", 0, 200, "n").await;
    let more = drain(
        &mut c,
        Duration::from_secs(30),
        Some(AcknowledgeType::Accept),
        |s| s.len() + seen.len() >= 300 && s.len() > 5,
    )
    .await;
    for (k, v) in more {
        seen.entry(k).or_default().extend(v);
    }
    let offsets: BTreeSet<i64> = seen.keys().map(|k| k.1).collect();
    assert_eq!(offsets, (0..300).collect(), "nothing lost");
    let seq = session_epochs(&log, 1);
    assert_epochs(&seq, true);
    assert!(
        seq.iter().skip(1).filter(|e| e.1 == 0).count() >= 2,
        "each session error reopened the session at 0: {seq:?}"
    );
    let hb = heartbeat_epochs(&log);
    assert!(
        hb.windows(2).any(|w| w[0] > 0 && w[1] == 0),
        "rejoined at epoch 0 after the fence: {hb:?}"
    );
    // NOT_COORDINATOR made the client look the coordinator up again.
    let tracked = control(&m, "requests").await;
    assert!(
        tracked
            .split_whitespace()
            .any(|r| r.split(':').nth(1) == Some("10")),
        "a FindCoordinator after NOT_COORDINATOR: {tracked}"
    );
    c.close(Duration::from_secs(5)).await;
}

/// 11. Close: an epoch -1 ShareAcknowledge (carrying the pending ack), then
/// the leave heartbeat; the unacknowledged records go to the other member
/// with delivery count 2, the acknowledged one never.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_releases_to_the_other_member() {
    rkafka_tests::skip_if_external!("reads the wire through a proxy");
    let m = mock(1, &[("t", 1)]);
    let (bootstrap, log) = proxy::start(&m).await;
    let p = producer(&bootstrap).await;
    produce(&p, "t", 0, 10, "m").await;
    let mut c1 = consumer(&bootstrap, "g11", &["t"], EXPLICIT).await;
    let mut got = Vec::new();
    for _ in 0..50 {
        got = c1.poll(Duration::from_millis(200)).await.unwrap();
        if !got.is_empty() {
            break;
        }
    }
    assert!(got.len() >= 2, "{got:?}");
    c1.acknowledge(&got[0], AcknowledgeType::Accept).unwrap();
    c1.close(Duration::from_secs(5)).await;
    let entries = log.lock().unwrap().clone();
    let close_at = entries
        .iter()
        .position(|&(b, api, e)| b == 1 && api == 79 && e == -1)
        .unwrap_or_else(|| panic!("an epoch -1 ShareAcknowledge: {entries:?}"));
    assert!(
        entries[close_at..]
            .iter()
            .any(|&(_, api, e)| api == 76 && e == -1),
        "the leave heartbeat follows the close: {entries:?}"
    );
    let mut c2 = consumer(&bootstrap, "g11", &["t"], EXPLICIT).await;
    let seen = drain(
        &mut c2,
        Duration::from_secs(15),
        Some(AcknowledgeType::Accept),
        |s| s.len() >= 9,
    )
    .await;
    assert!(
        !seen.contains_key(&(0, got[0].offset)),
        "the acknowledged record stays done"
    );
    for r in &got[1..] {
        assert_eq!(
            seen.get(&(0, r.offset)),
            Some(&vec![2]),
            "offset {}",
            r.offset
        );
    }
    assert_eq!(seen.len(), 9);
    c2.close(Duration::from_secs(5)).await;
}
