//! Admin calls no local peer serves, against a real cluster named by
//! `KAFKA_BOOTSTRAP` (Apache Kafka 4.1+ for share groups): DeleteRecords,
//! CreatePartitions, ShareGroupDescribe (77) and the share-group offset APIs
//! (90-92). Skipped, with the reason printed, when the variable is unset.

use std::collections::BTreeMap;
use std::time::Duration;

use rkafka_client_core::admin::{Admin, NewPartitions, NewTopic, OffsetSpec};
use rkafka_client_core::{ClientConfig, Error, Target};
use rkafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use rkafka_protocol::messages::ProduceRequest;
use rkafka_test_support::raw;

const LIMIT: Duration = Duration::from_secs(120);

async fn admin() -> Option<Admin> {
    let Some(bootstrap) = rkafka_tests::external_bootstrap() else {
        eprintln!("SKIP: KAFKA_BOOTSTRAP is not set (these calls need a real Kafka cluster)");
        return None;
    };
    let cfg = ClientConfig::builder()
        .bootstrap_servers(bootstrap)
        .client_id("rkafka-admin-live-test")
        .default_api_timeout(Duration::from_secs(30))
        .build();
    Some(
        Admin::connect(cfg)
            .await
            .expect("connect to KAFKA_BOOTSTRAP"),
    )
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{nanos}")
}

/// A broker's answer (success or a typed error code), not a transport,
/// decoding or version failure.
fn answered<T: std::fmt::Debug>(r: &Result<T, Error>) {
    assert!(
        matches!(r, Ok(_) | Err(Error::Kafka { .. })),
        "expected an answer from the broker, got {r:?}"
    );
}

#[tokio::test]
async fn delete_records_and_create_partitions() {
    let Some(admin) = admin().await else { return };
    tokio::time::timeout(LIMIT, async {
        let topic = unique("rkafka-live-records");
        admin
            .create_topics(&[NewTopic::new(topic.clone(), 1, -1)], false)
            .await
            .unwrap()[&topic]
            .as_ref()
            .expect("created");
        let req = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(10_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic.clone())
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(raw::batch(None, &["a", "b", "c"])))])]);
        let build = |version: i16| {
            if version >= 13 {
                // v13 names topics by id only.
                let id = admin.client().metadata().topic(&topic).map(|t| t.id);
                let mut r = req.clone();
                r.topic_data[0].name.clear();
                r.topic_data[0].topic_id = id.unwrap_or_default();
                Ok(r)
            } else {
                Ok(req.clone())
            }
        };
        admin
            .client()
            .send_built(Target::leader(topic.as_str(), 0), build, raw::produce_error)
            .await
            .unwrap();
        let tp = (topic.clone(), 0);
        // By time: every record is stamped 1_700_000_000_000.
        for (asked, want) in [(1_699_000_000_000, 0), (1_800_000_000_000, -1)] {
            let by_time = admin
                .list_offsets(&[(tp.clone(), OffsetSpec::Timestamp(asked))].into(), false)
                .await
                .unwrap();
            let got = by_time[&tp].as_ref().unwrap();
            assert_eq!(got.offset, want, "offset for time {asked}: {got:?}");
        }
        let deleted = admin
            .delete_records(&[(tp.clone(), 2)].into())
            .await
            .unwrap();
        assert_eq!(*deleted[&tp].as_ref().unwrap(), 2);
        let earliest = admin
            .list_offsets(&[(tp.clone(), OffsetSpec::Earliest)].into(), false)
            .await
            .unwrap();
        assert_eq!(earliest[&tp].as_ref().unwrap().offset, 2);

        let more: BTreeMap<_, _> = [(
            topic.clone(),
            NewPartitions {
                total_count: 2,
                assignments: vec![],
            },
        )]
        .into();
        admin.create_partitions(&more, false).await.unwrap()[&topic]
            .as_ref()
            .expect("partition added");
        admin
            .delete_topics(std::slice::from_ref(&topic))
            .await
            .unwrap();
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn share_group_admin_calls_are_understood() {
    let Some(admin) = admin().await else { return };
    tokio::time::timeout(LIMIT, async {
        let topic = unique("rkafka-live-share");
        let group = unique("rkafka-live-share-group");
        admin
            .create_topics(&[NewTopic::new(topic.clone(), 1, -1)], false)
            .await
            .unwrap();

        let described = admin
            .describe_share_groups(std::slice::from_ref(&group))
            .await;
        answered(&described);
        if let Ok(d) = &described {
            answered(&d[&group]);
        }
        let offsets = admin.describe_share_group_offsets(&group, None).await;
        answered(&offsets);
        let altered = admin
            .alter_share_group_offsets(&group, &[((topic.clone(), 0), 0)].into())
            .await;
        answered(&altered);
        if let Ok(a) = &altered {
            for r in a.values() {
                answered(r);
            }
        }
        let deleted = admin
            .delete_share_group_offsets(&group, std::slice::from_ref(&topic))
            .await;
        answered(&deleted);
        admin
            .delete_topics(std::slice::from_ref(&topic))
            .await
            .unwrap();
    })
    .await
    .expect("test timed out");
}
