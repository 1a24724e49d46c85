//! Shared helpers of the producer's integration tests: starting the mock,
//! driving it without blocking the runtime, and reading partitions back
//! with raw Fetch requests (an independent path from the producer's).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use rkafka_client_core::{Client, ClientConfig, Target};
use rkafka_client_producer::ProducerConfig;
use rkafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use rkafka_protocol::messages::{FetchRequest, FetchResponse};
use rkafka_protocol::records::{ControlRecord, DecodeOptions, FetchBatches};
use rkafka_protocol::ErrorCode;
use rkafka_tests::{MockCluster, MockConfig};

/// Starts a mock cluster (shared with tasks that drive it).
pub fn mock(config: MockConfig) -> Arc<MockCluster> {
    Arc::new(MockCluster::start(config).unwrap_or_else(|e| panic!("{e}")))
}

/// Runs one mock control command off the runtime's threads.
pub async fn control(mock: &Arc<MockCluster>, command: &str) {
    let (mock, command) = (Arc::clone(mock), command.to_owned());
    tokio::task::spawn_blocking(move || mock.control(&command))
        .await
        .expect("the control thread")
        .unwrap_or_else(|e| panic!("{e}"));
}

/// A producer config with short timeouts suited to a local mock.
pub fn config(bootstrap: &str) -> ProducerConfig {
    let connection = rkafka_client_core::config::ConnectionConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .reconnect_backoff(Duration::from_millis(20))
        .reconnect_backoff_max(Duration::from_millis(200))
        .build();
    ProducerConfig::builder()
        .bootstrap_servers(bootstrap)
        .client_id("rkafka-producer-test")
        .retry_backoff(Duration::from_millis(20))
        .retry_backoff_max(Duration::from_millis(200))
        .request_timeout(Duration::from_secs(5))
        .connection(connection)
        .build()
}

/// A core client for reading back.
pub async fn reader(bootstrap: &str) -> Client {
    let cfg = ClientConfig::builder()
        .bootstrap_servers(bootstrap)
        .retry_backoff(Duration::from_millis(20))
        .retry_backoff_max(Duration::from_millis(200))
        .default_api_timeout(Duration::from_secs(30))
        .build();
    Client::connect(cfg).await.expect("reader client")
}

/// One record read back.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub transactional: bool,
    /// `Some(true)` commit marker, `Some(false)` abort marker.
    pub control: Option<bool>,
    pub producer_id: i64,
    pub base_sequence: i32,
}

fn fetch_error(r: &FetchResponse) -> ErrorCode {
    std::iter::once(r.error_code)
        .chain(
            r.responses
                .iter()
                .flat_map(|t| &t.partitions)
                .map(|p| p.error_code),
        )
        .map(ErrorCode)
        .find(|c| *c != ErrorCode::NONE)
        .unwrap_or(ErrorCode::NONE)
}

/// Every record (and control marker) of `topic`/`partition`, in offset
/// order. CRC checks are off: the mock writes control batches with CRC 0.
pub async fn fetch_all(client: &Client, topic: &str, partition: i32) -> Vec<Fetched> {
    let md = client.refresh_metadata(&[topic.to_owned()]).await.unwrap();
    let id = md.topic(topic).expect("topic").id;
    let mut out = Vec::new();
    let mut next = 0i64;
    let opts = DecodeOptions {
        verify_crc: false,
        ..DecodeOptions::default()
    };
    loop {
        let build = |version: i16| {
            let t = if version >= 13 {
                FetchTopic::default().with_topic_id(id)
            } else {
                FetchTopic::default().with_topic(topic.to_owned())
            };
            Ok(FetchRequest::default()
                .with_max_wait_ms(50)
                .with_min_bytes(1)
                .with_max_bytes(8 << 20)
                .with_topics(vec![t.with_partitions(vec![FetchPartition::default()
                    .with_partition(partition)
                    .with_fetch_offset(next)
                    .with_partition_max_bytes(8 << 20)])]))
        };
        let resp = client
            .send_built(Target::leader(topic, partition), build, fetch_error)
            .await
            .expect("fetch");
        assert_eq!(fetch_error(&resp), ErrorCode::NONE, "{resp:?}");
        let p = &resp.responses[0].partitions[0];
        let before = next;
        for b in FetchBatches::with_options(p.records.clone().unwrap_or_default(), opts) {
            let b = b.expect("batch");
            let control = if b.header.is_control() {
                b.control_record()
                    .map(|c| c.expect("control record").is_commit())
            } else {
                None
            };
            for r in b.records() {
                if r.offset() < next {
                    continue;
                }
                out.push(Fetched {
                    offset: r.offset(),
                    timestamp: r.timestamp(),
                    key: r.key().map(<[u8]>::to_vec),
                    value: r.value().map(<[u8]>::to_vec),
                    headers: r
                        .headers()
                        .map(|h| {
                            (
                                String::from_utf8_lossy(h.key()).into_owned(),
                                h.value().map(<[u8]>::to_vec),
                            )
                        })
                        .collect(),
                    transactional: b.header.is_transactional(),
                    control,
                    producer_id: b.header.producer_id,
                    base_sequence: b.header.base_sequence,
                });
            }
            next = next.max(b.header.next_offset());
        }
        if next >= p.high_watermark {
            return out;
        }
        assert!(next > before, "fetch made no progress at offset {next}");
    }
}

/// Whether a control record parses as a marker (used to keep the import).
pub fn is_marker(c: &ControlRecord) -> bool {
    c.is_commit() || c.is_abort()
}
