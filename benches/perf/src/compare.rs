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

/// Runs every client on every scenario, `repeat` times with the clients
/// taking turns (so a change in the machine's load falls on all of them),
/// and reports each client's median run; returns the Markdown report.
pub fn run(
    num_records: usize,
    record_size: usize,
    acks: &str,
    throughput: i64,
    repeat: usize,
) -> String {
    let repeat = repeat.max(1);
    let scenarios = [
        ("1 partition, 1 broker", 1usize, 1i32),
        ("6 partitions, 3 brokers", 3, 6),
    ];
    let exe = std::env::current_exe().expect("own path");
    let mut out = String::new();
    out.push_str(&format!(
        "{num_records} records of {record_size} bytes, acks={acks}, throughput limit {}, \
         linger 5 ms, librdkafka mock cluster; each client in its own process, run one after \
         another{}.\n\n",
        if throughput > 0 {
            format!("{throughput} msgs/s")
        } else {
            "none".to_owned()
        },
        if repeat > 1 {
            format!(", {repeat} rounds with the clients taking turns; each row is that client's median run")
        } else {
            String::new()
        }
    ));
    for (name, brokers, partitions) in scenarios {
        let mut runs: BTreeMap<&str, Vec<Fields>> = BTreeMap::new();
        // PERF_CLIENTS=rkafka (comma-separated) runs only those: for quick
        // iteration and profiling; the published tables run all three.
        let only = std::env::var("PERF_CLIENTS").ok();
        for _ in 0..repeat {
            for client in CLIENTS {
                if only
                    .as_deref()
                    .is_some_and(|o| !o.split(',').any(|c| c == client))
                {
                    continue;
                }
                // A fresh mock for every run: it keeps every record in
                // memory, and each client should meet the same broker.
                let mock = MockCluster::start(MockConfig::brokers(brokers).topic(
                    "perf",
                    partitions,
                    brokers as i32,
                ))
                .unwrap_or_else(|e| panic!("{e}"));
                let result = run_client(
                    &exe,
                    client,
                    &mock,
                    name,
                    partitions,
                    num_records,
                    record_size,
                    acks,
                    throughput,
                );
                runs.entry(client).or_default().push(result);
            }
        }
        let mut results: Vec<Fields> = Vec::new();
        let mut spread = String::new();
        for client in CLIENTS {
            let Some(mut rs) = runs.remove(client) else {
                continue;
            };
            rs.sort_by(|a, b| num(a, "msgs_per_sec").total_cmp(&num(b, "msgs_per_sec")));
            if rs.len() > 1 {
                spread.push_str(&format!(
                    "\n{client} runs: {} msgs/s",
                    rs.iter()
                        .map(|r| format!("{:.0}", num(r, "msgs_per_sec")))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            results.push(rs.swap_remove(rs.len() / 2));
        }
        out.push_str(&table(name, &results));
        if !spread.is_empty() {
            out.push_str(spread.trim_start());
            out.push_str("\n\n");
        }
    }
    out
}

/// Runs one client once against `mock`; its parsed `RESULT` line, or a
/// row saying it gave none.
#[allow(clippy::too_many_arguments)]
fn run_client(
    exe: &std::path::Path,
    client: &str,
    mock: &MockCluster,
    name: &str,
    partitions: i32,
    num_records: usize,
    record_size: usize,
    acks: &str,
    throughput: i64,
) -> Fields {
    let mut child = Command::new(exe)
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
        return Fields::from([("client".to_owned(), format!("{client} (no result)"))]);
    };
    eprintln!("{name}: {line}");
    parse(line)
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
