//! librdkafka's mock cluster, run by `tools/peers/mock_cluster.py`.

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::paths::{peers_script, venv_python};
use crate::process::PeerProcess;
use crate::HarnessError;

/// How long the mock may take to print READY (it takes ~0.3 s; CI machines can be slow).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one control command may take to be answered.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);

/// A topic to create when the cluster starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Topic name.
    pub name: String,
    /// Partition count.
    pub partitions: i32,
    /// Replication factor (at most the broker count).
    pub replication_factor: i32,
}

impl TopicSpec {
    /// A topic `name` with `partitions` partitions, each on `replication_factor` brokers.
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i32) -> Self {
        Self {
            name: name.into(),
            partitions,
            replication_factor,
        }
    }
}

/// How to start a [`MockCluster`]. `MockConfig::default()` is one broker, no topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockConfig {
    /// Number of brokers (ids 1..=brokers).
    pub brokers: usize,
    /// Topics created before READY (others are auto-created with 4 partitions on use).
    pub topics: Vec<TopicSpec>,
    /// Put a recording proxy in front of every broker so [`MockCluster::requests`] reports
    /// API versions too. Behind the proxy a broker that is down looks like a connection
    /// that is accepted then closed, not refused.
    pub record_versions: bool,
    /// Start the mock's own request tracking (API keys and brokers, no versions).
    pub track_requests: bool,
    /// Share groups start from the earliest offset (the mock's default is latest).
    pub share_earliest: bool,
    /// Further `mock_cluster.py` arguments, e.g. `["--debug", "protocol"]`.
    pub extra_args: Vec<String>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            brokers: 1,
            topics: Vec::new(),
            record_versions: false,
            track_requests: false,
            share_earliest: false,
            extra_args: Vec::new(),
        }
    }
}

impl MockConfig {
    /// `brokers` brokers, nothing else.
    pub fn brokers(brokers: usize) -> Self {
        Self {
            brokers,
            ..Self::default()
        }
    }

    /// Adds a topic created at startup.
    pub fn topic(mut self, name: &str, partitions: i32, replication_factor: i32) -> Self {
        self.topics
            .push(TopicSpec::new(name, partitions, replication_factor));
        self
    }

    /// Records every request's broker, API key and version (see `record_versions`).
    pub fn record_versions(mut self) -> Self {
        self.record_versions = true;
        self
    }

    fn args(&self) -> Vec<String> {
        let mut args = vec!["--brokers".to_owned(), self.brokers.to_string()];
        for t in &self.topics {
            args.push("--topic".into());
            args.push(format!(
                "{}:{}:{}",
                t.name, t.partitions, t.replication_factor
            ));
        }
        let flags = [
            (self.record_versions, "--record"),
            (self.track_requests, "--track"),
            (self.share_earliest, "--share-earliest"),
        ];
        args.extend(flags.iter().filter(|f| f.0).map(|f| f.1.to_owned()));
        args.extend(self.extra_args.iter().cloned());
        args
    }
}

/// One request a mock broker received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrackedRequest {
    /// The broker id it was sent to.
    pub broker: i32,
    /// Its API key.
    pub api_key: i16,
    /// Its API version: known with [`MockConfig::record_versions`], else `None`.
    pub api_version: Option<i16>,
}

/// The command pipe to the mock: one line out, one `OK`/`ERR` line back.
struct Control {
    stdin: ChildStdin,
    answers: Receiver<String>,
    /// Answers still owed to commands that timed out; skipped before reading ours.
    late_answers: usize,
}

/// A running librdkafka mock cluster; killed (with its process group) on drop.
///
/// `Sync`: one cluster can be shared by the threads or tasks of a test; control
/// commands are serialised.
pub struct MockCluster {
    bootstrap: String,
    brokers: Vec<(i32, u16)>,
    librdkafka_version: String,
    control: Mutex<Control>,
    // Dropped last: the pipes above close first, then the process group is killed.
    process: PeerProcess,
}

impl MockCluster {
    /// Starts the cluster and waits until it prints READY.
    pub fn start(config: MockConfig) -> Result<Self, HarnessError> {
        let python = venv_python()?;
        let script = peers_script("mock_cluster.py")?;
        let mut command = Command::new(python);
        command
            .arg(script)
            .args(config.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut process = PeerProcess::spawn("librdkafka mock cluster", command)?;
        let child = process.child_mut();
        let (stdin, stdout) = match (child.stdin.take(), child.stdout.take()) {
            (Some(stdin), Some(stdout)) => (stdin, stdout),
            _ => unreachable!("stdin and stdout were piped"),
        };
        let (lines_tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });

        let mut bootstrap = None;
        let mut brokers = Vec::new();
        let mut librdkafka_version = String::new();
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            let line = match lines.recv_timeout(wait) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(HarnessError::Timeout {
                        what: "the mock cluster printing READY".into(),
                        after: STARTUP_TIMEOUT,
                        detail: process.stderr_tail(),
                    })
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = wait_for_exit(&mut process);
                    return Err(process.exited_error(&status));
                }
            };
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["LIBRDKAFKA", version] => librdkafka_version = (*version).to_owned(),
                ["BOOTSTRAP", list] => bootstrap = Some((*list).to_owned()),
                ["BROKER", id, port] => match (id.parse(), port.parse()) {
                    (Ok(id), Ok(port)) => brokers.push((id, port)),
                    _ => return Err(bad_line(&line)),
                },
                ["READY"] => break,
                _ => return Err(bad_line(&line)),
            }
        }
        let bootstrap = bootstrap.ok_or_else(|| bad_line("READY before BOOTSTRAP"))?;
        if brokers.len() != config.brokers {
            return Err(bad_line(&format!(
                "{} BROKER lines for {} brokers",
                brokers.len(),
                config.brokers
            )));
        }
        Ok(Self {
            bootstrap,
            brokers,
            librdkafka_version,
            control: Mutex::new(Control {
                stdin,
                answers: lines,
                late_answers: 0,
            }),
            process,
        })
    }

    /// `host:port,...` of every broker, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// `(broker id, port)` of every broker, ids ascending from 1.
    pub fn brokers(&self) -> &[(i32, u16)] {
        &self.brokers
    }

    /// The port of broker `id`.
    pub fn port_of(&self, id: i32) -> Option<u16> {
        self.brokers.iter().find(|b| b.0 == id).map(|b| b.1)
    }

    /// The librdkafka version serving the cluster, e.g. `2.16.0`.
    pub fn librdkafka_version(&self) -> &str {
        &self.librdkafka_version
    }

    /// The process id of the mock (for checks that it is gone after drop).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Sends one control command (see `tools/peers/mock_cluster.py` for the list, e.g.
    /// `down 2`, `leader t 0 3`, `errors 0 NOT_LEADER_OR_FOLLOWER`) and returns the text
    /// after `OK` (often empty). An `ERR` answer is [`HarnessError::Refused`].
    pub fn control(&self, command: &str) -> Result<String, HarnessError> {
        let command = command.trim();
        if command.is_empty() || command.contains('\n') {
            return Err(HarnessError::Refused {
                command: command.into(),
                answer: "ERR a control command is one non-empty line".into(),
            });
        }
        let mut control = self.control.lock().unwrap_or_else(|e| e.into_inner());
        writeln!(control.stdin, "{command}")
            .and_then(|()| control.stdin.flush())
            .map_err(|e| self.gone(command, &e.to_string()))?;
        let deadline = Instant::now() + CONTROL_TIMEOUT;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            let answer = match control.answers.recv_timeout(wait) {
                Ok(answer) => answer,
                Err(RecvTimeoutError::Timeout) => {
                    control.late_answers += 1;
                    return Err(HarnessError::Timeout {
                        what: format!("the mock answering {command:?}"),
                        after: CONTROL_TIMEOUT,
                        detail: self.process.stderr_tail(),
                    });
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.gone(command, "stdout closed"))
                }
            };
            let is_answer =
                answer == "OK" || answer.starts_with("OK ") || answer.starts_with("ERR");
            if !is_answer {
                continue;
            }
            if control.late_answers > 0 {
                control.late_answers -= 1;
                continue;
            }
            return match answer.strip_prefix("OK") {
                Some(rest) => Ok(rest.trim().to_owned()),
                None => Err(HarnessError::Refused {
                    command: command.into(),
                    answer,
                }),
            };
        }
    }

    /// Creates a topic (`topic NAME PARTS RF`).
    pub fn create_topic(&self, name: &str, partitions: i32, rf: i32) -> Result<(), HarnessError> {
        self.control(&format!("topic {name} {partitions} {rf}"))
            .map(drop)
    }

    /// Moves the leader of a partition to broker `id` (`-1`: leaderless).
    pub fn set_leader(&self, topic: &str, partition: i32, id: i32) -> Result<(), HarnessError> {
        self.control(&format!("leader {topic} {partition} {id}"))
            .map(drop)
    }

    /// Takes broker `id` down: its connections close and new ones are refused.
    pub fn broker_down(&self, id: i32) -> Result<(), HarnessError> {
        self.control(&format!("down {id}")).map(drop)
    }

    /// Brings broker `id` back up.
    pub fn broker_up(&self, id: i32) -> Result<(), HarnessError> {
        self.control(&format!("up {id}")).map(drop)
    }

    /// Makes the next `errors.len()` requests of `api_key` fail with these Kafka error codes
    /// (numbers or names such as `NOT_LEADER_OR_FOLLOWER`), whichever broker gets them.
    pub fn push_errors(&self, api_key: i16, errors: &[&str]) -> Result<(), HarnessError> {
        self.control(&format!("errors {api_key} {}", errors.join(" ")))
            .map(drop)
    }

    /// The requests received so far, in order: needs [`MockConfig::record_versions`]
    /// (with versions) or [`MockConfig::track_requests`] / a `track_start` command.
    pub fn requests(&self) -> Result<Vec<TrackedRequest>, HarnessError> {
        let answer = self.control("requests")?;
        answer
            .split_whitespace()
            .map(|entry| parse_tracked(entry).ok_or_else(|| bad_line(entry)))
            .collect()
    }

    /// Forgets the requests tracked or recorded so far.
    pub fn clear_requests(&self) -> Result<(), HarnessError> {
        self.control("track_clear").map(drop)
    }

    fn gone(&self, command: &str, why: &str) -> HarnessError {
        HarnessError::Failed {
            what: format!("mock cluster control {command:?}"),
            detail: format!(
                "the mock is gone ({why}); stderr:\n{}",
                self.process.stderr_tail()
            ),
        }
    }
}

/// `BROKER:KEY` or `BROKER:KEY:VERSION`.
fn parse_tracked(entry: &str) -> Option<TrackedRequest> {
    let mut parts = entry.split(':');
    let broker = parts.next()?.parse().ok()?;
    let api_key = parts.next()?.parse().ok()?;
    let api_version = match parts.next() {
        Some(v) => Some(v.parse().ok()?),
        None => None,
    };
    parts.next().is_none().then_some(TrackedRequest {
        broker,
        api_key,
        api_version,
    })
}

fn bad_line(line: &str) -> HarnessError {
    HarnessError::Startup {
        peer: "librdkafka mock cluster".into(),
        detail: format!("unexpected output {line:?}"),
    }
}

/// The exit status once stdout closed (the process is exiting; give it a moment).
fn wait_for_exit(process: &mut PeerProcess) -> String {
    for _ in 0..50 {
        if let Some(status) = process.exit_status() {
            return status.to_string();
        }
        thread::sleep(Duration::from_millis(20));
    }
    "stdout closed, still running".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracked_requests_parse_with_and_without_versions() {
        assert_eq!(
            parse_tracked("2:18:3"),
            Some(TrackedRequest {
                broker: 2,
                api_key: 18,
                api_version: Some(3)
            })
        );
        assert_eq!(parse_tracked("1:0").unwrap().api_version, None);
        assert_eq!(parse_tracked("1"), None);
        assert_eq!(parse_tracked("1:0:1:2"), None);
        assert_eq!(parse_tracked("a:0"), None);
    }

    #[test]
    fn config_becomes_launcher_arguments() {
        let args = MockConfig::brokers(3)
            .topic("t", 4, 3)
            .record_versions()
            .args();
        assert_eq!(args, ["--brokers", "3", "--topic", "t:4:3", "--record"]);
    }
}
