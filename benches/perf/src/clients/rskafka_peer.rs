//! rskafka: one `BatchProducer` per partition (it has no partitioner),
//! records spread round-robin, produce futures polled together.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use rskafka::client::partition::UnknownTopicHandling;
use rskafka::client::producer::aggregator::RecordAggregator;
use rskafka::client::producer::BatchProducerBuilder;
use rskafka::client::ClientBuilder;
use rskafka::record::Record;

use crate::{Pacer, Report, Workload};

/// Produce futures outstanding at once: enough to fill every batch.
const WINDOW: usize = 50_000;

pub async fn run(w: &Workload) -> Report {
    let brokers = w.bootstrap.split(',').map(str::to_owned).collect();
    let client = ClientBuilder::new(brokers)
        .build()
        .await
        .expect("rskafka client");
    let mut producers = Vec::new();
    for p in 0..w.partitions {
        let pc = client
            .partition_client(w.topic.clone(), p, UnknownTopicHandling::Retry)
            .await
            .expect("partition client");
        producers.push(
            BatchProducerBuilder::new(Arc::new(pc))
                .with_linger(Duration::from_millis(5))
                .build(RecordAggregator::new(1024 * 1024)),
        );
    }
    let value = vec![b'x'; w.record_size];
    let pacer = Pacer::new(w.throughput);
    let mut latencies_us = Vec::with_capacity(w.num_records);
    let mut pending = FuturesUnordered::new();
    let start = Instant::now();
    for i in 0..w.num_records {
        if let Some(d) = pacer.delay(i as u64) {
            tokio::time::sleep(d).await;
        }
        while pending.len() >= WINDOW {
            let lat: u32 = pending.next().await.expect("pending");
            latencies_us.push(lat);
        }
        let producer = &producers[i % producers.len()];
        let record = Record {
            key: None,
            value: Some(value.clone()),
            headers: Default::default(),
            timestamp: now(),
        };
        let sent = Instant::now();
        pending.push(async move {
            producer.produce(record).await.expect("rskafka produce");
            sent.elapsed().as_micros().min(u32::MAX as u128) as u32
        });
        // Poll the new future now, so its record joins the open batch
        // (futures are lazy), taking any finished ones along.
        while let Some(Some(lat)) = futures_util::FutureExt::now_or_never(pending.next()) {
            latencies_us.push(lat);
        }
    }
    while let Some(lat) = pending.next().await {
        latencies_us.push(lat);
    }
    Report {
        client: "rskafka".into(),
        records: w.num_records,
        elapsed: start.elapsed(),
        latencies_us,
        ..Report::default()
    }
}

/// The current time as rskafka wants it (its chrono has no clock feature).
fn now() -> rskafka::chrono::DateTime<rskafka::chrono::Utc> {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    rskafka::chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
