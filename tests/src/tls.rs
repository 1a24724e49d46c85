//! TLS in front of a plaintext peer: test certificates (`tools/peers/tls_certs.sh`) and
//! stunnel (`tools/peers/tls_front.sh`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::paths::{peers_script, INSTALL_HINT};
use crate::process::{bash_script, PeerProcess};
use crate::HarnessError;

/// How long stunnel may take to listen.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

/// A fresh CA, a server certificate for `localhost`/`127.0.0.1`, a client certificate
/// and an unrelated CA, in a temporary directory removed on drop.
pub struct TlsMaterial {
    dir: PathBuf,
}

impl TlsMaterial {
    /// Generates the files with openssl (about 0.3 s).
    pub fn generate() -> Result<Self, HarnessError> {
        static SEQUENCE: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "rkafka-tls-{}-{}-{nanos}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        ));
        // Owned from here on, so a failure below still removes the directory.
        let material = Self { dir };
        let output = bash_script(&peers_script("tls_certs.sh")?)
            .arg(&material.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| HarnessError::Spawn {
                program: "bash tools/peers/tls_certs.sh".into(),
                source,
            })?;
        if !output.status.success() {
            return Err(HarnessError::Failed {
                what: "tools/peers/tls_certs.sh".into(),
                detail: format!(
                    "{}: {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                ),
            });
        }
        Ok(material)
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA that signed the server and client certificates (PEM).
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// The server certificate (PEM), for `localhost` and `127.0.0.1`.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.crt")
    }

    /// The server's private key (PEM).
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }

    /// A client certificate (PEM) the CA signed, for mutual TLS.
    pub fn client_cert(&self) -> PathBuf {
        self.dir.join("client.crt")
    }

    /// The client certificate's private key (PEM).
    pub fn client_key(&self) -> PathBuf {
        self.dir.join("client.key")
    }

    /// A CA unrelated to the server's certificate: trusting only it must fail.
    pub fn wrong_ca_cert(&self) -> PathBuf {
        self.dir.join("wrong-ca.crt")
    }
}

impl Drop for TlsMaterial {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// stunnel terminating TLS on some ports and forwarding each to a plaintext port;
/// killed on drop.
pub struct Stunnel {
    routes: Vec<(u16, u16)>,
    process: PeerProcess,
}

impl Stunnel {
    /// Starts stunnel with `material`'s server certificate; each route is
    /// `(tls_port, plaintext_port)` on 127.0.0.1. With `require_client_cert`, clients
    /// must present a certificate signed by the material's CA.
    ///
    /// The peer behind must advertise the TLS ports (mock: `advertise ID 127.0.0.1
    /// TLSPORT`; Tansu: [`crate::TansuConfig::advertised_port`]), else clients follow
    /// Metadata to the plaintext ports.
    pub fn start(
        material: &TlsMaterial,
        routes: &[(u16, u16)],
        require_client_cert: bool,
    ) -> Result<Self, HarnessError> {
        if routes.is_empty() {
            return Err(HarnessError::Failed {
                what: "Stunnel::start".into(),
                detail: "no routes".into(),
            });
        }
        if which("stunnel4").or_else(|| which("stunnel")).is_none() {
            return Err(HarnessError::Missing {
                what: "stunnel4 missing (not on PATH)".into(),
                remedy: format!(
                    "apt-get update && apt-get install -y stunnel4 (or {INSTALL_HINT} as root)"
                ),
            });
        }
        let mut command = bash_script(&peers_script("tls_front.sh")?);
        command
            .arg(material.dir())
            .args(routes.iter().map(|(tls, plain)| format!("{tls}:{plain}")))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if require_client_cert {
            command.env("VERIFY", "1");
        } else {
            command.env_remove("VERIFY");
        }
        let mut process = PeerProcess::spawn("stunnel", command)?;
        let tls_ports: Vec<u16> = routes.iter().map(|r| r.0).collect();
        process
            .wait_for_ports(&tls_ports, STARTUP_TIMEOUT)
            .map_err(|e| with_log(e, material, tls_ports[0]))?;
        Ok(Self {
            routes: routes.to_vec(),
            process,
        })
    }

    /// The TLS port in front of `plaintext_port`.
    pub fn tls_port_for(&self, plaintext_port: u16) -> Option<u16> {
        self.routes
            .iter()
            .find(|r| r.1 == plaintext_port)
            .map(|r| r.0)
    }

    /// `127.0.0.1:tls_port,...` over every route.
    pub fn bootstrap(&self) -> String {
        let hosts: Vec<String> = self
            .routes
            .iter()
            .map(|r| format!("127.0.0.1:{}", r.0))
            .collect();
        hosts.join(",")
    }

    /// The process id (for checks that it is gone after drop).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// stunnel logs to a file, not stderr: add it to a startup error.
fn with_log(error: HarnessError, material: &TlsMaterial, first_port: u16) -> HarnessError {
    let log = std::fs::read_to_string(material.dir().join(format!("stunnel-{first_port}.log")))
        .unwrap_or_default();
    match error {
        HarnessError::Startup { peer, detail } => HarnessError::Startup {
            peer,
            detail: format!("{detail}\nstunnel log:\n{log}"),
        },
        other => other,
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}
