//! The comparison driver: one mock cluster per scenario, each client run
//! as its own process against it (so CPU time and peak RSS are that
//! client's alone), results printed as a Markdown table with ratios.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rkafka_tests::{MockCluster, MockConfig};

/// One client's parsed `RESULT` line.
pub type Fields = BTreeMap<String, String>;

/// How long one client run may take.
const CLIENT_LIMIT: Duration = Duration::from_secs(180);

pub const CLIENTS: [&str; 3] = ["rkafka", "rdkafka", "rskafka"];

/// Runs every client on every scenario; returns the Markdown report.
pub fn run(num_records: usize, record_size: usize, acks: &str, throughput: i64) -> String {
    let scenarios = [
        ("1 partition, 1 broker", 1usize, 1i32),
        ("6 partitions, 3 brokers", 3, 6),
    ];
    let exe = std::env::current_exe().expect("own path");
    let mut out = String::new();
    out.push_str(&format!(
        "{num_records} records of {record_size} bytes, acks={acks}, throughput limit {}, \
         linger 5 ms, librdkafka mock cluster; each client in its own process, run one after \
         another.\n\n",
        if throughput > 0 {
            format!("{throughput} msgs/s")
        } else {
            "none".to_owned()
        }
    ));
    for (name, brokers, partitions) in scenarios {
        let mock = MockCluster::start(MockConfig::brokers(brokers).topic(
            "perf",
            partitions,
            brokers as i32,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let mut results: Vec<Fields> = Vec::new();
        // PERF_CLIENTS=rkafka (comma-separated) runs only those: for quick
        // iteration and profiling; the published tables run all three.
        let only = std::env::var("PERF_CLIENTS").ok();
        for client in CLIENTS {
            if only
                .as_deref()
                .is_some_and(|o| !o.split(',').any(|c| c == client))
            {
                continue;
            }
            let mut child = Command::new(&exe)
                .args([
                    "run",
                    "--client",
                    client,
                    "--bootstrap",
                    mock.bootstrap(),
                    "--topic",
                    "perf",
                    "--num-records",
                    &num_records.to_string(),
                    "--record-size",
                    &record_size.to_string(),
                    "--acks",
                    acks,
                    "--partitions",
                    &partitions.to_string(),
                    "--throughput",
                    &throughput.to_string(),
                ])
                .stdout(Stdio::piped())
                .spawn()
                .expect("run a client");
            // A client that stalls must not stall the comparison.
            let deadline = Instant::now() + CLIENT_LIMIT;
            while child.try_wait().expect("wait").is_none() {
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let output = child.wait_with_output().expect("client output");
            let stdout = String::from_utf8_lossy(&output.stdout);
            let Some(line) = stdout.lines().find(|l| l.starts_with("RESULT ")) else {
                eprintln!("{name}: {client} gave no result within {CLIENT_LIMIT:?}");
                results.push(Fields::from([(
                    "client".to_owned(),
                    format!("{client} (no result)"),
                )]));
                continue;
            };
            eprintln!("{name}: {line}");
            results.push(parse(line));
        }
        out.push_str(&table(name, &results));
    }
    out
}

fn parse(line: &str) -> Fields {
    line.split_whitespace()
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn num(f: &Fields, k: &str) -> f64 {
    f.get(k).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

fn table(name: &str, rs: &[Fields]) -> String {
    let mut s = format!(
        "### {name}\n\n| client | msgs/s | MB/s | p50 ms | p99 ms | p99.9 ms | CPU s | CPU µs/msg | peak RSS MiB |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    );
    for r in rs {
        let records = num(r, "records");
        s.push_str(&format!(
            "| {} | {:.0} | {:.1} | {} | {} | {} | {:.2} | {:.3} | {:.1} |\n",
            r["client"],
            num(r, "msgs_per_sec"),
            num(r, "mb_per_sec"),
            r.get("p50_ms").map_or("-", String::as_str),
            r.get("p99_ms").map_or("-", String::as_str),
            r.get("p999_ms").map_or("-", String::as_str),
            num(r, "cpu_s"),
            num(r, "cpu_s") * 1e6 / records,
            num(r, "peak_rss_kib") / 1024.0,
        ));
    }
    let ours = &rs[0];
    for other in &rs[1..] {
        s.push_str(&format!(
            "\nrkafka vs {}: {:.2}x msgs/s, {:.2}x CPU per message, peak RSS {:+.1} MiB",
            other["client"],
            num(ours, "msgs_per_sec") / num(other, "msgs_per_sec"),
            (num(ours, "cpu_s") / num(ours, "records"))
                / (num(other, "cpu_s") / num(other, "records")),
            (num(ours, "peak_rss_kib") - num(other, "peak_rss_kib")) / 1024.0,
        ));
    }
    s.push_str("\n\n");
    s
}
