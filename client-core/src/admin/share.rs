//! Share-group offsets (KIP-932): describe (API 90), alter (API 91) and
//! delete (API 92), all at the group coordinator.
//!
//! Request building and response reading are pure functions so they can be
//! checked against crafted responses; no test peer here serves these APIs.

use std::collections::BTreeMap;

use rkafka_protocol::messages::alter_share_group_offsets_request::{
    AlterShareGroupOffsetsRequestPartition, AlterShareGroupOffsetsRequestTopic,
};
use rkafka_protocol::messages::delete_share_group_offsets_request::DeleteShareGroupOffsetsRequestTopic;
use rkafka_protocol::messages::describe_share_group_offsets_request::{
    DescribeShareGroupOffsetsRequestGroup, DescribeShareGroupOffsetsRequestTopic,
};
use rkafka_protocol::messages::{
    AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse, DeleteShareGroupOffsetsRequest,
    DeleteShareGroupOffsetsResponse, DescribeShareGroupOffsetsRequest,
    DescribeShareGroupOffsetsResponse,
};

use super::offsets::{PartitionResults, TopicPartition};
use super::{check_code, retriable_code, Admin};
use crate::error::Error;
use crate::route::Target;

/// One share partition's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharePartitionOffset {
    /// The share-partition start offset (`-1` when not initialised).
    pub start_offset: i64,
    /// The leader epoch of the share partition (`-1` if unknown).
    pub leader_epoch: i32,
    /// The lag (`-1` when unknown; DescribeShareGroupOffsets v1+).
    pub lag: i64,
}

/// A share group's offsets, per partition.
pub type ShareGroupOffsets = PartitionResults<SharePartitionOffset>;

/// The DescribeShareGroupOffsets request for one group; `None` asks for
/// every topic the group has offsets for.
pub fn describe_share_offsets_request(
    group: &str,
    partitions: Option<&BTreeMap<String, Vec<i32>>>,
) -> DescribeShareGroupOffsetsRequest {
    let topics = partitions.map(|ps| {
        ps.iter()
            .map(|(t, parts)| {
                DescribeShareGroupOffsetsRequestTopic::default()
                    .with_topic_name(t.clone())
                    .with_partitions(parts.clone())
            })
            .collect()
    });
    DescribeShareGroupOffsetsRequest::default().with_groups(vec![
        DescribeShareGroupOffsetsRequestGroup::default()
            .with_group_id(group.to_owned())
            .with_topics(topics),
    ])
}

/// Reads one group's offsets from a DescribeShareGroupOffsets answer.
pub fn share_offsets_from(
    resp: &DescribeShareGroupOffsetsResponse,
    group: &str,
) -> Result<ShareGroupOffsets, Error> {
    let g = resp
        .groups
        .iter()
        .find(|g| g.group_id == group)
        .ok_or_else(|| super::missing(format!("group {group}")))?;
    check_code(
        || format!("DescribeShareGroupOffsets {group}"),
        g.error_code,
        g.error_message.clone(),
    )?;
    let mut out = BTreeMap::new();
    for t in &g.topics {
        for p in &t.partitions {
            let tp = (t.topic_name.clone(), p.partition_index);
            let r = check_code(
                || format!("DescribeShareGroupOffsets {group} {}-{}", tp.0, tp.1),
                p.error_code,
                p.error_message.clone(),
            )
            .map(|()| SharePartitionOffset {
                start_offset: p.start_offset,
                leader_epoch: p.leader_epoch,
                lag: p.lag,
            });
            out.insert(tp, r);
        }
    }
    Ok(out)
}

/// The AlterShareGroupOffsets request setting `offsets` for `group`.
pub fn alter_share_offsets_request(
    group: &str,
    offsets: &BTreeMap<TopicPartition, i64>,
) -> AlterShareGroupOffsetsRequest {
    let mut topics: Vec<AlterShareGroupOffsetsRequestTopic> = Vec::new();
    for ((t, p), off) in offsets {
        let part = AlterShareGroupOffsetsRequestPartition::default()
            .with_partition_index(*p)
            .with_start_offset(*off);
        match topics.iter_mut().find(|x| &x.topic_name == t) {
            Some(x) => x.partitions.push(part),
            None => topics.push(
                AlterShareGroupOffsetsRequestTopic::default()
                    .with_topic_name(t.clone())
                    .with_partitions(vec![part]),
            ),
        }
    }
    AlterShareGroupOffsetsRequest::default()
        .with_group_id(group.to_owned())
        .with_topics(topics)
}

/// Reads an AlterShareGroupOffsets answer.
pub fn altered_share_offsets_from(
    resp: &AlterShareGroupOffsetsResponse,
    group: &str,
) -> Result<PartitionResults<()>, Error> {
    check_code(
        || format!("AlterShareGroupOffsets {group}"),
        resp.error_code,
        resp.error_message.clone(),
    )?;
    let mut out = BTreeMap::new();
    for t in &resp.responses {
        for p in &t.partitions {
            let tp = (t.topic_name.clone(), p.partition_index);
            let r = check_code(
                || format!("AlterShareGroupOffsets {group} {}-{}", tp.0, tp.1),
                p.error_code,
                p.error_message.clone(),
            );
            out.insert(tp, r);
        }
    }
    Ok(out)
}

/// Reads a DeleteShareGroupOffsets answer, per topic.
pub fn deleted_share_offsets_from(
    resp: &DeleteShareGroupOffsetsResponse,
    group: &str,
) -> Result<BTreeMap<String, Result<(), Error>>, Error> {
    check_code(
        || format!("DeleteShareGroupOffsets {group}"),
        resp.error_code,
        resp.error_message.clone(),
    )?;
    Ok(resp
        .responses
        .iter()
        .map(|t| {
            let r = check_code(
                || format!("DeleteShareGroupOffsets {group} {}", t.topic_name),
                t.error_code,
                t.error_message.clone(),
            );
            (t.topic_name.clone(), r)
        })
        .collect())
}

impl Admin {
    /// Describes a share group's start offsets (and lag), for the given
    /// partitions or, with `None`, every partition it has state for.
    ///
    /// # Cancel safety
    /// Cancel safe (read only).
    pub async fn describe_share_group_offsets(
        &self,
        group: &str,
        partitions: Option<&BTreeMap<String, Vec<i32>>>,
    ) -> Result<ShareGroupOffsets, Error> {
        let req = describe_share_offsets_request(group, partitions);
        let resp = self
            .client
            .send_checked(Target::group(group), req, |r| {
                retriable_code(r.groups.iter().map(|g| g.error_code), &[])
            })
            .await?;
        share_offsets_from(&resp, group)
    }

    /// Sets a share group's start offsets (the group must be empty).
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: a cancelled call may or may not have
    /// moved the offsets.
    pub async fn alter_share_group_offsets(
        &self,
        group: &str,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<PartitionResults<()>, Error> {
        let req = alter_share_offsets_request(group, offsets);
        let resp = self
            .client
            .send_checked(Target::group(group), req, |r| {
                retriable_code([r.error_code], &[])
            })
            .await?;
        altered_share_offsets_from(&resp, group)
    }

    /// Deletes a share group's offsets for whole topics (the group must be
    /// empty).
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: a cancelled call may or may not have
    /// deleted the offsets.
    pub async fn delete_share_group_offsets(
        &self,
        group: &str,
        topics: &[String],
    ) -> Result<BTreeMap<String, Result<(), Error>>, Error> {
        let req = DeleteShareGroupOffsetsRequest::default()
            .with_group_id(group.to_owned())
            .with_topics(
                topics
                    .iter()
                    .map(|t| {
                        DeleteShareGroupOffsetsRequestTopic::default().with_topic_name(t.clone())
                    })
                    .collect(),
            );
        let resp = self
            .client
            .send_checked(Target::group(group), req, |r| {
                retriable_code([r.error_code], &[])
            })
            .await?;
        deleted_share_offsets_from(&resp, group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use rkafka_protocol::messages::alter_share_group_offsets_response::{
        AlterShareGroupOffsetsResponsePartition, AlterShareGroupOffsetsResponseTopic,
    };
    use rkafka_protocol::messages::delete_share_group_offsets_response::DeleteShareGroupOffsetsResponseTopic;
    use rkafka_protocol::messages::describe_share_group_offsets_response::{
        DescribeShareGroupOffsetsResponseGroup, DescribeShareGroupOffsetsResponsePartition,
        DescribeShareGroupOffsetsResponseTopic,
    };
    use rkafka_protocol::{ErrorCode, Message};

    /// Encodes at `version` and decodes again, as the wire would.
    fn wire<M: Message>(m: &M, version: i16) -> M {
        let mut buf = BytesMut::new();
        m.encode(&mut buf, version).unwrap();
        M::decode(&mut buf.freeze(), version).unwrap()
    }

    fn code_of<T: std::fmt::Debug>(r: &Result<T, Error>) -> ErrorCode {
        match r {
            Err(Error::Kafka { code, .. }) => *code,
            other => panic!("expected a Kafka error, got {other:?}"),
        }
    }

    #[test]
    fn describe_request_encodes_at_every_version() {
        let parts: BTreeMap<String, Vec<i32>> = [("t".to_owned(), vec![0, 2])].into();
        for req in [
            describe_share_offsets_request("g", Some(&parts)),
            describe_share_offsets_request("g", None),
        ] {
            for v in 0..=1 {
                assert_eq!(wire(&req, v), req);
            }
        }
        let all = describe_share_offsets_request("g", None);
        assert!(all.groups[0].topics.is_none(), "null topics = every topic");
    }

    #[test]
    fn delete_request_known_bytes() {
        let req = DeleteShareGroupOffsetsRequest::default()
            .with_group_id("g".into())
            .with_topics(vec![
                DeleteShareGroupOffsetsRequestTopic::default().with_topic_name("t".into())
            ]);
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 0).unwrap();
        // compact "g", compact array of 1 { compact "t", no tags }, no tags.
        assert_eq!(&buf[..], &[0x02, b'g', 0x02, 0x02, b't', 0x00, 0x00]);
    }

    #[test]
    fn alter_request_groups_partitions_by_topic() {
        let offsets: BTreeMap<TopicPartition, i64> = [
            (("a".to_owned(), 1), 10),
            (("a".to_owned(), 0), 5),
            (("b".to_owned(), 0), -1),
        ]
        .into();
        let req = wire(&alter_share_offsets_request("g", &offsets), 0);
        assert_eq!(req.group_id, "g");
        let shape: Vec<(String, Vec<(i32, i64)>)> = req
            .topics
            .iter()
            .map(|t| {
                let ps = t
                    .partitions
                    .iter()
                    .map(|p| (p.partition_index, p.start_offset));
                (t.topic_name.clone(), ps.collect())
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                ("a".to_owned(), vec![(0, 5), (1, 10)]),
                ("b".to_owned(), vec![(0, -1)])
            ]
        );
    }

    #[test]
    fn describe_response_gives_typed_per_partition_results() {
        let resp = DescribeShareGroupOffsetsResponse::default().with_groups(vec![
            DescribeShareGroupOffsetsResponseGroup::default()
                .with_group_id("g".into())
                .with_topics(vec![DescribeShareGroupOffsetsResponseTopic::default()
                    .with_topic_name("t".into())
                    .with_partitions(vec![
                        DescribeShareGroupOffsetsResponsePartition::default()
                            .with_partition_index(0)
                            .with_start_offset(42)
                            .with_leader_epoch(3)
                            .with_lag(7),
                        DescribeShareGroupOffsetsResponsePartition::default()
                            .with_partition_index(1)
                            .with_error_code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.code()),
                    ])]),
            DescribeShareGroupOffsetsResponseGroup::default()
                .with_group_id("locked".into())
                .with_error_code(ErrorCode::GROUP_AUTHORIZATION_FAILED.code())
                .with_error_message(Some("denied".into())),
        ]);
        for v in 0..=1 {
            let resp = wire(&resp, v);
            let got = share_offsets_from(&resp, "g").unwrap();
            let p0 = got[&("t".to_owned(), 0)].as_ref().unwrap();
            assert_eq!((p0.start_offset, p0.leader_epoch), (42, 3));
            // Lag only exists from v1 on; v0 decodes it as the default.
            assert_eq!(p0.lag, if v >= 1 { 7 } else { -1 });
            assert_eq!(
                code_of(&got[&("t".to_owned(), 1)]),
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            );
            let locked = share_offsets_from(&resp, "locked");
            assert_eq!(code_of(&locked), ErrorCode::GROUP_AUTHORIZATION_FAILED);
            assert!(locked.unwrap_err().to_string().contains("denied"));
            assert!(share_offsets_from(&resp, "absent").is_err());
        }
    }

    #[test]
    fn alter_and_delete_responses_top_level_and_per_item() {
        let alter = AlterShareGroupOffsetsResponse::default().with_responses(vec![
            AlterShareGroupOffsetsResponseTopic::default()
                .with_topic_name("t".into())
                .with_partitions(vec![
                    AlterShareGroupOffsetsResponsePartition::default().with_partition_index(0),
                    AlterShareGroupOffsetsResponsePartition::default()
                        .with_partition_index(1)
                        .with_error_code(ErrorCode::INVALID_REQUEST.code()),
                ]),
        ]);
        let got = altered_share_offsets_from(&wire(&alter, 0), "g").unwrap();
        assert!(got[&("t".to_owned(), 0)].is_ok());
        assert_eq!(
            code_of(&got[&("t".to_owned(), 1)]),
            ErrorCode::INVALID_REQUEST
        );
        let non_empty = AlterShareGroupOffsetsResponse::default()
            .with_error_code(ErrorCode::NON_EMPTY_GROUP.code());
        assert_eq!(
            code_of(&altered_share_offsets_from(&wire(&non_empty, 0), "g")),
            ErrorCode::NON_EMPTY_GROUP
        );

        let delete = DeleteShareGroupOffsetsResponse::default().with_responses(vec![
            DeleteShareGroupOffsetsResponseTopic::default().with_topic_name("a".into()),
            DeleteShareGroupOffsetsResponseTopic::default()
                .with_topic_name("b".into())
                .with_error_code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.code()),
        ]);
        let got = deleted_share_offsets_from(&wire(&delete, 0), "g").unwrap();
        assert!(got["a"].is_ok());
        assert_eq!(code_of(&got["b"]), ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        let missing = DeleteShareGroupOffsetsResponse::default()
            .with_error_code(ErrorCode::GROUP_ID_NOT_FOUND.code());
        assert_eq!(
            code_of(&deleted_share_offsets_from(&wire(&missing, 0), "g")),
            ErrorCode::GROUP_ID_NOT_FOUND
        );
    }
}
