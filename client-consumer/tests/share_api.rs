//! The share consumer's API against the mock: the Stream form,
//! commit_async with the outcome callback, the lock timeout, the
//! max.poll.interval.ms leave and rejoin, and the typed errors for what a
//! v1 broker (the mock) cannot do: RENEW and record_limit.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::proxy;
use common::*;
use futures_core::Stream;
use rkafka_client_consumer::{
    AckOutcome, AcknowledgeType, AcknowledgementMode, AcquireMode, ShareConsumer, ShareError,
};
use rkafka_protocol::ErrorCode;

const EXPLICIT: AcknowledgementMode = AcknowledgementMode::Explicit;

async fn first_poll(c: &mut ShareConsumer) -> Vec<rkafka_client_consumer::ShareRecord> {
    for _ in 0..50 {
        let got = c.poll(Duration::from_millis(200)).await.unwrap();
        if !got.is_empty() {
            return got;
        }
    }
    panic!("no records");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_commit_async_callback_and_lock_timeout() {
    rkafka_tests::skip_if_external!("uses the mock");
    let m = mock(1, &[("t", 1)]);
    control(&m, "share_lock_ms 20000").await;
    let p = producer(m.bootstrap()).await;
    produce(&p, "t", 0, 30, "m").await;
    let mut c = consumer(m.bootstrap(), "ga", &["t"], EXPLICIT).await;
    let outcomes: Arc<Mutex<Vec<AckOutcome>>> = Arc::default();
    let sink = outcomes.clone();
    c.set_acknowledgement_commit_callback(move |o| sink.lock().unwrap().push(o.clone()));
    let mut stream = c.into_stream(Duration::from_millis(200));
    let mut values = Vec::new();
    while values.len() < 30 {
        let r = tokio::time::timeout(
            Duration::from_secs(10),
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)),
        )
        .await
        .expect("a record in time")
        .expect("stream open")
        .expect("no error");
        values.push(value(&r));
        stream
            .consumer_mut()
            .unwrap()
            .acknowledge(&r, AcknowledgeType::Accept)
            .unwrap();
    }
    assert_eq!(values, (0..30).map(|i| format!("m{i}")).collect::<Vec<_>>());
    let (mut c, rest) = stream.into_inner().unwrap();
    assert!(rest.is_empty());
    assert_eq!(
        c.acquisition_lock_timeout(),
        Some(Duration::from_millis(20000))
    );
    c.commit_async().unwrap();
    // Outcomes reach the callback inside a later call.
    for _ in 0..20 {
        let n: usize = outcomes
            .lock()
            .unwrap()
            .iter()
            .map(|o| o.offsets.len())
            .sum();
        if n >= 30 {
            break;
        }
        c.poll(Duration::from_millis(100)).await.unwrap();
    }
    let o = outcomes.lock().unwrap().clone();
    let n: usize = o.iter().map(|o| o.offsets.len()).sum();
    assert_eq!(n, 30, "{o:?}");
    assert!(
        o.iter()
            .all(|o| o.error.is_none() && o.partition.topic == "t"),
        "{o:?}"
    );
    c.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_on_a_v1_broker_is_a_typed_error() {
    rkafka_tests::skip_if_external!("the mock serves ShareAcknowledge v1 only");
    let m = mock(1, &[("t", 1)]);
    let p = producer(m.bootstrap()).await;
    produce(&p, "t", 0, 2, "m").await;
    let mut c = consumer(m.bootstrap(), "gr", &["t"], EXPLICIT).await;
    let got = first_poll(&mut c).await;
    for r in &got {
        c.acknowledge(r, AcknowledgeType::Renew).unwrap();
    }
    let res = c.commit_sync(Duration::from_secs(5)).await.unwrap();
    let r = res.values().next().expect("one partition");
    assert_eq!(
        r.as_ref().unwrap_err().code,
        ErrorCode::UNSUPPORTED_VERSION,
        "{res:?}"
    );
    let err = c.poll(Duration::from_millis(10)).await.unwrap_err();
    assert!(
        matches!(err, ShareError::Unsupported { version: 1, .. }),
        "{err}"
    );
    // A renewed record still awaits its final acknowledgement.
    for r in &got {
        c.acknowledge(r, AcknowledgeType::Accept).unwrap();
    }
    let res = c.commit_sync(Duration::from_secs(5)).await.unwrap();
    assert!(res.values().all(|r| r.is_ok()), "{res:?}");
    c.close(Duration::from_secs(5)).await;

    let mut i = consumer(m.bootstrap(), "gr2", &["t"], AcknowledgementMode::Implicit).await;
    let got = first_poll(&mut i).await;
    assert!(matches!(
        i.acknowledge(&got[0], AcknowledgeType::Renew),
        Err(ShareError::RenewNeedsExplicitMode)
    ));
    i.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_limit_on_a_v1_broker_is_a_typed_error() {
    rkafka_tests::skip_if_external!("the mock serves ShareFetch v1 only");
    let m = mock(1, &[("t", 1)]);
    let mut cfg = config(m.bootstrap(), "gl", &["t"], EXPLICIT);
    cfg.acquire_mode = AcquireMode::RecordLimit;
    let mut c = ShareConsumer::connect(cfg).await.unwrap();
    let mut err = None;
    for _ in 0..50 {
        match c.poll(Duration::from_millis(200)).await {
            Ok(r) => assert!(r.is_empty()),
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let err = err.expect("a typed error");
    assert!(
        matches!(err, ShareError::Unsupported { version: 1, .. }),
        "{err}"
    );
    c.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_poll_interval_leaves_and_the_next_poll_rejoins() {
    rkafka_tests::skip_if_external!("reads the wire through a proxy");
    let m = mock(1, &[("t", 1)]);
    let (bootstrap, log) = proxy::start(&m).await;
    let mut cfg = config(&bootstrap, "gp", &["t"], EXPLICIT);
    cfg.max_poll_interval = Duration::from_millis(800);
    let mut c = ShareConsumer::connect(cfg).await.unwrap();
    for _ in 0..5 {
        c.poll(Duration::from_millis(100)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let hb = |log: &proxy::Log| -> Vec<i32> {
        log.lock()
            .unwrap()
            .iter()
            .filter(|r| r.1 == 76)
            .map(|r| r.2)
            .collect()
    };
    let before = hb(&log);
    assert_eq!(
        before.last(),
        Some(&-1),
        "left after the interval: {before:?}"
    );
    c.poll(Duration::from_millis(500)).await.unwrap();
    let after = hb(&log);
    assert_eq!(
        after.get(before.len()),
        Some(&0),
        "rejoined at epoch 0: {after:?}"
    );
    c.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_joins_and_unsubscribe_leaves() {
    rkafka_tests::skip_if_external!("reads the wire through a proxy");
    let m = mock(1, &[("t", 1)]);
    let (bootstrap, log) = proxy::start(&m).await;
    let p = producer(&bootstrap).await;
    produce(&p, "t", 0, 5, "m").await;
    let mut c = consumer(&bootstrap, "gs", &[], EXPLICIT).await;
    let hb = |log: &proxy::Log| -> Vec<i32> {
        log.lock()
            .unwrap()
            .iter()
            .filter(|r| r.1 == 76)
            .map(|r| r.2)
            .collect()
    };
    assert!(c.poll(Duration::from_millis(300)).await.unwrap().is_empty());
    assert!(hb(&log).is_empty(), "no subscription, no heartbeat");
    c.subscribe(&["t"]).unwrap();
    let seen = drain(
        &mut c,
        Duration::from_secs(10),
        Some(AcknowledgeType::Accept),
        |s| s.len() >= 5,
    )
    .await;
    assert_eq!(seen.len(), 5);
    assert_eq!(hb(&log).first(), Some(&0), "joined at epoch 0");
    c.commit_sync(Duration::from_secs(5)).await.unwrap();
    c.unsubscribe().unwrap();
    for _ in 0..10 {
        c.poll(Duration::from_millis(100)).await.unwrap();
    }
    assert_eq!(hb(&log).last(), Some(&-1), "left: {:?}", hb(&log));
    // Not in the group any more: close has only the sessions to end.
    let t0 = std::time::Instant::now();
    c.close(Duration::from_secs(5)).await;
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "close took {:?}",
        t0.elapsed()
    );
}
