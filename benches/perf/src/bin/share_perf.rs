//! Share-consume 100,000 records of 100 bytes from librdkafka's mock
//! cluster with 1 and 2 consumers while they are produced, for rkafka and
//! for confluent_kafka.ShareConsumer, in the same run: records/s and the
//! consumers' CPU seconds.
//!
//! The producer runs on its own OS thread (own runtime) and keeps the
//! backlog under `BACKLOG` records: the mock keeps only ~5 MiB per
//! partition and its share path slows down with a deep backlog. Its CPU is
//! measured on that thread and left out of rkafka's figure; confluent_kafka
//! consumers run in their own processes, which report their own CPU.
//!
//! `cargo run --release --bin share_perf [-- RECORDS]` (from benches/perf).

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rkafka_client_consumer::{AcknowledgementMode, ShareConsumer, ShareConsumerConfig};
use rkafka_client_core::{Client, ClientConfig, Target};
use rkafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use rkafka_protocol::messages::ProduceRequest;
use rkafka_protocol::records::{NewRecord, RecordBatchBuilder};
use rkafka_tests::{venv_python, MockCluster, MockConfig};

const VALUE: usize = 100;
const PARTITIONS: i32 = 2;
const BACKLOG: usize = 20_000;
const PER_REQUEST: usize = 500;

/// Process CPU seconds (utime + stime) of `/proc/<what>/stat`.
fn cpu_seconds(what: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{what}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at ')'.
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    ticks / 100.0 // USER_HZ is 100 on Linux
}

struct Run {
    client: &'static str,
    consumers: usize,
    seconds: f64,
    cpu: f64,
    distinct: usize,
    deliveries: usize,
}

/// Produces `n` records into `topic` round-robin over the partitions,
/// keeping `produced - consumed() <= BACKLOG`. Returns its thread's CPU.
fn spawn_producer(
    bootstrap: String,
    topic: String,
    n: usize,
    consumed: Arc<dyn Fn() -> usize + Send + Sync>,
    started: Arc<Mutex<Option<Instant>>>,
) -> std::thread::JoinHandle<f64> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let cfg = ClientConfig::builder().bootstrap_servers(bootstrap).build();
            let client = Client::connect(cfg).await.expect("producer connect");
            let value = vec![b'x'; VALUE];
            *started.lock().unwrap() = Some(Instant::now());
            let mut produced = 0;
            let mut part = 0;
            while produced < n {
                while produced > consumed() + BACKLOG {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                let k = PER_REQUEST.min(n - produced);
                let mut b = RecordBatchBuilder::new();
                for _ in 0..k {
                    b.push(&NewRecord {
                        timestamp: 0,
                        key: None,
                        value: Some(&value),
                        headers: &[],
                    })
                    .unwrap();
                }
                let req = ProduceRequest::default()
                    .with_acks(1)
                    .with_timeout_ms(5000)
                    .with_topic_data(vec![TopicProduceData::default()
                        .with_name(topic.clone())
                        .with_partition_data(vec![PartitionProduceData::default()
                            .with_index(part)
                            .with_records(Some(b.finish().unwrap()))])]);
                client
                    .send(Target::leader(topic.clone(), part), req)
                    .await
                    .expect("produce");
                produced += k;
                part = (part + 1) % PARTITIONS;
            }
        });
        cpu_seconds("thread-self")
    })
}

async fn run_rkafka(mock: &MockCluster, n: usize, consumers: usize, tag: &str) -> Run {
    let topic = format!("perf-{tag}");
    let group = format!("g-{tag}");
    mock.control(&format!("topic {topic} {PARTITIONS} 1"))
        .unwrap();
    let seen: Arc<Mutex<HashSet<(i32, i64)>>> = Arc::default();
    let deliveries = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for _ in 0..consumers {
        let cfg = ShareConsumerConfig::builder()
            .bootstrap(mock.bootstrap())
            .group_id(group.clone())
            .topics(vec![topic.clone()])
            .acknowledgement_mode(AcknowledgementMode::Implicit)
            .max_poll_records(1000)
            .fetch_max_wait(Duration::from_millis(100))
            .build();
        let mut c = ShareConsumer::connect(cfg).await.expect("connect");
        let (seen, deliveries, stop) = (seen.clone(), deliveries.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let records = c.poll(Duration::from_millis(100)).await.expect("poll");
                if records.is_empty() {
                    continue;
                }
                deliveries.fetch_add(records.len(), Ordering::Relaxed);
                // One lock per batch: the union decides when all arrived.
                seen.lock()
                    .unwrap()
                    .extend(records.iter().map(|r| (r.partition, r.offset)));
            }
            c.close(Duration::from_secs(5)).await;
        }));
    }
    wait_members(mock, &group, consumers).await;
    let cpu0 = cpu_seconds("self");
    let started = Arc::new(Mutex::new(None));
    let d2 = deliveries.clone();
    let producer = spawn_producer(
        mock.bootstrap().to_owned(),
        topic,
        n,
        Arc::new(move || d2.load(Ordering::Relaxed)),
        started.clone(),
    );
    let deadline = Instant::now() + Duration::from_secs(300);
    while seen.lock().unwrap().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let end = Instant::now();
    let cpu1 = cpu_seconds("self");
    stop.store(true, Ordering::Relaxed);
    let producer_cpu = producer.join().unwrap();
    for h in handles {
        let _ = h.await;
    }
    let t0 = started.lock().unwrap().expect("producer started");
    let distinct = seen.lock().unwrap().len();
    Run {
        client: "rkafka",
        consumers,
        seconds: (end - t0).as_secs_f64(),
        cpu: (cpu1 - cpu0 - producer_cpu).max(0.0),
        distinct,
        deliveries: deliveries.load(Ordering::Relaxed),
    }
}

const PEER: &str = r#"
import os, resource, sys, time
from confluent_kafka import ShareConsumer
bs, group, topic, stop = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
c = ShareConsumer({"bootstrap.servers": bs, "group.id": group,
                   "share.acknowledgement.mode": "implicit", "max.poll.records": 1000,
                   "log_level": 3})
c.subscribe([topic])
cpu0 = time.process_time()
while not os.path.exists(stop):
    batch = [(m.partition(), m.offset()) for m in c.poll(0.1) if not m.error()]
    if batch:
        # Contiguous runs as p:first-last, one line per batch.
        batch.sort()
        runs, (p0, a), b = [], batch[0], batch[0][1]
        for p, o in batch[1:]:
            if p == p0 and o == b + 1:
                b = o
            else:
                runs.append(f"{p0}:{a}-{b}")
                p0, a, b = p, o, o
        runs.append(f"{p0}:{a}-{b}")
        print(f"R {len(batch)} " + " ".join(runs), flush=True)
cpu = time.process_time() - cpu0
c.close()
print(f"CPU {cpu}", flush=True)
"#;

async fn run_confluent(mock: &MockCluster, n: usize, consumers: usize, tag: &str) -> Run {
    let topic = format!("perf-{tag}");
    let group = format!("g-{tag}");
    mock.control(&format!("topic {topic} {PARTITIONS} 1"))
        .unwrap();
    let stop_file =
        std::env::temp_dir().join(format!("share-perf-stop-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_file(&stop_file);
    let seen: Arc<Mutex<HashSet<(i32, i64)>>> = Arc::default();
    let deliveries = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::new();
    for _ in 0..consumers {
        let mut child = Command::new(venv_python().expect("the venv (just peers)"))
            .arg("-c")
            .arg(PEER)
            .args([
                mock.bootstrap(),
                &group,
                &topic,
                stop_file.to_str().unwrap(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python");
        let out = child.stdout.take().unwrap();
        let (seen, deliveries) = (seen.clone(), deliveries.clone());
        readers.push(std::thread::spawn(move || {
            let mut cpu = 0.0;
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("R ") {
                    let mut fields = rest.split(' ');
                    let k: usize = fields.next().and_then(|k| k.parse().ok()).unwrap_or(0);
                    let mut s = seen.lock().unwrap();
                    for run in fields {
                        let Some((p, range)) = run.split_once(':') else {
                            continue;
                        };
                        let Some((a, b)) = range.split_once('-') else {
                            continue;
                        };
                        let (Ok(p), Ok(a), Ok(b)) =
                            (p.parse::<i32>(), a.parse::<i64>(), b.parse::<i64>())
                        else {
                            continue;
                        };
                        s.extend((a..=b).map(|o| (p, o)));
                    }
                    drop(s);
                    deliveries.fetch_add(k, Ordering::Relaxed);
                } else if let Some(c) = line.strip_prefix("CPU ") {
                    cpu = c.trim().parse().unwrap_or(0.0);
                }
            }
            let _ = child.wait();
            cpu
        }));
    }
    wait_members(mock, &group, consumers).await;
    let started = Arc::new(Mutex::new(None));
    let d2 = deliveries.clone();
    let producer = spawn_producer(
        mock.bootstrap().to_owned(),
        topic,
        n,
        Arc::new(move || d2.load(Ordering::Relaxed)),
        started.clone(),
    );
    let deadline = Instant::now() + Duration::from_secs(300);
    while seen.lock().unwrap().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let end = Instant::now();
    std::fs::write(&stop_file, b"stop").unwrap();
    producer.join().unwrap();
    let cpu: f64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    let _ = std::fs::remove_file(&stop_file);
    let t0 = started.lock().unwrap().expect("producer started");
    let distinct = seen.lock().unwrap().len();
    Run {
        client: "confluent_kafka",
        consumers,
        seconds: (end - t0).as_secs_f64(),
        cpu,
        distinct,
        deliveries: deliveries.load(Ordering::Relaxed),
    }
}

/// Waits until the mock lists `n` members of `group` (plus a little for
/// the assignment to reach them), so production starts with consumers ready.
async fn wait_members(mock: &MockCluster, group: &str, n: usize) {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        let members = mock
            .control(&format!("share_members {group}"))
            .unwrap_or_default();
        if members.split_whitespace().count() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

/// With SHARE_PERF_TRACK set: requests per API key since the last call.
fn report_requests(mock: &MockCluster) {
    if std::env::var_os("SHARE_PERF_TRACK").is_none() {
        return;
    }
    let mut counts = std::collections::BTreeMap::new();
    for r in mock.requests().unwrap_or_default() {
        *counts.entry(r.api_key).or_insert(0) += 1;
    }
    eprintln!("  requests by api key: {counts:?}");
    let _ = mock.clear_requests();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let mut cfg = MockConfig::brokers(1);
    cfg.share_earliest = true;
    cfg.track_requests = std::env::var_os("SHARE_PERF_TRACK").is_some();
    let mock = MockCluster::start(cfg).expect("mock cluster (just peers)");
    mock.control("share_hb_ms 500").unwrap();
    println!("mock cluster: librdkafka {}", mock.librdkafka_version());
    let mut runs = Vec::new();
    for consumers in [1, 2] {
        let r = run_rkafka(&mock, n, consumers, &format!("rk{consumers}")).await;
        eprintln!("rkafka x{consumers}: {:.2}s", r.seconds);
        report_requests(&mock);
        runs.push(r);
        let r = run_confluent(&mock, n, consumers, &format!("ck{consumers}")).await;
        eprintln!("confluent_kafka x{consumers}: {:.2}s", r.seconds);
        report_requests(&mock);
        runs.push(r);
    }
    println!("\n{n} records of {VALUE} B, {PARTITIONS} partitions, produced while consumed (backlog <= {BACKLOG})\n");
    println!("| client | consumers | records/s | seconds | client CPU s | distinct | deliveries |");
    println!("|---|---|---|---|---|---|---|");
    for r in &runs {
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {} |",
            r.client,
            r.consumers,
            r.distinct as f64 / r.seconds,
            r.seconds,
            r.cpu,
            r.distinct,
            r.deliveries
        );
    }
}
