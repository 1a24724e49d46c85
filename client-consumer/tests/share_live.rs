//! What no local peer serves (the mock has ShareFetch/ShareAcknowledge v1
//! only): RENEW (KIP-1222), record_limit (KIP-1206) and the v2 lock-timeout
//! field, against a real Kafka 4.2+ named by `KAFKA_BOOTSTRAP`. Without it
//! the test prints SKIP and returns.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rkafka_client_consumer::{AcknowledgeType, AcknowledgementMode, AcquireMode, ShareConsumer};
use rkafka_client_core::admin::{Admin, NewTopic};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_renew_and_record_limit() {
    let Some(bootstrap) = rkafka_tests::external_bootstrap() else {
        eprintln!("SKIP live_renew_and_record_limit: needs KAFKA_BOOTSTRAP naming a Kafka 4.2+ broker with share groups on");
        return;
    };
    let topic = format!("share-live-{}", std::process::id());
    let admin = Admin::connect(client_config(&bootstrap)).await.unwrap();
    admin
        .create_topics(&[NewTopic::new(&topic, 1, 1)], false)
        .await
        .unwrap();
    let mut cfg = config(
        &bootstrap,
        &format!("g-{topic}"),
        &[&topic],
        AcknowledgementMode::Explicit,
    );
    cfg.acquire_mode = AcquireMode::RecordLimit;
    cfg.max_poll_records = 3;
    let mut c = ShareConsumer::connect(cfg).await.unwrap();
    // Join first: a new share group starts at the latest offset.
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        assert!(c.poll(Duration::from_millis(200)).await.unwrap().is_empty());
    }
    let p = producer(&bootstrap).await;
    produce(&p, &topic, 0, 10, "m").await;
    let mut seen = 0;
    let mut renewed = false;
    let end = Instant::now() + Duration::from_secs(30);
    while seen < 10 && Instant::now() < end {
        let got = c.poll(Duration::from_millis(500)).await.unwrap();
        assert!(got.len() <= 3, "record_limit is strict: {}", got.len());
        if !renewed && !got.is_empty() {
            for r in &got {
                c.acknowledge(r, AcknowledgeType::Renew).unwrap();
            }
            let res = c.commit_sync(Duration::from_secs(10)).await.unwrap();
            assert!(res.values().all(|r| r.is_ok()), "renew accepted: {res:?}");
            assert!(c.acquisition_lock_timeout().is_some());
            renewed = true;
        }
        for r in &got {
            c.acknowledge(r, AcknowledgeType::Accept).unwrap();
        }
        seen += got.len();
    }
    assert_eq!(seen, 10);
    c.close(Duration::from_secs(10)).await;
}
