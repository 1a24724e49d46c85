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
