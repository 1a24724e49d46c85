//! rkafka's producer.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rkafka_client_producer::{Acks, DeliveryFuture, Producer, ProducerConfig, ProducerRecord};
use tokio::sync::mpsc;

use crate::{Pacer, Report, Workload};

/// Latency is measured on one record in this many (the others' delivery
/// futures are dropped; records are delivered all the same).
const SAMPLE: usize = 16;

pub async fn run(w: &Workload) -> Report {
    let acks = match w.acks.as_str() {
        "0" => Acks::None,
        "1" => Acks::Leader,
        _ => Acks::All,
    };
    let cfg = ProducerConfig::builder()
        .bootstrap_servers(w.bootstrap.clone())
        .client_id("rkafka-perf")
        .acks(acks)
        // librdkafka's default batch.size, which the other two get too.
        .batch_size(1_000_000)
        .build();
    let producer = Producer::connect(cfg).await.expect("connect");
    let topic: std::sync::Arc<str> = w.topic.clone().into();
    let value = Bytes::from(vec![b'x'; w.record_size]);
    // Warm up metadata and connections outside the measured window.
    producer
        .send(ProducerRecord::new(&*topic, &value))
        .await
        .expect("warm-up send")
        .await
        .expect("warm-up delivery");

    // Deliveries are awaited in order by a collector task, which notes
    // each record's latency.
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, DeliveryFuture)>();
    let collector = tokio::spawn(async move {
        let mut lat = Vec::new();
        let mut failed = 0usize;
        while let Some((sent, d)) = rx.recv().await {
            match d.await {
                Ok(_) => lat.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32),
                Err(_) => failed += 1,
            }
        }
        (lat, failed)
    });
    let pacer = Pacer::new(w.throughput);
    let start = Instant::now();
    for i in 0..w.num_records {
        if let Some(d) = pacer.delay(i as u64) {
            tokio::time::sleep(d).await;
        }
        // Borrowed: send copies the bytes into the batch.
        let record = ProducerRecord::new(&*topic, &value);
        if i % SAMPLE == 0 {
            let sent = Instant::now();
            let d = producer.send(record).await.expect("send");
            let _ = tx.send((sent, d));
        } else {
            // Not awaited: the record is delivered all the same (close
            // below waits for it); failures would show in the sampled ones
            // and in close.
            drop(producer.send(record).await.expect("send"));
        }
    }
    drop(tx);
    producer.flush().await.expect("flush");
    let elapsed = start.elapsed();
    let (latencies_us, failed) = collector.await.expect("collector");
    assert_eq!(failed, 0, "rkafka: {failed} records failed");
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
    Report {
        client: "rkafka".into(),
        records: w.num_records,
        elapsed,
        latencies_us,
        ..Report::default()
    }
}
