//! Negotiation and SASL against `tests/sasl_server/server.py`, a Python
//! Kafka-protocol endpoint whose SCRAM side is the independent `scramp`
//! library (pinned in tools/peers/requirements.txt, installed by `just peers`).

mod common;

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rkafka_client_core::broker::{connect_broker, Broker, ConnPurpose};
use rkafka_client_core::sasl::{OAuthToken, SaslConfig, ScramHash, Secret};
use rkafka_client_core::{Error, SaslError};
use rkafka_protocol::messages::MetadataRequest;

use common::sasl::{cfg, metadata, SaslServer};

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
async fn oauthbearer_async_provider_with_extensions() {
    // The endpoint accepts only a message carrying the token and both
    // extensions (KIP-342), each as its own `key=value` field.
    let srv = SaslServer::start(&[
        "--oauth-extension",
        "traceId=abc",
        "--oauth-extension",
        "logicalCluster=lkc-1",
    ])
    .await;
    let calls = Arc::new(AtomicI32::new(0));
    let counted = Arc::clone(&calls);
    let provider = move || -> rkafka_client_core::sasl::TokenFuture {
        let counted = Arc::clone(&counted);
        Box::pin(async move {
            // A real provider awaits an identity service here.
            tokio::task::yield_now().await;
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(OAuthToken {
                token: Secret::new("good-token"),
                extensions: [
                    ("traceId".to_string(), "abc".to_string()),
                    ("logicalCluster".to_string(), "lkc-1".to_string()),
                ]
                .into(),
            })
        })
    };
    let conn = connect_broker(&srv.addr, cfg(Some(SaslConfig::oauth_provider(provider))))
        .await
        .unwrap();
    assert_eq!(metadata(&conn).await.controller_id, 1);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one token per login");

    // Without the extensions the same token is refused.
    let bare = OAuthToken {
        token: Secret::new("good-token"),
        ..Default::default()
    };
    let e = connect_broker(&srv.addr, cfg(Some(SaslConfig::oauth_static(bare))))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Sasl(SaslError::AuthenticationFailed { .. })),
        "{e:?}"
    );
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

/// How long the re-authentication tests may take at most: they stop as soon as
/// enough re-authentications happened (about 2 s), this only bounds a failure.
const REAUTH_PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn reauthenticates_before_the_session_expires() {
    // A 600 ms session: without re-authentication the endpoint closes the
    // connection on the first request after expiry (plus a grace of one more
    // lifetime, so a loaded machine's scheduling delays do not count as late).
    let srv =
        SaslServer::start(&["--session-lifetime-ms", "600", "--expiry-grace-ms", "600"]).await;
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
    // Keep using the connection until the endpoint counted three
    // authentications (two of them re-authentications); every request must
    // succeed, which it cannot once a session ran out.
    let deadline = Instant::now() + REAUTH_PATIENCE;
    let mut last = 0;
    while last < 3 {
        assert!(
            Instant::now() < deadline,
            "only {last} authentications in {REAUTH_PATIENCE:?} of a 600 ms session"
        );
        last = metadata(&conn).await.controller_id;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!conn.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthentication_never_interleaves_with_concurrent_requests() {
    // The endpoint closes the connection if any request arrives between
    // SaslHandshake and the end of the exchange, or after the session
    // expired (plus a grace of one lifetime).
    let srv =
        SaslServer::start(&["--session-lifetime-ms", "400", "--expiry-grace-ms", "400"]).await;
    let conn = connect_broker(
        &srv.addr,
        cfg(Some(SaslConfig::scram(
            ScramHash::Sha512,
            "alice",
            "alice-secret",
        ))),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + REAUTH_PATIENCE;
    let most = Arc::new(AtomicI32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let c = conn.clone();
        let most = Arc::clone(&most);
        tasks.push(tokio::spawn(async move {
            // Four requesters keep requests in flight until the endpoint
            // counted four authentications (three re-authentications).
            while most.load(Ordering::Relaxed) < 4 && Instant::now() < deadline {
                let auths = c
                    .send(MetadataRequest::default())
                    .await
                    .expect("a request interleaved with re-authentication or came after expiry")
                    .controller_id;
                most.fetch_max(auths, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let most = most.load(Ordering::Relaxed);
    assert!(
        most >= 4,
        "only {most} authentications in {REAUTH_PATIENCE:?} of a 400 ms session"
    );
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
