//! Building ShareFetch and ShareAcknowledge requests from a session plan
//! and queued acknowledgements (pure code).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use rkafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch as AckReqBatch,
};
use rkafka_protocol::messages::share_fetch_request::{
    AcknowledgementBatch, FetchPartition, FetchTopic, ForgottenTopic,
};
use rkafka_protocol::messages::{ShareAcknowledgeRequest, ShareFetchRequest};
use uuid::Uuid;

use super::acks::{encode, RENEW};
use super::session::{FetchPlan, Tip};

/// One partition's queued acknowledgements for one broker.
#[derive(Debug, Clone)]
pub(crate) struct PartAcks {
    /// Topic name for reports.
    pub topic: Arc<str>,
    /// Offset → type code.
    pub offsets: BTreeMap<i64, i8>,
    /// Retry (standalone ShareAcknowledge) until then.
    pub retry_until: Instant,
}

impl PartAcks {
    /// Whether any offset is a RENEW (needs `IsRenewAck`).
    pub fn has_renew(&self) -> bool {
        self.offsets.values().any(|&t| t == RENEW)
    }

    /// Merges later acks in (a later ack of the same offset wins).
    pub fn merge(&mut self, other: PartAcks) {
        self.offsets.extend(other.offsets);
        self.retry_until = self.retry_until.max(other.retry_until);
    }
}

/// What a fetch asks beyond the session plan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchLimits {
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub max_records: i32,
    pub acquire_mode: i8,
}

impl FetchLimits {
    /// Acks and session changes only: return at once, acquire nothing.
    pub const NONE: FetchLimits = FetchLimits {
        max_wait_ms: 0,
        min_bytes: 0,
        max_bytes: 0,
        max_records: 0,
        acquire_mode: 0,
    };
}

fn group_by_topic(tips: impl IntoIterator<Item = Tip>) -> BTreeMap<Uuid, BTreeSet<i32>> {
    let mut m: BTreeMap<Uuid, BTreeSet<i32>> = BTreeMap::new();
    for (t, p) in tips {
        m.entry(t).or_default().insert(p);
    }
    m
}

/// A ShareFetch for `plan`, with `acks` riding along (the caller passes
/// none when the plan does not allow them).
pub(crate) fn share_fetch(
    group: &str,
    member: &str,
    plan: &FetchPlan,
    acks: &BTreeMap<Tip, PartAcks>,
    limits: FetchLimits,
) -> ShareFetchRequest {
    let listed = plan.topics.iter().chain(acks.keys()).copied();
    let topics = group_by_topic(listed)
        .into_iter()
        .map(|(id, parts)| {
            let partitions = parts
                .into_iter()
                .map(|p| {
                    let batches = acks
                        .get(&(id, p))
                        .map(|a| encode(&a.offsets))
                        .unwrap_or_default();
                    FetchPartition::default()
                        .with_partition_index(p)
                        .with_acknowledgement_batches(
                            batches
                                .into_iter()
                                .map(|b| {
                                    AcknowledgementBatch::default()
                                        .with_first_offset(b.first)
                                        .with_last_offset(b.last)
                                        .with_acknowledge_types(b.types)
                                })
                                .collect(),
                        )
                })
                .collect();
            FetchTopic::default()
                .with_topic_id(id)
                .with_partitions(partitions)
        })
        .collect();
    let forgotten = group_by_topic(plan.forgotten.iter().copied())
        .into_iter()
        .map(|(id, parts)| {
            ForgottenTopic::default()
                .with_topic_id(id)
                .with_partitions(parts.into_iter().collect())
        })
        .collect();
    ShareFetchRequest::default()
        .with_group_id(Some(group.to_owned()))
        .with_member_id(Some(member.to_owned()))
        .with_share_session_epoch(plan.epoch)
        .with_max_wait_ms(limits.max_wait_ms)
        .with_min_bytes(limits.min_bytes)
        .with_max_bytes(limits.max_bytes)
        .with_max_records(limits.max_records)
        .with_batch_size(limits.max_records)
        .with_share_acquire_mode(limits.acquire_mode)
        .with_topics(topics)
        .with_forgotten_topics_data(forgotten)
}

/// A standalone ShareAcknowledge at `epoch` (-1 closes the session).
pub(crate) fn share_acknowledge(
    group: &str,
    member: &str,
    epoch: i32,
    acks: &BTreeMap<Tip, PartAcks>,
) -> ShareAcknowledgeRequest {
    let renew = acks.values().any(PartAcks::has_renew);
    let topics = group_by_topic(acks.keys().copied())
        .into_iter()
        .map(|(id, parts)| {
            let partitions = parts
                .into_iter()
                .map(|p| {
                    let batches = acks
                        .get(&(id, p))
                        .map(|a| encode(&a.offsets))
                        .unwrap_or_default();
                    AcknowledgePartition::default()
                        .with_partition_index(p)
                        .with_acknowledgement_batches(
                            batches
                                .into_iter()
                                .map(|b| {
                                    AckReqBatch::default()
                                        .with_first_offset(b.first)
                                        .with_last_offset(b.last)
                                        .with_acknowledge_types(b.types)
                                })
                                .collect(),
                        )
                })
                .collect();
            AcknowledgeTopic::default()
                .with_topic_id(id)
                .with_partitions(partitions)
        })
        .collect();
    ShareAcknowledgeRequest::default()
        .with_group_id(Some(group.to_owned()))
        .with_member_id(Some(member.to_owned()))
        .with_share_session_epoch(epoch)
        .with_is_renew_ack(renew)
        .with_topics(topics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::session::Session;

    fn acks_for(tip: Tip, pairs: &[(i64, i8)]) -> BTreeMap<Tip, PartAcks> {
        let mut m = BTreeMap::new();
        m.insert(
            tip,
            PartAcks {
                topic: "t".into(),
                offsets: pairs.iter().copied().collect(),
                retry_until: Instant::now(),
            },
        );
        m
    }

    #[test]
    fn fetch_carries_adds_acks_and_forgets() {
        let t = Uuid::from_u128(1);
        let mut s = Session::default();
        let wanted: BTreeSet<Tip> = [(t, 0), (t, 1)].into();
        s.on_fetch_done(s.plan_fetch(&wanted, &BTreeSet::new()));
        let acks = acks_for((t, 0), &[(4, 1), (5, 1)]);
        let plan = s.plan_fetch(&[(t, 0)].into(), &acks.keys().copied().collect());
        let limits = FetchLimits {
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 1 << 20,
            max_records: 10,
            acquire_mode: 0,
        };
        let req = share_fetch("g", "m", &plan, &acks, limits);
        assert_eq!(req.share_session_epoch, 1);
        assert_eq!(req.topics.len(), 1);
        assert_eq!(req.topics[0].partitions.len(), 1);
        let b = &req.topics[0].partitions[0].acknowledgement_batches;
        assert_eq!(
            (
                b[0].first_offset,
                b[0].last_offset,
                b[0].acknowledge_types.clone()
            ),
            (4, 5, vec![1])
        );
        assert_eq!(req.forgotten_topics_data[0].partitions, vec![1]);
        assert_eq!(req.batch_size, 10);
        assert!(!req.is_renew_ack);
    }

    #[test]
    fn acknowledge_with_renew_sets_the_flag() {
        let t = Uuid::from_u128(1);
        let req = share_acknowledge("g", "m", 3, &acks_for((t, 2), &[(1, 4)]));
        assert!(req.is_renew_ack);
        assert_eq!(req.share_session_epoch, 3);
        let req = share_acknowledge("g", "m", -1, &acks_for((t, 2), &[(1, 2)]));
        assert!(!req.is_renew_ack);
        assert_eq!(req.share_session_epoch, -1);
    }
}
