//! Shared helpers of the perf tools: arguments, process statistics from
//! /proc, latency percentiles and the one-line result format the
//! comparison driver parses.

use std::time::Duration;

pub mod clients;
pub mod compare;

/// One producer run's settings (Kafka's producer-perf-test options).
#[derive(Debug, Clone)]
pub struct Workload {
    pub bootstrap: String,
    pub topic: String,
    pub num_records: usize,
    pub record_size: usize,
    /// Records per second; `None` is unlimited.
    pub throughput: Option<u64>,
    /// "all", "1" or "0".
    pub acks: String,
    pub partitions: i32,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub client: String,
    pub records: usize,
    pub elapsed: Duration,
    pub latencies_us: Vec<u32>,
    pub cpu_seconds: f64,
    pub peak_rss_kib: u64,
}

impl Report {
    pub fn msgs_per_sec(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64()
    }

    /// The line the comparison driver reads back.
    pub fn line(&self, record_size: usize) -> String {
        let mut l = self.latencies_us.clone();
        l.sort_unstable();
        let pct = |p: f64| -> f64 {
            if l.is_empty() {
                return f64::NAN;
            }
            let i = ((l.len() as f64 * p).ceil() as usize).clamp(1, l.len()) - 1;
            f64::from(l[i]) / 1000.0
        };
        format!(
            "RESULT client={} records={} secs={:.3} msgs_per_sec={:.0} mb_per_sec={:.2} \
             p50_ms={:.2} p99_ms={:.2} p999_ms={:.2} cpu_s={:.3} peak_rss_kib={}",
            self.client,
            self.records,
            self.elapsed.as_secs_f64(),
            self.msgs_per_sec(),
            self.msgs_per_sec() * record_size as f64 / 1e6,
            pct(0.50),
            pct(0.99),
            pct(0.999),
            self.cpu_seconds,
            self.peak_rss_kib,
        )
    }
}

/// User + system CPU seconds of this process so far (Linux; clock ticks of
/// 1/100 s, the kernel's USER_HZ).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident set size of this process in KiB (VmHWM).
pub fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Holds a run to `throughput` records per second.
pub struct Pacer {
    start: std::time::Instant,
    per_sec: Option<u64>,
}

impl Pacer {
    pub fn new(per_sec: Option<u64>) -> Self {
        Self {
            start: std::time::Instant::now(),
            per_sec,
        }
    }

    /// How long to wait before record `sent` may go.
    pub fn delay(&self, sent: u64) -> Option<Duration> {
        let rate = self.per_sec?;
        let due = Duration::from_secs_f64(sent as f64 / rate as f64);
        due.checked_sub(self.start.elapsed())
            .filter(|d| *d > Duration::from_millis(1))
    }
}
