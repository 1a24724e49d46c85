//! A producer perf tool like Kafka's `kafka-producer-perf-test`.
//!
//! ```text
//! producer-perf run --client rkafka|rdkafka|rskafka --bootstrap HOST:PORT --topic T \
//!     --num-records N --record-size BYTES [--throughput MSGS_PER_SEC|-1] [--acks all|1|0] \
//!     [--partitions P]
//! producer-perf compare [--num-records N] [--record-size BYTES] [--acks all] [--throughput N] \
//!     [--repeat R]
//! ```
//!
//! `run` prints one `RESULT key=value ...` line: msgs/s, MB/s, latency
//! p50/p99/p99.9, CPU seconds and peak RSS of this process. `compare` starts
//! librdkafka's mock cluster (1 partition on 1 broker, then 6 partitions on
//! 3 brokers), runs each client as its own `run` process (`--repeat` times,
//! the clients taking turns, and reports each client's median run) and
//! prints a Markdown table with the ratios.

use rkafka_perf::{clients, compare, cpu_seconds, peak_rss_kib, Workload};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let mut opts = std::collections::HashMap::new();
    while let Some(k) = args.next() {
        let v = args.next().unwrap_or_else(|| panic!("{k} needs a value"));
        opts.insert(k.trim_start_matches("--").to_owned(), v);
    }
    let get = |k: &str, default: &str| opts.get(k).cloned().unwrap_or_else(|| default.to_owned());
    let num = |k: &str, default: &str| -> usize {
        get(k, default)
            .parse()
            .unwrap_or_else(|e| panic!("--{k}: {e}"))
    };
    match mode.as_str() {
        "run" => {
            let throughput: i64 = get("throughput", "-1").parse().expect("--throughput");
            let w = Workload {
                bootstrap: get("bootstrap", "127.0.0.1:9092"),
                topic: get("topic", "perf"),
                num_records: num("num-records", "1000000"),
                record_size: num("record-size", "100"),
                throughput: (throughput > 0).then_some(throughput as u64),
                acks: get("acks", "all"),
                partitions: num("partitions", "1") as i32,
            };
            let client = get("client", "rkafka");
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let mut report = match client.as_str() {
                "rkafka" => rt.block_on(clients::rkafka::run(&w)),
                "rdkafka" => clients::rdkafka_peer::run(&w),
                "rskafka" => rt.block_on(clients::rskafka_peer::run(&w)),
                other => panic!("unknown client {other}"),
            };
            report.cpu_seconds = cpu_seconds();
            report.peak_rss_kib = peak_rss_kib();
            println!("{}", report.line(w.record_size));
        }
        "compare" => {
            let md = compare::run(
                num("num-records", "2000000"),
                num("record-size", "100"),
                &get("acks", "all"),
                get("throughput", "-1").parse().expect("--throughput"),
                num("repeat", "1"),
            );
            println!("{md}");
        }
        _ => {
            eprintln!(
                "usage: producer-perf run|compare [--option value]... (see the source header)"
            );
            std::process::exit(2);
        }
    }
}
