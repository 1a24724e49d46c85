//! Tansu, a second, independently written Kafka broker (in-memory storage).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::paths::tansu_binary;
use crate::process::{free_port, PeerProcess};
use crate::HarnessError;

/// How long Tansu may take to accept connections (it takes a few milliseconds).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

/// How to start [`Tansu`]. The default: a free port, advertised as itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TansuConfig {
    /// Listen here instead of on a free port.
    pub port: Option<u16>,
    /// Advertise this port in Metadata instead of the listening one (a TLS front's port).
    pub advertised_port: Option<u16>,
    /// Run this binary instead of the one found in `.venv`.
    pub binary: Option<PathBuf>,
}

/// A running Tansu broker (node id 0 on 127.0.0.1), killed on drop.
pub struct Tansu {
    port: u16,
    process: PeerProcess,
}

impl Tansu {
    /// Starts Tansu on a free port and waits until the port accepts connections.
    pub fn start() -> Result<Self, HarnessError> {
        Self::start_with(TansuConfig::default())
    }

    /// Starts Tansu as configured and waits until its port accepts connections.
    pub fn start_with(config: TansuConfig) -> Result<Self, HarnessError> {
        let binary = match config.binary {
            Some(path) if path.exists() => path,
            Some(path) => {
                return Err(HarnessError::Missing {
                    what: format!("tansu missing ({} not found)", path.display()),
                    remedy: "point TansuConfig::binary at a tansu binary".into(),
                })
            }
            None => tansu_binary()?,
        };
        let port = match config.port {
            Some(port) => port,
            None => free_port()?,
        };
        let advertised = config.advertised_port.unwrap_or(port);
        let mut command = Command::new(binary);
        command
            .arg("broker")
            .arg("--listener-url")
            .arg(format!("tcp://127.0.0.1:{port}"))
            .arg("--advertised-listener-url")
            .arg(format!("tcp://127.0.0.1:{advertised}"))
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let mut process = PeerProcess::spawn("tansu", command)?;
        process.wait_for_ports(&[port], STARTUP_TIMEOUT)?;
        Ok(Self { port, process })
    }

    /// `127.0.0.1:port`, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port Tansu listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id (for checks that it is gone after drop).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}
