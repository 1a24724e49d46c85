//! The harness itself: peers start, answer, carry real traffic, and are gone after drop.
//!
//! These need the peers (`just peers`); a missing peer fails the test with the
//! harness's message naming it.

use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use rkafka_tests::{
    free_port, librdkafka_roundtrip, process_is_running, run_python, HarnessError, MockCluster,
    MockConfig, Stunnel, Tansu, TansuConfig, TlsMaterial,
};

/// API keys seen in the traffic below.
const PRODUCE: i16 = 0;
const FETCH: i16 = 1;
const API_VERSIONS: i16 = 18;

fn started<T>(peer: Result<T, HarnessError>) -> T {
    peer.unwrap_or_else(|e| panic!("{e}"))
}

/// Waits (briefly) for a killed process to disappear; reaping happens in drop, so this
/// should be immediate.
fn gone_soon(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while process_is_running(pid) {
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    true
}

/// The round trip failed at produce time (not, say, because Python is missing).
fn assert_delivery_failed(result: Result<usize, HarnessError>, what: &str) {
    match result {
        Err(HarnessError::Failed { detail, .. }) => {
            assert!(detail.contains("produce failed"), "{what}: {detail}")
        }
        other => panic!("{what} was served: {other:?}"),
    }
}

#[test]
fn three_broker_mock_starts_and_every_broker_accepts_tcp() {
    let mock = started(MockCluster::start(MockConfig::brokers(3).topic("t", 4, 3)));
    let ids: Vec<i32> = mock.brokers().iter().map(|b| b.0).collect();
    assert_eq!(ids, [1, 2, 3]);
    for &(id, port) in mock.brokers() {
        TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("broker {id} on port {port}: {e}"));
        assert!(
            mock.bootstrap().contains(&format!("127.0.0.1:{port}")),
            "{} lacks broker {id}",
            mock.bootstrap()
        );
    }
    assert!(mock.librdkafka_version().starts_with("2."));
}

#[test]
fn mock_control_commands_answer_ok_or_refuse() {
    let mock = started(MockCluster::start(MockConfig::brokers(3)));
    assert_eq!(mock.control("ping").unwrap(), "pong");
    mock.create_topic("c", 2, 3).unwrap();
    mock.set_leader("c", 0, 2).unwrap();
    mock.push_errors(PRODUCE, &["NOT_LEADER_OR_FOLLOWER", "7"])
        .unwrap();
    mock.control("clear_errors 0").unwrap();
    mock.control("broker_errors 2 1 NOT_LEADER_OR_FOLLOWER:10 REQUEST_TIMED_OUT")
        .unwrap();
    // The per-broker stack really holds what was pushed.
    assert_eq!(mock.control("error_stack 2 1").unwrap(), "2");
    assert_eq!(mock.control("error_stack 3 1").unwrap(), "0");
    mock.broker_down(3).unwrap();
    mock.broker_up(3).unwrap();
    for command in [
        "rtt 1 5",
        "apiversion 3 0 9",
        "advertise 1 127.0.0.1 1",
        "coordinator group g 2",
        "share_earliest 1",
        "share_lock_ms 2000",
        "cgrp_session_ms 6000",
        "track_start",
    ] {
        mock.control(command)
            .unwrap_or_else(|e| panic!("{command}: {e}"));
    }
    match mock.control("no_such_command") {
        Err(HarnessError::Refused { answer, .. }) => assert!(answer.starts_with("ERR")),
        other => panic!("an unknown command was not refused: {other:?}"),
    }
    // A bad argument is refused, and the pipe stays in step for the next command.
    assert!(matches!(
        mock.control("topic onlyname"),
        Err(HarnessError::Refused { .. })
    ));
    assert!(matches!(
        mock.control("leader c 0 99"),
        Err(HarnessError::Refused { .. })
    ));
    assert_eq!(mock.control("ping").unwrap(), "pong");
}

#[test]
fn librdkafka_round_trip_through_the_mock_is_recorded_with_versions() {
    let mock = started(MockCluster::start(
        MockConfig::brokers(3).topic("rt", 1, 3).record_versions(),
    ));
    mock.set_leader("rt", 0, 2).unwrap();
    let in_order = librdkafka_roundtrip(mock.bootstrap(), "rt", 50, &[]).unwrap();
    assert_eq!(in_order, 50);

    let requests = mock.requests().unwrap();
    let leader_got = |key: i16| {
        requests
            .iter()
            .any(|r| r.broker == 2 && r.api_key == key && r.api_version.is_some())
    };
    assert!(
        leader_got(PRODUCE),
        "no Produce at the leader: {requests:?}"
    );
    assert!(leader_got(FETCH), "no Fetch at the leader: {requests:?}");
    assert!(
        !requests
            .iter()
            .any(|r| r.broker != 2 && (r.api_key == PRODUCE || r.api_key == FETCH)),
        "Produce/Fetch reached a follower: {requests:?}"
    );
    // librdkafka asks ApiVersions v3 first; the mock only has up to v2.
    assert!(requests
        .iter()
        .any(|r| r.api_key == API_VERSIONS && r.api_version == Some(3)));
    mock.clear_requests().unwrap();
    assert!(mock.requests().unwrap().is_empty());
}

#[test]
fn mock_request_tracking_without_the_proxy_reports_keys() {
    let mock = started(MockCluster::start(MockConfig {
        track_requests: true,
        ..MockConfig::brokers(1).topic("tr", 1, 1)
    }));
    assert_eq!(
        librdkafka_roundtrip(mock.bootstrap(), "tr", 5, &[]).unwrap(),
        5
    );
    let requests = mock.requests().unwrap();
    assert!(requests
        .iter()
        .any(|r| r.broker == 1 && r.api_key == PRODUCE && r.api_version.is_none()));
}

#[test]
fn librdkafka_round_trip_through_tansu() {
    let tansu = started(Tansu::start());
    let in_order = librdkafka_roundtrip(&tansu.bootstrap(), "harness-rt", 50, &[]).unwrap();
    assert_eq!(in_order, 50);
}

#[test]
fn tls_front_serves_the_right_ca_and_rejects_the_wrong_one() {
    let tls = started(TlsMaterial::generate());
    let tls_port = free_port().unwrap();
    let tansu = started(Tansu::start_with(TansuConfig {
        advertised_port: Some(tls_port),
        ..TansuConfig::default()
    }));
    let front = started(Stunnel::start(&tls, &[(tls_port, tansu.port())], false));
    assert_eq!(front.tls_port_for(tansu.port()), Some(tls_port));
    let ca = tls.ca_cert().display().to_string();
    let ssl = [
        ("security.protocol", "SSL"),
        ("ssl.ca.location", ca.as_str()),
    ];
    assert_eq!(
        librdkafka_roundtrip(&front.bootstrap(), "over-tls", 10, &ssl).unwrap(),
        10
    );

    let wrong = tls.wrong_ca_cert().display().to_string();
    let untrusted = [
        ("security.protocol", "SSL"),
        ("ssl.ca.location", wrong.as_str()),
        ("message.timeout.ms", "3000"),
    ];
    let refused = librdkafka_roundtrip(&front.bootstrap(), "over-tls", 1, &untrusted);
    assert_delivery_failed(refused, "a server certificate from an untrusted CA");
}

#[test]
fn mutual_tls_front_in_front_of_every_mock_broker() {
    let tls = started(TlsMaterial::generate());
    let mock = started(MockCluster::start(MockConfig::brokers(2).topic("m", 1, 2)));
    let mut routes = Vec::new();
    for &(id, port) in mock.brokers() {
        let tls_port = free_port().unwrap();
        mock.control(&format!("advertise {id} 127.0.0.1 {tls_port}"))
            .unwrap();
        routes.push((tls_port, port));
    }
    let front = started(Stunnel::start(&tls, &routes, true));
    let ca = tls.ca_cert().display().to_string();
    let cert = tls.client_cert().display().to_string();
    let key = tls.client_key().display().to_string();
    let with_cert = [
        ("security.protocol", "SSL"),
        ("ssl.ca.location", ca.as_str()),
        ("ssl.certificate.location", cert.as_str()),
        ("ssl.key.location", key.as_str()),
    ];
    assert_eq!(
        librdkafka_roundtrip(&front.bootstrap(), "m", 10, &with_cert).unwrap(),
        10
    );
    let without_cert = [
        ("security.protocol", "SSL"),
        ("ssl.ca.location", ca.as_str()),
        ("message.timeout.ms", "3000"),
    ];
    let refused = librdkafka_roundtrip(&front.bootstrap(), "m", 1, &without_cert);
    assert_delivery_failed(refused, "a client without a certificate");
}

#[test]
fn every_peer_process_is_gone_after_drop() {
    let mock = started(MockCluster::start(MockConfig::brokers(2)));
    let tansu = started(Tansu::start());
    let tls = started(TlsMaterial::generate());
    let front = started(Stunnel::start(
        &tls,
        &[(free_port().unwrap(), tansu.port())],
        false,
    ));
    let pids = [mock.pid(), tansu.pid(), front.pid()];
    let ports: Vec<u16> = mock.brokers().iter().map(|b| b.1).collect();
    let tls_dir = tls.dir().to_path_buf();
    for pid in pids {
        assert!(process_is_running(pid), "{pid} is not running before drop");
    }
    drop((mock, front, tansu, tls));
    for pid in pids {
        assert!(gone_soon(pid), "process {pid} survived its handle");
    }
    for port in ports {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still accepts connections"
        );
    }
    assert!(!tls_dir.exists(), "{} was not removed", tls_dir.display());
}

#[test]
fn python_helper_returns_stdout_and_reports_failures_and_timeouts() {
    let out = run_python(
        "import sys; print(sys.argv[1:])",
        &["a", "b"],
        Duration::from_secs(20),
    );
    assert_eq!(out.unwrap().trim(), "['a', 'b']");

    match run_python("import sys; sys.exit('boom')", &[], Duration::from_secs(20)) {
        Err(HarnessError::Failed { detail, .. }) => assert!(detail.contains("boom"), "{detail}"),
        other => panic!("a failing snippet was not a failure: {other:?}"),
    }

    let started_at = Instant::now();
    match run_python(
        "import time; time.sleep(60)",
        &[],
        Duration::from_millis(500),
    ) {
        Err(HarnessError::Timeout { .. }) => {}
        other => panic!("a hanging snippet did not time out: {other:?}"),
    }
    assert!(started_at.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_missing_peer_binary_is_named_in_the_error() {
    let missing = Tansu::start_with(TansuConfig {
        binary: Some("/nonexistent/tansu".into()),
        ..TansuConfig::default()
    });
    match missing {
        Err(e @ HarnessError::Missing { .. }) => {
            assert!(e.to_string().contains("/nonexistent/tansu"), "{e}")
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("started a binary that does not exist"),
    }
}

/// Only with `--features testcontainers` and a Docker engine (not in CI, which has
/// neither): the official image starts, serves librdkafka, and has share groups on.
#[cfg(feature = "testcontainers")]
#[test]
fn apache_kafka_container_round_trip_with_share_groups_enabled() {
    let kafka = started(rkafka_tests::KafkaContainer::start());
    assert_eq!(
        librdkafka_roundtrip(&kafka.bootstrap(), "container-rt", 20, &[]).unwrap(),
        20
    );
    assert_eq!(kafka.share_version().unwrap(), 1, "share groups are not on");
}
