//! Bootstrap failures that need no broker: bad configuration, names that do
//! not resolve, addresses nobody listens on. Each must fail with a clear
//! error within the configured deadline instead of hanging.

use std::time::{Duration, Instant};

use rkafka_client_core::{Client, ClientConfig, Error};

fn config(bootstrap: &str) -> ClientConfig {
    let connection = rkafka_client_core::config::ConnectionConfig::builder()
        .connect_timeout(Duration::from_millis(500))
        .reconnect_backoff_max(Duration::from_millis(100))
        .build();
    ClientConfig::builder()
        .bootstrap_servers(bootstrap)
        .default_api_timeout(Duration::from_secs(2))
        .connection(connection)
        .build()
}

#[tokio::test]
async fn invalid_bootstrap_lists_are_config_errors() {
    for bad in ["", "no-port", "host:notaport", ",,"] {
        let err = Client::connect(config(bad)).await.unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{bad:?}: {err}");
    }
}

#[tokio::test]
async fn unreachable_bootstrap_fails_within_the_deadline() {
    // Reserve a port, then free it: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // (Names that do not resolve are left out of the timing: a resolver
    // without a DNS server may take seconds to say so.)
    for list in [
        format!("127.0.0.1:{port}"),
        format!("127.0.0.1:{port},127.0.0.1:1"),
    ] {
        let started = Instant::now();
        let err = Client::connect(config(&list)).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{list}: took {:?}",
            started.elapsed()
        );
        assert!(err.is_retriable(), "{list}: {err}");
    }
}

#[tokio::test]
async fn requests_on_an_unreachable_cluster_end_at_the_deadline() {
    let client = Client::start(config("127.0.0.1:1")).unwrap();
    let started = Instant::now();
    let err = client
        .send_to_any(rkafka_protocol::messages::ApiVersionsRequest::default())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(4), "{err}");
}

/// Handles and their futures can move between tasks and threads.
#[allow(dead_code)]
fn handles_and_futures_are_send() {
    fn send<T: Send + Sync>(_: &T) {}
    fn fut<F: std::future::Future + Send>(_: F) {}
    let client = Client::start(config("127.0.0.1:1")).unwrap();
    send(&client);
    let admin = rkafka_client_core::admin::Admin::new(client.clone());
    send(&admin);
    fut(client.send_to_any(rkafka_protocol::messages::ApiVersionsRequest::default()));
    fut(client.refresh_metadata(&[]));
    fut(admin.describe_cluster());
    fut(admin.list_offsets(&Default::default(), false));
    fut(admin.describe_groups(&[]));
    fut(admin.list_groups(&[], &[]));
    fut(admin.create_topics(&[], false));
}
