//! Issue 5, test 8: one rkafka and one confluent_kafka (librdkafka)
//! ShareConsumer in the same group on the mock: together they get every
//! record, none twice.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use rkafka_client_consumer::{AcknowledgeType, AcknowledgementMode};

const PEER: &str = r#"
import sys, time
from confluent_kafka import ShareConsumer
from confluent_kafka._model import AcknowledgeType as A
bs, group, topic, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
c = ShareConsumer({"bootstrap.servers": bs, "group.id": group,
                   "share.acknowledgement.mode": "explicit", "log_level": 3})
c.subscribe([topic])
print("READY", flush=True)
end = time.time() + secs
while time.time() < end:
    for m in c.poll(0.2):
        if m.error():
            continue
        print(f"R {m.partition()} {m.offset()} {m.delivery_count()}", flush=True)
        c.acknowledge(m, A.ACCEPT)
try:
    c.commit_sync(5)
except Exception as e:
    print("commit", e, file=sys.stderr)
c.close()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rkafka_and_librdkafka_share_a_group() {
    rkafka_tests::skip_if_external!("controls the mock's share group");
    let m = mock(1, &[("t", 2)]);
    let bootstrap = m.bootstrap().to_owned();
    let mut c = consumer(&bootstrap, "g8", &["t"], AcknowledgementMode::Explicit).await;
    let peer_bs = bootstrap.clone();
    let peer = tokio::task::spawn_blocking(move || {
        rkafka_tests::run_python(PEER, &[&peer_bs, "g8", "t", "14"], Duration::from_secs(40))
    });
    // Both members in the group and assigned before any record exists.
    let end = Instant::now() + Duration::from_secs(15);
    while Instant::now() < end {
        c.poll(Duration::from_millis(100)).await.unwrap();
        if control(&m, "share_members g8")
            .await
            .split_whitespace()
            .count()
            >= 2
        {
            break;
        }
    }
    let settle = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < settle {
        c.poll(Duration::from_millis(100)).await.unwrap();
    }
    let p = producer(&bootstrap).await;
    produce(&p, "t", 0, 200, "a").await;
    produce(&p, "t", 1, 200, "b").await;
    let mut ours = Seen::new();
    while !peer.is_finished() {
        for r in c.poll(Duration::from_millis(200)).await.unwrap() {
            ours.entry((r.partition, r.offset))
                .or_default()
                .push(r.delivery_count);
            c.acknowledge(&r, AcknowledgeType::Accept).unwrap();
        }
    }
    let out = peer.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
    let mut theirs: BTreeMap<(i32, i64), Vec<i16>> = BTreeMap::new();
    for line in out.lines().filter_map(|l| l.strip_prefix("R ")) {
        let f: Vec<i64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
        theirs
            .entry((f[0] as i32, f[1]))
            .or_default()
            .push(f[2] as i16);
    }
    let n = assert_no_duplicates(&[&ours, &theirs]);
    assert_eq!(n, 400, "ours {} theirs {}", ours.len(), theirs.len());
    assert!(
        !ours.is_empty() && !theirs.is_empty(),
        "ours {} theirs {}",
        ours.len(),
        theirs.len()
    );
    c.close(Duration::from_secs(5)).await;
}
