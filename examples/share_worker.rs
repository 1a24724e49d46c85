//! A job-queue worker on a share group (KIP-932): every member of the group
//! takes jobs from the same topic, each job goes to one worker at a time,
//! and each is settled on its own: accepted when done, released for another
//! try when it failed, rejected once it has failed too often.
//!
//! ```text
//! cargo run --example share_worker -- --bootstrap localhost:9092 [--topic jobs] [--group workers]
//! ```
//! Start several to share the work. Ctrl-C closes the worker cleanly: jobs it
//! holds but did not finish go back to the others.

use std::time::Duration;

use rkafka::consumer::{
    AcknowledgeType, AcknowledgementMode, ShareConsumer, ShareConsumerConfig, ShareRecord,
};

/// Give up on a job after this many deliveries (the group's own
/// `group.share.delivery.count.limit`, 5 by default, archives it anyway).
const MAX_ATTEMPTS: i16 = 3;

fn arg(name: &str, default: Option<&str>) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| default.map(str::to_owned))
        .unwrap_or_else(|| {
            eprintln!("usage: share_worker --bootstrap HOST:PORT [--topic T] [--group G]");
            std::process::exit(2)
        })
}

/// The work itself: here, a job whose payload says "fail" fails.
async fn process(job: &ShareRecord) -> Result<(), String> {
    let body = String::from_utf8_lossy(job.value.as_deref().unwrap_or_default()).into_owned();
    if body.contains("fail") {
        return Err(format!("job {body:?} failed"));
    }
    println!(
        "done {}[{}]@{}: {body}",
        job.topic, job.partition, job.offset
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cfg = ShareConsumerConfig::builder()
        .bootstrap(arg("--bootstrap", None))
        .group_id(arg("--group", Some("workers")))
        .topics(vec![arg("--topic", Some("jobs"))])
        .acknowledgement_mode(AcknowledgementMode::Explicit)
        .max_poll_records(50)
        .build();
    let mut worker = ShareConsumer::connect(cfg).await?;
    worker.set_acknowledgement_commit_callback(|outcome| {
        if let Some(e) = &outcome.error {
            // E.g. INVALID_RECORD_STATE: the lock expired before we answered
            // and the job went to someone else.
            eprintln!(
                "acks for {} {:?} failed: {e}",
                outcome.partition, outcome.offsets
            );
        }
    });
    loop {
        let jobs = tokio::select! {
            jobs = worker.poll(Duration::from_secs(1)) => jobs?,
            _ = tokio::signal::ctrl_c() => break,
        };
        for job in &jobs {
            let verdict = match process(job).await {
                Ok(()) => AcknowledgeType::Accept,
                Err(e) if job.delivery_count < MAX_ATTEMPTS => {
                    eprintln!("{e} (attempt {}), releasing", job.delivery_count);
                    AcknowledgeType::Release
                }
                Err(e) => {
                    eprintln!("{e} (attempt {}), rejecting", job.delivery_count);
                    AcknowledgeType::Reject
                }
            };
            worker.acknowledge(job, verdict)?;
        }
        // Send the verdicts now rather than with the next fetch.
        if !jobs.is_empty() {
            worker.commit_async()?;
        }
    }
    worker.close(Duration::from_secs(10)).await;
    Ok(())
}
