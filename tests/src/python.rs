//! The venv's Python with `confluent_kafka` (librdkafka 2.16) as a cross-check client.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::paths::venv_python;
use crate::HarnessError;

/// Runs `code` (`python -c code args...`, so the arguments are `sys.argv[1:]`) with the
/// venv's Python and returns its stdout. A non-zero exit is [`HarnessError::Failed`]
/// and running past `timeout` is [`HarnessError::Timeout`] (the process is killed);
/// both carry its stderr.
pub fn run_python(code: &str, args: &[&str], timeout: Duration) -> Result<String, HarnessError> {
    let mut command = Command::new(venv_python()?);
    command
        .arg("-c")
        .arg(code)
        .args(args)
        .stdin(Stdio::null())
        // Python buffers stdout when it is a pipe (run_to_end pipes it); all of it is
        // read at exit anyway.
        .env("PYTHONUNBUFFERED", "1");
    crate::process::run_to_end("the Python snippet", command, timeout)
}

/// Produces `count` records (key `k<i>`, value `v<i>`) to partition 0 of `topic` with
/// librdkafka, reads them back from offset 0 by assignment (no group), and returns how
/// many came back in order. `extra_config` is added to both clients' configuration
/// (e.g. `("security.protocol", "SSL")`).
pub fn librdkafka_roundtrip(
    bootstrap: &str,
    topic: &str,
    count: usize,
    extra_config: &[(&str, &str)],
) -> Result<usize, HarnessError> {
    let extra: Vec<String> = extra_config
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let count = count.to_string();
    let mut args = vec![bootstrap, topic, count.as_str()];
    args.extend(extra.iter().map(String::as_str));
    let stdout = run_python(ROUNDTRIP_PY, &args, Duration::from_secs(60))?;
    let last = stdout.lines().last().unwrap_or_default();
    last.strip_prefix("ROUNDTRIP ")
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| HarnessError::Failed {
            what: "librdkafka round trip".into(),
            detail: format!("unexpected output: {stdout}"),
        })
}

const ROUNDTRIP_PY: &str = r#"
import sys, time
from confluent_kafka import Consumer, Producer, TopicPartition
bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
extra = dict(kv.split("=", 1) for kv in sys.argv[4:])
errors = []
p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **extra})
for i in range(count):
    p.produce(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0,
              on_delivery=lambda e, m: e and errors.append(str(e)))
left = p.flush(30)
if left or errors:
    sys.exit(f"produce failed: {left} undelivered, errors {errors[:3]}")
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "rkafka-harness",
              "enable.auto.commit": False, **extra})
c.assign([TopicPartition(topic, 0, 0)])
got, deadline = [], time.time() + 30
while len(got) < count and time.time() < deadline:
    m = c.poll(0.5)
    if m is not None and not m.error():
        got.append((m.key(), m.value()))
c.close()
want = [(b"k%d" % i, b"v%d" % i) for i in range(count)]
in_order = sum(1 for a, b in zip(got, want) if a == b)
print("ROUNDTRIP", in_order if len(got) == count else -len(got))
"#;
