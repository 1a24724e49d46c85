//! Connects to a cluster, lists its brokers, creates a topic and describes it.
//!
//! ```text
//! cargo run -p rkafka-client-core --example admin -- --bootstrap localhost:9092 [--topic NAME]
//! ```
//! The bootstrap list may also come from `KAFKA_BOOTSTRAP`.

use std::time::Duration;

use rkafka_client_core::admin::{Admin, NewTopic};
use rkafka_client_core::ClientConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut bootstrap = std::env::var("KAFKA_BOOTSTRAP").ok();
    let mut topic = String::from("rkafka-admin-example");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bootstrap" => bootstrap = args.next(),
            "--topic" => topic = args.next().ok_or("--topic needs a value")?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let bootstrap = bootstrap.ok_or("pass --bootstrap HOST:PORT or set KAFKA_BOOTSTRAP")?;

    let cfg = ClientConfig::builder()
        .bootstrap_servers(bootstrap)
        .client_id("rkafka-admin-example")
        .default_api_timeout(Duration::from_secs(20))
        .build();
    let admin = Admin::connect(cfg).await?;

    let cluster = admin.describe_cluster().await?;
    println!(
        "cluster {} (controller {:?})",
        cluster.cluster_id, cluster.controller_id
    );
    for b in &cluster.brokers {
        println!("  broker {} at {}", b.id, b.addr());
    }

    // Servers without CreateTopics (librdkafka's mock) answer with a typed
    // error; the topic may exist already, so describe it either way.
    match admin
        .create_topics(&[NewTopic::new(topic.clone(), 3, 1)], false)
        .await
    {
        Ok(created) => match &created[&topic] {
            Ok(id) => println!("created {topic} (id {id})"),
            Err(e) => println!("create {topic}: {e}"),
        },
        Err(e) => println!("create {topic}: {e}"),
    }

    let described = admin.describe_topics(std::slice::from_ref(&topic)).await?;
    let d = described[&topic].as_ref().map_err(|e| e.to_string())?;
    println!(
        "{} (id {}), {} partitions:",
        d.name,
        d.id,
        d.partitions.len()
    );
    for p in &d.partitions {
        println!(
            "  partition {} leader {:?} epoch {} replicas {:?} isr {:?}",
            p.partition, p.leader, p.leader_epoch, p.replicas, p.isr
        );
    }
    Ok(())
}
