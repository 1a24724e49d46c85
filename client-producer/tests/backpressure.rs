//! Backpressure: with the only broker down, `send` accepts records until
//! `buffer.memory` is used up, then waits and fails at `max.block.ms`;
//! accepted records fail at `delivery.timeout.ms`, which gives their memory
//! back; the process's memory stays bounded throughout. Its own test binary
//! so the RSS it measures is this test's alone.

mod common;

use std::time::{Duration, Instant};

use common::{config, control, mock};
use rkafka_client_producer::{Producer, ProducerError, ProducerRecord};
use rkafka_tests::MockConfig;

/// Resident set size of this process, from /proc (Linux).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_waits_at_buffer_memory_then_fails_in_time() {
    rkafka_tests::skip_if_external!("takes the mock's broker down");
    let mock = mock(MockConfig::brokers(1).topic("bp", 1, 1));
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut cfg = config(mock.bootstrap());
        cfg.buffer_memory = 256 * 1024;
        cfg.max_block = Duration::from_millis(300);
        cfg.request_timeout = Duration::from_millis(800);
        cfg.delivery_timeout = Duration::from_millis(1500);
        let producer = Producer::connect(cfg).await.unwrap();
        // Metadata for the topic is known before the broker goes away.
        let first = producer
            .send(ProducerRecord::new("bp", "first"))
            .await
            .unwrap();
        first.await.unwrap();
        control(&mock, "down 1").await;
        let rss_before = rss_kib();

        let value = vec![7u8; 1024];
        let mut accepted = Vec::new();
        let exhausted = loop {
            let start = Instant::now();
            match producer
                .send(ProducerRecord::new("bp", value.clone()))
                .await
            {
                Ok(d) => accepted.push(d),
                Err(e) => break (e, start.elapsed()),
            }
            assert!(accepted.len() < 1000, "buffer.memory never filled");
        };
        assert!(
            matches!(exhausted.0, ProducerError::BufferExhausted { .. }),
            "{:?}",
            exhausted.0
        );
        assert!(
            exhausted.1 >= Duration::from_millis(290),
            "waited {:?}",
            exhausted.1
        );
        // 256 KiB of ~1 KiB records.
        assert!((200..=256).contains(&accepted.len()), "{}", accepted.len());

        let start = Instant::now();
        for d in accepted {
            let r = d.await;
            assert!(
                matches!(r, Err(ProducerError::DeliveryTimeout { .. })),
                "{r:?}"
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );

        // Memory came back: sending waits no longer once the broker is back.
        let grown = rss_kib().saturating_sub(rss_before);
        assert!(
            grown < 16 * 1024,
            "RSS grew by {grown} KiB with a 256 KiB buffer"
        );
        control(&mock, "up 1").await;
        // The producer recovers: a new epoch (the expired batches left a
        // sequence gap), a new connection, then delivery.
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < Duration::from_secs(20) {
            let d = producer
                .send(ProducerRecord::new("bp", "after"))
                .await
                .unwrap();
            match d.await {
                Ok(m) => {
                    last = None;
                    assert_eq!(m.partition, 0);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        assert!(
            last.is_none(),
            "no delivery after the broker came back: {last:?}"
        );
        eprintln!("recovered in {:?}", start.elapsed());
        producer.close(Duration::from_secs(5)).await.unwrap();
    })
    .await
    .expect("in time");
}
