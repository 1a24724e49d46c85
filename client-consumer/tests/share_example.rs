//! The root package's `examples/share_worker.rs`, run for real against the
//! mock: it finishes the good jobs, releases the failing one until its third
//! delivery, then rejects it, and exits cleanly on Ctrl-C (SIGINT).

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_share_worker_example_accepts_releases_and_rejects() {
    rkafka_tests::skip_if_external!("uses the mock");
    let example =
        rkafka_tests::build_example("rkafka", "share_worker").unwrap_or_else(|e| panic!("{e}"));
    let m = mock(1, &[("jobs", 1)]);
    let p = producer(m.bootstrap()).await;
    produce_values(&p, "jobs", 0, &["j0", "j1", "please fail", "j3"]).await;
    let mut child = tokio::process::Command::new(example)
        .args([
            "--bootstrap",
            m.bootstrap(),
            "--topic",
            "jobs",
            "--group",
            "w",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("example starts");
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut done, mut rejected, mut releases) = (0, false, 0);
    let end = Instant::now() + Duration::from_secs(30);
    while (done < 3 || !rejected) && Instant::now() < end {
        tokio::select! {
            Ok(Some(line)) = out.next_line() => if line.starts_with("done ") { done += 1 },
            Ok(Some(line)) = err.next_line() => {
                releases += usize::from(line.contains("releasing"));
                rejected |= line.contains("(attempt 3), rejecting");
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    assert_eq!((done, releases, rejected), (3, 2, true));
    let pid = child.id().expect("running").to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits after Ctrl-C")
        .unwrap();
    assert!(status.success(), "{status}");
}
