//! Sends records to a topic and prints where each batch of them landed.
//!
//! ```text
//! cargo run --example produce -- --bootstrap 127.0.0.1:9092 --topic events --count 1000
//! cargo run --example produce -- --bootstrap 127.0.0.1:9092 --topic events \
//!     --compression zstd --transactional-id demo-tx
//! ```
//!
//! Records get the key `key-<i % 10>` (so each key keeps its partition, as
//! with the Java client) and the value `value-<i>`. With `--transactional-id`
//! they are sent in one transaction, committed at the end.

use std::time::{Duration, Instant};

use rkafka::producer::{Compression, Producer, ProducerConfig, ProducerRecord};

struct Args {
    bootstrap: String,
    topic: String,
    count: usize,
    compression: Compression,
    transactional_id: Option<String>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        bootstrap: "127.0.0.1:9092".into(),
        topic: "rkafka-example".into(),
        count: 10,
        compression: Compression::None,
        transactional_id: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--bootstrap" => args.bootstrap = value()?,
            "--topic" => args.topic = value()?,
            "--count" => args.count = value()?.parse().map_err(|e| format!("--count: {e}"))?,
            "--compression" => {
                args.compression = match value()?.as_str() {
                    "none" => Compression::None,
                    "gzip" => Compression::Gzip,
                    "snappy" => Compression::Snappy,
                    "lz4" => Compression::Lz4,
                    "zstd" => Compression::Zstd,
                    other => return Err(format!("unknown codec {other}")),
                }
            }
            "--transactional-id" => args.transactional_id = Some(value()?),
            "-h" | "--help" => {
                return Err(
                    "usage: produce --bootstrap HOST:PORT [--topic T] [--count N] \
                            [--compression none|gzip|snappy|lz4|zstd] [--transactional-id ID]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other} (try --help)")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse()?;
    let cfg = ProducerConfig::builder()
        .bootstrap_servers(args.bootstrap.clone())
        .client_id("rkafka-example-produce")
        .compression(args.compression)
        .maybe_transactional_id(args.transactional_id.clone())
        .build();
    let producer = Producer::connect(cfg).await?;
    if args.transactional_id.is_some() {
        producer.init_transactions().await?;
        producer.begin_transaction().await?;
    }
    let start = Instant::now();
    let mut deliveries = Vec::with_capacity(args.count);
    for i in 0..args.count {
        let record = ProducerRecord::new(args.topic.clone(), format!("value-{i}"))
            .with_key(format!("key-{}", i % 10))
            .with_header("example", Some("produce.rs"));
        deliveries.push(producer.send(record).await?);
    }
    let mut failed = 0;
    for (i, d) in deliveries.into_iter().enumerate() {
        match d.await {
            Ok(m) if i < 10 || i + 1 == args.count => println!(
                "record {i}: partition {} offset {} timestamp {}",
                m.partition, m.offset, m.timestamp
            ),
            Ok(_) => {}
            Err(e) => {
                failed += 1;
                eprintln!("record {i} failed: {e}");
            }
        }
    }
    if args.transactional_id.is_some() {
        producer.commit_transaction().await?;
    }
    producer.close(Duration::from_secs(10)).await?;
    println!(
        "sent {} records ({failed} failed) to {} in {:?}",
        args.count,
        args.topic,
        start.elapsed()
    );
    if failed > 0 {
        return Err(format!("{failed} records failed").into());
    }
    Ok(())
}
