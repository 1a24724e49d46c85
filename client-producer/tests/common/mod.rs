//! Shared helpers of the producer's integration tests: starting the mock,
//! driving it without blocking the runtime, and reading partitions back
//! with raw Fetch requests (an independent path from the producer's).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use rkafka_client_core::{Client, ClientConfig};
use rkafka_client_producer::{Producer, ProducerConfig, ProducerRecord};
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

/// Sends one record to `topic` and waits for it: metadata, the connection
/// (and, in a transaction, the partition's place in it) are then settled.
pub async fn warm_up(producer: &Producer, topic: &str) {
    producer
        .send(ProducerRecord::new(topic.to_owned(), "warm"))
        .await
        .expect("accepted")
        .await
        .expect("delivered");
}

/// A transactional producer with `batch_size`, initialised and in a
/// transaction.
pub async fn in_transaction(bootstrap: &str, id: &str, batch_size: usize) -> Producer {
    let mut cfg = config(bootstrap);
    cfg.transactional_id = Some(id.to_owned());
    cfg.batch_size = batch_size;
    let producer = Producer::connect(cfg).await.unwrap();
    producer.init_transactions().await.unwrap();
    producer.begin_transaction().await.unwrap();
    producer
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

pub use rkafka_test_support::raw::Fetched;

/// Every record (and control marker) of `topic`/`partition`, in offset
/// order. CRC checks are off: the mock writes control batches with CRC 0.
pub async fn fetch_all(client: &Client, topic: &str, partition: i32) -> Vec<Fetched> {
    rkafka_test_support::raw::fetch_all(client, topic, partition, 0, false).await
}
