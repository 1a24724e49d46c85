//! The Python SASL endpoint (`tests/sasl_server/server.py`) and helpers
//! shared by the SASL test binaries.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
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

/// The peers' Python (`rkafka_tests::venv_python`: `RKAFKA_PYTHON` or the
/// repo's `.venv`), which must import `scramp`. A machine without it fails
/// the SASL tests, saying how to install it; they never skip.
fn python() -> &'static Path {
    static PY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = PY.get_or_init(|| {
        let py = rkafka_tests::venv_python().map_err(|e| e.to_string())?;
        let imports = std::process::Command::new(&py)
            .args(["-c", "import scramp, asn1crypto"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if imports {
            Ok(py)
        } else {
            Err(format!(
                "{} cannot import scramp (the SASL endpoint's SCRAM side, pinned in \
                 tools/peers/requirements.txt): run `just peers` at the repo root",
                py.display()
            ))
        }
    });
    match found {
        Ok(py) => py,
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
            .expect("the peers' Python could not be started");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("SASL server did not start in 20s")
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "the SASL endpoint exited before listening; run `just peers` at the repo root"
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
