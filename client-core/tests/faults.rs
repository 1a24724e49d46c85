//! Broker-level fault handling against a responder written in the test:
//! a byte-level fault yields a typed error, the connection is rebuilt on the
//! next request, other connections are unaffected, nothing panics.

mod common;

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Fault, Script};
use rkafka_client_core::broker::{Broker, ConnPurpose};
use rkafka_client_core::config::ConnectionConfig;
use rkafka_client_core::Error;
use rkafka_protocol::messages::MetadataRequest;

fn cfg() -> Arc<ConnectionConfig> {
    Arc::new(
        ConnectionConfig::builder()
            .request_timeout(Duration::from_millis(1500))
            .connect_timeout(Duration::from_millis(1500))
            .max_response_size(1024 * 1024)
            .build(),
    )
}

fn root(e: &Error) -> &Error {
    match e {
        Error::ConnectionPoisoned { cause } | Error::NotSent { cause } => root(cause),
        e => e,
    }
}

async fn fault_then_recover(fault: Fault, check: fn(&Error) -> bool) {
    // Connection 0 misbehaves on Metadata; every later one is healthy.
    let fault_for: fn(usize) -> Fault = match fault {
        Fault::Garbage => |n| if n == 0 { Fault::Garbage } else { Fault::None },
        Fault::Oversized => |n| {
            if n == 0 {
                Fault::Oversized
            } else {
                Fault::None
            }
        },
        Fault::Truncated => |n| {
            if n == 0 {
                Fault::Truncated
            } else {
                Fault::None
            }
        },
        Fault::Close => |n| if n == 0 { Fault::Close } else { Fault::None },
        _ => unreachable!(),
    };
    let script = Arc::new(Script {
        connections: AtomicUsize::new(0),
        fault_for,
    });
    let addr = common::start(script).await;
    let admin = Broker::new(addr.clone(), ConnPurpose::Admin, cfg());
    admin.connection().await.unwrap(); // connection 0
    let fetch = Broker::new(addr.clone(), ConnPurpose::Fetch, cfg());
    fetch.connection().await.unwrap(); // connection 1

    let start = Instant::now();
    let e = admin.send(MetadataRequest::default()).await.unwrap_err();
    assert!(check(root(&e)), "{fault:?}: unexpected error {e:?}");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{fault:?}: error took {:?}",
        start.elapsed()
    );

    // The other purpose's connection never noticed.
    assert_eq!(
        fetch
            .send(MetadataRequest::default())
            .await
            .unwrap()
            .controller_id,
        7
    );
    // The next request on the faulty purpose runs on a rebuilt connection.
    assert_eq!(
        admin
            .send(MetadataRequest::default())
            .await
            .unwrap()
            .controller_id,
        7
    );
}

#[tokio::test]
async fn garbage() {
    fault_then_recover(Fault::Garbage, |e| matches!(e, Error::Protocol { .. })).await;
}

#[tokio::test]
async fn oversized_frame() {
    fault_then_recover(Fault::Oversized, |e| {
        matches!(e, Error::FrameTooLarge { size, max } if *size == 512 << 20 && *max == 1 << 20)
    })
    .await;
}

#[tokio::test]
async fn truncated_frame() {
    fault_then_recover(Fault::Truncated, |e| matches!(e, Error::Protocol { .. })).await;
}

#[tokio::test]
async fn close_mid_request() {
    fault_then_recover(Fault::Close, |e| {
        matches!(e, Error::ConnectionClosed { .. })
    })
    .await;
}

#[tokio::test]
async fn silent_broker_times_out() {
    let script = Arc::new(Script {
        connections: AtomicUsize::new(0),
        fault_for: |_| Fault::Silent,
    });
    let addr = common::start(script).await;
    let b = Broker::new(addr, ConnPurpose::Admin, cfg());
    let start = Instant::now();
    let e = b.send(MetadataRequest::default()).await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    assert!(e.is_retriable());
}

#[tokio::test]
async fn refused_bootstrap_is_a_clear_error_within_the_timeout() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    let b = Broker::new(addr.clone(), ConnPurpose::Admin, cfg());
    let start = Instant::now();
    let e = b.send(MetadataRequest::default()).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(matches!(e, Error::Io { op: "connect", .. }), "{e:?}");
    assert!(e.to_string().contains(&addr), "{e}");
    // Repeated attempts back off instead of spinning, and still fail cleanly.
    let e = b.send(MetadataRequest::default()).await.unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
}

#[tokio::test]
async fn peer_that_never_answers_api_versions_times_out() {
    // Accepts TCP but never reads: the handshake stage must not hang.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut keep = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            keep.push(s);
        }
    });
    let b = Broker::new(addr, ConnPurpose::Admin, cfg());
    let start = Instant::now();
    let e = b.connection().await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_stalled_fetch_connection_does_not_delay_admin_requests() {
    // Connection 0 (Fetch) never answers, like a long poll; connection 1
    // (Admin) is healthy.
    let script = Arc::new(Script {
        connections: AtomicUsize::new(0),
        fault_for: |n| if n == 0 { Fault::Silent } else { Fault::None },
    });
    let addr = common::start(script).await;
    let fetch = Broker::new(addr.clone(), ConnPurpose::Fetch, cfg());
    fetch.connection().await.unwrap();
    let admin = Broker::new(addr, ConnPurpose::Admin, cfg());
    let stalled = tokio::spawn(async move { fetch.send(MetadataRequest::default()).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let start = Instant::now();
    for _ in 0..5 {
        assert_eq!(
            admin
                .send(MetadataRequest::default())
                .await
                .unwrap()
                .controller_id,
            7
        );
    }
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "admin waited {:?}",
        start.elapsed()
    );
    assert!(
        !stalled.is_finished(),
        "the stalled request should still be waiting"
    );
    let e = stalled.await.unwrap().unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
}

#[tokio::test]
async fn reconnect_attempts_back_off_exponentially() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    let cfg = Arc::new(
        ConnectionConfig::builder()
            .reconnect_backoff(Duration::from_millis(100))
            .reconnect_backoff_max(Duration::from_millis(400))
            .build(),
    );
    let b = Broker::new(addr, ConnPurpose::Admin, cfg);
    // Attempt 1 is immediate; each later one waits 100, 200, 400, 400 ms
    // (±20 % jitter) after the previous failure.
    let nominal = [0u64, 100, 200, 400, 400];
    for (i, ms) in nominal.into_iter().enumerate() {
        let start = Instant::now();
        let e = b.connection().await.unwrap_err();
        let took = start.elapsed();
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
        let lo = Duration::from_millis(ms * 8 / 10);
        let hi = Duration::from_millis(ms * 12 / 10 + 300);
        assert!(
            took >= lo && took <= hi,
            "attempt {i}: waited {took:?}, expected about {ms} ms"
        );
    }
}

#[tokio::test]
async fn idle_connection_is_closed_and_reopened_on_demand() {
    let script = Arc::new(Script {
        connections: AtomicUsize::new(0),
        fault_for: |_| Fault::None,
    });
    let addr = common::start(script.clone()).await;
    let cfg = Arc::new(
        ConnectionConfig::builder()
            .connections_max_idle(Duration::from_millis(100))
            // A reconnect after an idle close must not wait for this.
            .reconnect_backoff(Duration::from_secs(5))
            .reconnect_backoff_max(Duration::from_secs(5))
            .build(),
    );
    let b = Broker::new(addr, ConnPurpose::Admin, cfg);
    let first = b.connection().await.unwrap();
    tokio::time::timeout(Duration::from_secs(2), first.raw().closed())
        .await
        .expect("idle connection was not closed");
    let start = Instant::now();
    assert_eq!(
        b.send(MetadataRequest::default())
            .await
            .unwrap()
            .controller_id,
        7
    );
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "reconnect waited {:?}",
        start.elapsed()
    );
    assert_eq!(
        script.connections.load(std::sync::atomic::Ordering::SeqCst),
        2
    );
}

#[tokio::test]
async fn a_throttling_broker_holds_back_our_next_request() {
    // Metadata v12 (KIP-219 era): the broker answers at once with
    // throttle_time_ms and expects the client to wait before sending more.
    let script = Arc::new(Script {
        connections: AtomicUsize::new(0),
        fault_for: |_| Fault::Throttle,
    });
    let addr = common::start(script).await;
    let b = Broker::new(addr, ConnPurpose::Admin, cfg());
    let conn = b.connection().await.unwrap();
    let start = Instant::now();
    let first = conn.send(MetadataRequest::default()).await.unwrap();
    assert_eq!(first.throttle_time_ms, common::THROTTLE_MS);
    // A lower bound only: the second request cannot be written before the
    // throttle time, counted from the first answer, is over.
    let second = conn.send(MetadataRequest::default()).await.unwrap();
    assert_eq!(second.controller_id, 7);
    let throttle = Duration::from_millis(common::THROTTLE_MS as u64);
    assert!(
        start.elapsed() >= throttle,
        "the second request went out {:?} after the first, inside the {throttle:?} throttle",
        start.elapsed()
    );
    assert!(!conn.is_closed(), "throttling is not an error");
}
