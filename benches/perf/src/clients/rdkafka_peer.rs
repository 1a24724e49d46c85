//! rust-rdkafka (librdkafka), with delivery callbacks on its own poll
//! thread (`ThreadedProducer`), the fastest way to drive it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use crate::{Pacer, Report, Workload};

struct Ctx {
    latencies: Mutex<Vec<u32>>,
    failed: Mutex<usize>,
}

impl ClientContext for Ctx {}

impl ProducerContext for Ctx {
    type DeliveryOpaque = Box<Instant>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: Box<Instant>) {
        match result {
            Ok(_) => self
                .latencies
                .lock()
                .unwrap()
                .push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32),
            Err(_) => *self.failed.lock().unwrap() += 1,
        }
    }
}

pub fn run(w: &Workload) -> Report {
    let ctx = Ctx {
        latencies: Mutex::new(Vec::with_capacity(w.num_records)),
        failed: Mutex::new(0),
    };
    let producer: ThreadedProducer<Ctx> = ClientConfig::new()
        .set("bootstrap.servers", &w.bootstrap)
        .set("client.id", "rdkafka-perf")
        .set("acks", &w.acks)
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .create_with_context(ctx)
        .expect("rdkafka producer");
    let value = vec![b'x'; w.record_size];
    let pacer = Pacer::new(w.throughput);
    let start = Instant::now();
    for i in 0..w.num_records {
        if let Some(d) = pacer.delay(i as u64) {
            std::thread::sleep(d);
        }
        let mut record =
            BaseRecord::with_opaque_to(&w.topic, Box::new(Instant::now())).payload(&value);
        loop {
            match producer.send::<(), Vec<u8>>(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err((e, _)) => panic!("rdkafka send: {e}"),
            }
        }
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    let elapsed = start.elapsed();
    let ctx = producer.context();
    assert_eq!(*ctx.failed.lock().unwrap(), 0, "rdkafka: records failed");
    let latencies_us = std::mem::take(&mut *ctx.latencies.lock().unwrap());
    Report {
        client: "rdkafka".into(),
        records: w.num_records,
        elapsed,
        latencies_us,
        ..Report::default()
    }
}
