//! The producer checked against independent implementations: the
//! partitions librdkafka's `murmur2_random` partitioner (Java's formula)
//! picks, and every codec's batches read back by `confluent_kafka` from the
//! mock cluster and from Tansu.

mod common;

use std::time::Duration;

use common::{config, mock};
use rkafka_client_core::admin::{Admin, NewTopic};
use rkafka_client_core::ClientConfig;
use rkafka_client_producer::partitioner::key_partition;
use rkafka_client_producer::{Compression, Producer, ProducerRecord};
use rkafka_tests::{run_python, MockConfig, Tansu};

/// Deterministic varied keys: empty, short, long, binary and text.
fn keys(n: usize) -> Vec<Vec<u8>> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = vec![Vec::new(), b"a".to_vec(), b"21".to_vec()];
    while out.len() < n {
        let len = (next() % 70) as usize;
        if next() % 3 == 0 {
            out.push(format!("user-{}", next() % 1_000_000).into_bytes());
        } else {
            out.push((0..len).map(|_| next() as u8).collect());
        }
    }
    out
}

/// For each hex key (one per line of the file argv[1]), the partition
/// librdkafka's murmur2_random partitioner gives for 1..=100 partitions.
const PARTITIONS_PY: &str = r#"
import ctypes, glob, os, sys
import confluent_kafka
site = os.path.dirname(os.path.dirname(confluent_kafka.__file__))
lib = ctypes.CDLL(sorted(glob.glob(os.path.join(site, "confluent_kafka.libs", "librdkafka-*.so*")))[0])
f = lib.rd_kafka_msg_partitioner_murmur2_random
f.restype = ctypes.c_int32
f.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p]
out = []
for line in open(sys.argv[1]):
    k = bytes.fromhex(line.strip())
    # A non-NULL pointer even for the empty key: NULL means "no key" (random).
    buf = ctypes.create_string_buffer(k, len(k) + 1)
    out.append(" ".join(str(f(None, buf, len(k), n, None, None)) for n in range(1, 101)))
print("\n".join(out))
"#;

#[test]
fn keyed_partitions_match_librdkafka_murmur2_random() {
    let keys = keys(10_000);
    let dir = std::env::temp_dir().join(format!("rkafka-partitions-{}", std::process::id()));
    let hex: Vec<String> = keys
        .iter()
        .map(|k| k.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    std::fs::write(&dir, hex.join("\n") + "\n").unwrap();
    let out = run_python(
        PARTITIONS_PY,
        &[dir.to_str().unwrap()],
        Duration::from_secs(120),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_file(&dir);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), keys.len());
    for (key, line) in keys.iter().zip(lines) {
        let theirs: Vec<i32> = line.split(' ').map(|x| x.parse().unwrap()).collect();
        let ours: Vec<i32> = (1..=100).map(|n| key_partition(key, n)).collect();
        assert_eq!(ours, theirs, "key {key:?}");
    }
}

/// Reads `count` records from partition 0 of `topic` with confluent_kafka
/// and prints how many matched `k<i>`/`v<i>` in order.
const CONSUME_PY: &str = r#"
import sys, time
from confluent_kafka import Consumer, TopicPartition
bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "rkafka-producer-test",
              "enable.auto.commit": False})
c.assign([TopicPartition(topic, 0, 0)])
got, deadline = [], time.time() + 30
while len(got) < count and time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        sys.exit(f"consume error: {m.error()}")
    got.append((m.key(), m.value(), m.headers()))
c.close()
want = [(b"k%d" % i, b"v%d" % i * 5, [("h", b"%d" % i)]) for i in range(count)]
print("MATCHED", sum(1 for a, b in zip(got, want) if a == b), "OF", len(got))
"#;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

async fn produce_codec(bootstrap: &str, topic: &str, codec: Compression, count: usize) {
    let mut cfg = config(bootstrap);
    cfg.compression = codec;
    let producer = Producer::connect(cfg).await.unwrap();
    let mut deliveries = Vec::new();
    for i in 0..count {
        let r = ProducerRecord::new(topic.to_owned(), format!("v{i}").repeat(5))
            .with_key(format!("k{i}"))
            .with_partition(0)
            .with_header("h", Some(i.to_string()));
        deliveries.push(producer.send(r).await.unwrap());
    }
    for d in deliveries {
        d.await.unwrap_or_else(|e| panic!("{codec:?}: {e}"));
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
}

fn consume_check(bootstrap: &str, topic: &str, count: usize, codec: Compression) {
    let out = run_python(
        CONSUME_PY,
        &[bootstrap, topic, &count.to_string()],
        Duration::from_secs(60),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let want = format!("MATCHED {count} OF {count}");
    assert!(out.contains(&want), "{codec:?} on {topic}: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_is_read_by_confluent_kafka_from_the_mock() {
    rkafka_tests::skip_if_external!("writes fresh topics on the mock");
    let config = CODECS.iter().fold(MockConfig::brokers(1), |c, codec| {
        c.topic(&format!("codec-{}", codec.name()), 1, 1)
    });
    let mock = mock(config);
    for codec in CODECS {
        let topic = format!("codec-{}", codec.name());
        produce_codec(mock.bootstrap(), &topic, codec, 2000).await;
        let (b, t) = (mock.bootstrap().to_owned(), topic.clone());
        tokio::task::spawn_blocking(move || consume_check(&b, &t, 2000, codec))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_is_read_by_confluent_kafka_from_tansu() {
    rkafka_tests::skip_if_external!("starts its own Tansu");
    let tansu = Tansu::start().unwrap_or_else(|e| panic!("{e}"));
    let admin = Admin::connect(
        ClientConfig::builder()
            .bootstrap_servers(tansu.bootstrap())
            .default_api_timeout(Duration::from_secs(20))
            .build(),
    )
    .await
    .expect("admin");
    for codec in CODECS {
        let topic = format!("codec-{}", codec.name());
        admin
            .create_topics(&[NewTopic::new(topic.clone(), 1, 1)], false)
            .await
            .expect("create topic");
        produce_codec(&tansu.bootstrap(), &topic, codec, 500).await;
        let (b, t) = (tansu.bootstrap(), topic.clone());
        tokio::task::spawn_blocking(move || consume_check(&b, &t, 500, codec))
            .await
            .unwrap();
    }
}
