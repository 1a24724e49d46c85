//! Negotiation and SASL against `tests/sasl_server/server.py`, a Python
//! Kafka-protocol endpoint whose SCRAM side is the independent `scramp`
//! library (requirements.txt next to it).

use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rkafka_client_core::broker::{connect_broker, Broker, ConnPurpose};
use rkafka_client_core::config::{ConnectionConfig, SecurityProtocol};
use rkafka_client_core::sasl::{OAuthToken, SaslConfig, ScramHash, Secret};
use rkafka_client_core::{Error, SaslError};
use rkafka_protocol::messages::{MetadataRequest, MetadataResponse};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The Python SASL endpoint; stops when dropped.
struct SaslServer {
    _child: Child,
    addr: String,
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
    async fn start(extra: &[&str]) -> Self {
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

fn cfg(sasl: Option<SaslConfig>) -> Arc<ConnectionConfig> {
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

async fn metadata(conn: &rkafka_client_core::conn::BrokerConnection) -> MetadataResponse {
    conn.send(MetadataRequest::default()).await.unwrap()
}

#[tokio::test]
async fn api_versions_falls_back_to_the_version_the_broker_lists() {
    let srv = SaslServer::start(&[]).await;
    // We ask with v4; the endpoint knows 0-3 and answers v0-shaped
    // UNSUPPORTED_VERSION listing ApiVersions 0-3: we must retry at 3.
    let conn = connect_broker(
        &srv.addr,
        cfg(Some(SaslConfig::plain("alice", "alice-secret"))),
    )
    .await
    .unwrap();
    let r = conn.api_versions().broker_range(18).unwrap();
    assert_eq!((r.min, r.max), (0, 3));
    assert_eq!(conn.version_for::<MetadataRequest>().unwrap(), 1);
}

#[tokio::test]
async fn api_versions_falls_back_to_v0_when_nothing_is_listed() {
    let srv = SaslServer::start(&["--unsupported-lists-none"]).await;
    let conn = connect_broker(
        &srv.addr,
        cfg(Some(SaslConfig::plain("alice", "alice-secret"))),
    )
    .await
    .unwrap();
    // The v0 answer lists everything, including ApiVersions 0-3.
    assert_eq!(conn.api_versions().broker_range(18).unwrap().max, 3);
    assert_eq!(metadata(&conn).await.controller_id, 1);
}

#[tokio::test]
async fn missing_api_is_a_typed_error() {
    let srv = SaslServer::start(&[]).await;
    let conn = connect_broker(
        &srv.addr,
        cfg(Some(SaslConfig::plain("alice", "alice-secret"))),
    )
    .await
    .unwrap();
    let e = conn
        .send(rkafka_protocol::messages::FindCoordinatorRequest::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::UnsupportedVersion {
                api: "FindCoordinator",
                theirs: None,
                ..
            }
        ),
        "{e:?}"
    );
}

async fn login_ok(sasl: SaslConfig) {
    let srv = SaslServer::start(&[]).await;
    let conn = connect_broker(&srv.addr, cfg(Some(sasl))).await.unwrap();
    // The endpoint answers Metadata only on an authenticated connection, and
    // reports in controller_id how many logins this connection made.
    assert_eq!(metadata(&conn).await.controller_id, 1);
}

async fn login_fails(sasl: SaslConfig) -> SaslError {
    let srv = SaslServer::start(&[]).await;
    let start = Instant::now();
    let e = connect_broker(&srv.addr, cfg(Some(sasl)))
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "auth failure took {:?}",
        start.elapsed()
    );
    assert!(!e.is_retriable());
    match e {
        Error::Sasl(e) => e,
        other => panic!("expected a SASL error, got {other:?}"),
    }
}

#[tokio::test]
async fn plain_login() {
    login_ok(SaslConfig::plain("alice", "alice-secret")).await;
}

#[tokio::test]
async fn scram_sha256_login() {
    login_ok(SaslConfig::scram(
        ScramHash::Sha256,
        "alice",
        "alice-secret",
    ))
    .await;
}

#[tokio::test]
async fn scram_sha512_login_with_escaped_name_chars_in_password() {
    login_ok(SaslConfig::scram(ScramHash::Sha512, "bob", "b=b,pw")).await;
}

#[tokio::test]
async fn oauthbearer_static_token() {
    let token = OAuthToken {
        token: Secret::new("good-token"),
        extensions: [("traceId".to_string(), "abc".to_string())].into(),
    };
    login_ok(SaslConfig::oauth_static(token)).await;
}

#[tokio::test]
async fn wrong_passwords_fail_with_the_brokers_message() {
    for sasl in [
        SaslConfig::plain("alice", "wrong"),
        SaslConfig::scram(ScramHash::Sha256, "alice", "wrong"),
        SaslConfig::scram(ScramHash::Sha512, "alice", "wrong"),
        SaslConfig::scram(ScramHash::Sha256, "nobody", "x"),
    ] {
        let mech = sasl.mechanism();
        match login_fails(sasl).await {
            SaslError::AuthenticationFailed { mechanism, message } => {
                assert_eq!(mechanism, mech);
                let m = message.unwrap();
                assert!(m.contains("invalid credentials"), "{m}");
                assert!(!m.contains("wrong"), "secret leaked into the error: {m}");
            }
            e => panic!("{mech}: {e:?}"),
        }
    }
}

#[tokio::test]
async fn bad_oauth_token_fails_after_the_error_challenge() {
    let provider = || -> rkafka_client_core::sasl::TokenFuture {
        Box::pin(async {
            Ok(OAuthToken {
                token: Secret::new("expired-token"),
                ..Default::default()
            })
        })
    };
    match login_fails(SaslConfig::oauth_provider(provider)).await {
        SaslError::AuthenticationFailed { mechanism, .. } => assert_eq!(mechanism, "OAUTHBEARER"),
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn reauthenticates_before_the_session_expires() {
    // A 600 ms session: without re-authentication the endpoint closes the
    // connection on the first request after expiry.
    let srv = SaslServer::start(&["--session-lifetime-ms", "600"]).await;
    let conn = connect_broker(
        &srv.addr,
        cfg(Some(SaslConfig::scram(
            ScramHash::Sha256,
            "alice",
            "alice-secret",
        ))),
    )
    .await
    .unwrap();
    let mut last = 0;
    let deadline = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < deadline {
        last = metadata(&conn).await.controller_id;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        last >= 3,
        "only {last} authentications in 2.5 s of a 600 ms session"
    );
    assert!(!conn.is_closed());
}

#[tokio::test]
async fn broker_handle_reconnects_after_the_connection_dies() {
    let srv = SaslServer::start(&["--session-lifetime-ms", "0"]).await;
    let broker = Broker::new(
        srv.addr.clone(),
        ConnPurpose::Admin,
        cfg(Some(SaslConfig::plain("alice", "alice-secret"))),
    );
    let first = broker.connection().await.unwrap();
    assert_eq!(metadata(&first).await.controller_id, 1);
    first.raw().close();
    let resp = broker.send(MetadataRequest::default()).await.unwrap();
    assert_eq!(
        resp.controller_id, 1,
        "a fresh connection authenticates once"
    );
    let second = broker.connection().await.unwrap();
    assert!(!second.is_closed());
}

/// A tracing subscriber that writes every span and event field to a string,
/// to check that no secret is ever logged.
mod capture {
    use std::fmt::Write as _;
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    #[derive(Clone, Default)]
    pub struct Capture(pub Arc<Mutex<String>>);

    struct V<'a>(&'a Mutex<String>);

    impl Visit for V<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0.lock().unwrap(), "{}={value:?} ", field.name());
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &Attributes<'_>) -> Id {
            let _ = write!(
                self.0.lock().unwrap(),
                "\n[span {}] ",
                span.metadata().name()
            );
            span.record(&mut V(&self.0));
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, values: &Record<'_>) {
            values.record(&mut V(&self.0));
        }
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            self.0.lock().unwrap().push_str("\n[event] ");
            event.record(&mut V(&self.0));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}

#[tokio::test]
async fn secrets_never_reach_logs_or_errors() {
    let cap = capture::Capture::default();
    let _guard = tracing::subscriber::set_default(cap.clone());
    let srv = SaslServer::start(&[]).await;
    let mut errors = String::new();
    for sasl in [
        SaslConfig::plain("alice", "alice-secret"),
        SaslConfig::scram(ScramHash::Sha256, "alice", "alice-secret"),
        SaslConfig::scram(ScramHash::Sha512, "alice", "wrong-secret-pw"),
        SaslConfig::plain("alice", "wrong-secret-pw"),
        SaslConfig::oauth_static(OAuthToken {
            token: Secret::new("bad-secret-token"),
            ..Default::default()
        }),
    ] {
        let c = cfg(Some(sasl));
        errors.push_str(&format!("{c:?}"));
        match connect_broker(&srv.addr, c).await {
            Ok(conn) => {
                metadata(&conn).await;
            }
            Err(e) => errors.push_str(&format!("{e} {e:?}")),
        }
    }
    let logs = cap.0.lock().unwrap().clone();
    assert!(
        logs.contains("kafka_request"),
        "capture saw no request spans: {logs}"
    );
    assert!(errors.contains("authentication failed"), "{errors}");
    for secret in ["alice-secret", "wrong-secret-pw", "bad-secret-token"] {
        assert!(!logs.contains(secret), "{secret} logged:\n{logs}");
        assert!(
            !errors.contains(secret),
            "{secret} in an error or Debug: {errors}"
        );
    }
}
