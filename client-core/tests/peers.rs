//! The connection layer against real peers: librdkafka's mock cluster and
//! Tansu, started by the `rkafka-tests` harness. A machine without them
//! fails, saying how to install them (`just peers`).

use std::sync::Arc;
use std::time::Duration;

use rkafka_client_core::broker::connect_broker;
use rkafka_client_core::config::ConnectionConfig;
use rkafka_client_core::conn::BrokerConnection;
use rkafka_protocol::messages::{ApiVersionsRequest, MetadataRequest};
use rkafka_protocol::Request;
use rkafka_tests::{BrokerUnderTest, MockConfig, Tansu};

fn cfg() -> Arc<ConnectionConfig> {
    Arc::new(
        ConnectionConfig::builder()
            .request_timeout(Duration::from_secs(10))
            .max_in_flight(8)
            .build(),
    )
}

/// Checks the negotiated table and sends many pipelined requests.
async fn negotiate_and_pipeline(conn: &BrokerConnection) {
    let av = conn
        .api_versions()
        .broker_range(ApiVersionsRequest::API_KEY as i16)
        .expect("the broker lists ApiVersions");
    let metadata = conn.version_for::<MetadataRequest>().unwrap();
    let theirs = conn.api_versions().broker_range(3).unwrap();
    let ours = MetadataRequest::stable_versions();
    assert_eq!(
        metadata,
        theirs.max.min(ours.max),
        "not the highest common Metadata version"
    );
    assert!(av.max >= 0);

    let mut tasks = Vec::new();
    for _ in 0..200 {
        let c = conn.clone();
        tasks.push(tokio::spawn(async move {
            c.send(MetadataRequest::default().with_topics(Some(vec![])))
                .await
        }));
    }
    for t in tasks {
        let resp = t.await.unwrap().unwrap();
        assert!(!resp.brokers.is_empty());
    }
    assert!(!conn.is_closed());
}

/// The mock cluster, or the broker `KAFKA_BOOTSTRAP` names.
#[tokio::test]
async fn negotiation_fallback_and_pipelining_on_the_broker_under_test() {
    let broker =
        BrokerUnderTest::external_or_mock(MockConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let addr = broker.bootstrap().split(',').next().unwrap().to_owned();
    let conn = connect_broker(&addr, cfg()).await.unwrap();
    if broker.mock().is_some() {
        // We ask with ApiVersions v4; the mock knows fewer versions and
        // answers UNSUPPORTED_VERSION, so the table we hold came from the
        // fallback.
        let av = conn.api_versions().broker_range(18).unwrap();
        assert!(
            av.max < ApiVersionsRequest::stable_versions().max,
            "expected the mock to need the fallback, it lists ApiVersions {av}"
        );
    }
    negotiate_and_pipeline(&conn).await;
}

#[tokio::test]
async fn tansu_negotiation_and_pipelining() {
    let tansu = Tansu::start().unwrap_or_else(|e| panic!("{e}"));
    // Tansu accepts TCP slightly before it serves requests.
    let mut conn = None;
    for _ in 0..50 {
        match connect_broker(&tansu.bootstrap(), cfg()).await {
            Ok(c) => {
                conn = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let conn = conn.expect("Tansu never completed ApiVersions");
    negotiate_and_pipeline(&conn).await;
}
