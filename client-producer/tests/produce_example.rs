//! The root package's `examples/produce.rs`, run for real against the mock:
//! plain and in a transaction, its records are in the log (read back with
//! raw Fetch), keyed as it says, and the transaction ends with a commit marker.

mod common;

use std::time::Duration;

use common::*;
use rkafka_tests::MockConfig;

fn run_example(args: &[&str]) -> String {
    rkafka_tests::run_example("rkafka", "produce", args, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_produce_example_delivers_plain_and_transactional_records() {
    rkafka_tests::skip_if_external!("reads the mock's log with raw fetches of a fresh topic");
    let mock = mock(MockConfig::brokers(1).topic("example", 1, 1));
    let bootstrap = mock.bootstrap().to_owned();

    let out = run_example(&[
        "--bootstrap",
        &bootstrap,
        "--topic",
        "example",
        "--count",
        "50",
    ]);
    assert!(
        out.contains("sent 50 records (0 failed) to example"),
        "{out}"
    );
    let out = run_example(&[
        "--bootstrap",
        &bootstrap,
        "--topic",
        "example",
        "--count",
        "20",
        "--compression",
        "zstd",
        "--transactional-id",
        "example-tx",
    ]);
    assert!(out.contains("sent 20 records (0 failed)"), "{out}");

    let client = reader(&bootstrap).await;
    let log = fetch_all(&client, "example", 0).await;
    let data: Vec<_> = log.iter().filter(|r| r.control.is_none()).collect();
    assert_eq!(data.len(), 70, "every record in the log once");
    for (i, r) in data.iter().enumerate() {
        let n = if i < 50 { i } else { i - 50 };
        assert_eq!(r.value.as_deref(), Some(format!("value-{n}").as_bytes()));
        assert_eq!(r.key.as_deref(), Some(format!("key-{}", n % 10).as_bytes()));
        assert_eq!(r.transactional, i >= 50);
    }
    assert_eq!(
        log.last().and_then(|r| r.control),
        Some(true),
        "the transaction ends with a commit marker"
    );
}
