//! Passwords and tokens never reach tracing output, errors or `Debug`; and
//! every request has a span naming API, version, broker and correlation id,
//! with its timing. In
//! its own test binary, with a global subscriber: tracing caches per-callsite
//! interest process-wide, so a thread-local subscriber beside other tests
//! running in parallel misses events (the first cause of this test's flakes).
//! The second was timing: under load a 5 s request timeout could expire in
//! a login that the test then unwrapped; it now collects every outcome and
//! waits up to 30 s.

mod common;

use rkafka_client_core::broker::connect_broker;
use rkafka_client_core::sasl::{OAuthToken, SaslConfig, ScramHash, Secret};

use std::sync::Arc;
use std::time::Duration;

use rkafka_client_core::config::ConnectionConfig;
use rkafka_protocol::messages::MetadataRequest;

use common::sasl::{cfg, SaslServer};

/// [`cfg`] with timeouts long enough that a loaded machine (tests running
/// beside other builds) does not turn a login into a timeout.
fn patient(sasl: Option<SaslConfig>) -> Arc<ConnectionConfig> {
    let mut c = (*cfg(sasl)).clone();
    c.request_timeout = Duration::from_secs(30);
    c.connect_timeout = Duration::from_secs(30);
    Arc::new(c)
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
            self.0.lock().unwrap().push_str("\n[record] ");
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
    tracing::subscriber::set_global_default(cap.clone()).unwrap();
    let srv = SaslServer::start(&[]).await;
    let mut errors = String::new();
    let mut logins = 0;
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
        let c = patient(Some(sasl));
        errors.push_str(&format!("{c:?}"));
        // Every outcome is collected, none unwrapped: this test is about
        // what errors say, and on a loaded machine any step may time out.
        match connect_broker(&srv.addr, c).await {
            Ok(conn) => match conn.send(MetadataRequest::default()).await {
                Ok(_) => logins += 1,
                Err(e) => errors.push_str(&format!("{e} {e:?}")),
            },
            Err(e) => errors.push_str(&format!("{e} {e:?}")),
        }
    }
    let logs = cap.0.lock().unwrap().clone();
    assert_eq!(logins, 2, "the good logins failed: {errors}");
    assert!(
        logs.contains("kafka_request"),
        "capture saw no request spans: {logs}"
    );
    // Each request span names the API, version, broker and correlation id,
    // and its closing event the time taken.
    let metadata_span = logs
        .lines()
        .find(|l| l.starts_with("[span kafka_request]") && l.contains("api=\"Metadata\""))
        .unwrap_or_else(|| panic!("no Metadata request span: {logs}"));
    for field in ["version=", "broker=\"127.0.0.1:"] {
        assert!(
            metadata_span.contains(field),
            "{field} missing: {metadata_span}"
        );
    }
    // The correlation id is recorded on the span once the response is read.
    assert!(
        logs.contains("[record] correlation_id="),
        "no correlation id: {logs}"
    );
    assert!(logs.contains("elapsed_us="), "no request timing: {logs}");
    assert!(errors.contains("authentication failed"), "{errors}");
    for secret in ["alice-secret", "wrong-secret-pw", "bad-secret-token"] {
        assert!(!logs.contains(secret), "{secret} logged:\n{logs}");
        assert!(
            !errors.contains(secret),
            "{secret} in an error or Debug: {errors}"
        );
    }
}
