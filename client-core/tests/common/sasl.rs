//! The Python SASL endpoint (`tests/sasl_server/server.py`) and helpers
//! shared by the SASL test binaries.

#![allow(dead_code)]

use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rkafka_client_core::config::{ConnectionConfig, SecurityProtocol};
use rkafka_client_core::sasl::SaslConfig;
use rkafka_protocol::messages::{MetadataRequest, MetadataResponse};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The Python SASL endpoint; stops when dropped.
pub struct SaslServer {
    _child: Child,
    pub addr: String,
}

/// A Python that can import `scramp`: `RKAFKA_PYTHON`, the repo's `.venv`,
/// or `python3`. When none can, the pinned requirements are installed into
/// the first one found (PyPI is one of the reachable registries), so the
/// tests do not depend on an install step elsewhere having listed them.
fn python() -> &'static str {
    static PY: OnceLock<Result<String, String>> = OnceLock::new();
    let r = PY.get_or_init(|| {
        let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python");
        let mut candidates = Vec::new();
        if let Ok(p) = std::env::var("RKAFKA_PYTHON") {
            candidates.push(p);
        }
        if std::path::Path::new(venv).exists() {
            candidates.push(venv.to_string());
        }
        candidates.push("python3".to_string());
        let has_scramp = |py: &str| {
            std::process::Command::new(py)
                .args(["-c", "import scramp"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if let Some(py) = candidates.iter().find(|p| has_scramp(p)) {
            return Ok(py.clone());
        }
        let py = &candidates[0];
        let req = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/sasl_server/requirements.txt"
        );
        let ok = std::process::Command::new(py)
            .args(["-m", "pip", "install", "--quiet", "-r", req])
            .status()
            .is_ok_and(|s| s.success());
        if ok && has_scramp(py) {
            Ok(py.clone())
        } else {
            Err(format!(
                "no Python with scramp; run: {py} -m pip install -r {req}"
            ))
        }
    });
    match r {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

impl SaslServer {
    pub async fn start(extra: &[&str]) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sasl_server/server.py");
        let mut child = Command::new(python())
            .arg(script)
            .args(["--user", "alice:alice-secret", "--user", "bob:b=b,pw"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 must be installed to run the SASL tests");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("SASL server did not start in 20s")
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "SASL server exited; install its requirements: pip install -r \
                     client-core/tests/sasl_server/requirements.txt"
                )
            });
        let port = line
            .strip_prefix("LISTENING ")
            .expect("unexpected server output");
        Self {
            _child: child,
            addr: format!("127.0.0.1:{port}"),
        }
    }
}

pub fn cfg(sasl: Option<SaslConfig>) -> Arc<ConnectionConfig> {
    let proto = if sasl.is_some() {
        SecurityProtocol::SaslPlaintext
    } else {
        SecurityProtocol::Plaintext
    };
    Arc::new(
        ConnectionConfig::builder()
            .security_protocol(proto)
            .maybe_sasl(sasl)
            .request_timeout(Duration::from_secs(5))
            .build(),
    )
}

pub async fn metadata(conn: &rkafka_client_core::conn::BrokerConnection) -> MetadataResponse {
    conn.send(MetadataRequest::default()).await.unwrap()
}
