//! Partition-leader calls: list offsets and delete records.
//!
//! Both go to each partition's leader, batched into one request per broker.
//! Partitions whose leader moved (per-partition `NOT_LEADER_OR_FOLLOWER`,
//! `UNKNOWN_TOPIC_OR_PARTITION` while a topic is created, ...) are routed
//! again after a metadata refresh; the others keep their first answer.

use std::collections::BTreeMap;
use std::future::Future;

use futures_util::future::join_all;
use rkafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use rkafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use rkafka_protocol::messages::{DeleteRecordsRequest, ListOffsetsRequest};
use rkafka_protocol::ErrorCode;
use tokio::time::Instant;

use super::{check_code, Admin};
use crate::error::Error;
use crate::retry::{classify_code, classify_error, RetryBackoff};
use crate::route::Target;

/// A topic name and partition index.
pub type TopicPartition = (String, i32);

/// Which offset to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The high watermark (or the last stable offset under read_committed).
    Latest,
    /// The offset and timestamp of the record with the highest timestamp
    /// (ListOffsets v7+).
    MaxTimestamp,
    /// The first offset whose timestamp is at or after this (ms since epoch).
    Timestamp(i64),
}

impl OffsetSpec {
    /// The `timestamp` field value that asks for this.
    pub fn wire_timestamp(self) -> i64 {
        match self {
            Self::Earliest => -2,
            Self::Latest => -1,
            Self::MaxTimestamp => -3,
            Self::Timestamp(t) => t,
        }
    }
}

/// One partition's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset (`-1` when no record matches a timestamp).
    pub offset: i64,
    /// The record's timestamp (`-1` unless asked by timestamp).
    pub timestamp: i64,
    /// The leader epoch of that offset, if known (`-1` otherwise).
    pub leader_epoch: i32,
}

/// Per-partition outcome.
pub type PartitionResults<T> = BTreeMap<TopicPartition, Result<T, Error>>;

impl Admin {
    /// Looks up offsets, one request per leader. `read_committed` lists the
    /// last stable offset instead of the high watermark for `Latest`.
    ///
    /// # Cancel safety
    /// Cancel safe (read only).
    pub async fn list_offsets(
        &self,
        specs: &BTreeMap<TopicPartition, OffsetSpec>,
        read_committed: bool,
    ) -> Result<PartitionResults<ListedOffset>, Error> {
        let items: Vec<(TopicPartition, OffsetSpec)> =
            specs.iter().map(|(k, v)| (k.clone(), *v)).collect();
        self.by_leader(items, |broker, batch| async move {
            let md = self.client.metadata();
            let build = |version: i16| {
                let mut req = ListOffsetsRequest::default()
                    .with_replica_id(-1)
                    .with_topics(
                        group_topics(&batch, |t, p, spec: &OffsetSpec| {
                            // KIP-320: the leader fences requests made with a
                            // stale view (FENCED_LEADER_EPOCH -> refresh).
                            let epoch = match version {
                                4.. => md.leader_epoch(t, p).unwrap_or(-1),
                                _ => -1,
                            };
                            ListOffsetsPartition::default()
                                .with_partition_index(p)
                                .with_current_leader_epoch(epoch)
                                .with_timestamp(spec.wire_timestamp())
                        })
                        .into_iter()
                        .map(|(name, parts)| {
                            ListOffsetsTopic::default()
                                .with_name(name)
                                .with_partitions(parts)
                        })
                        .collect(),
                    );
                if version >= 2 {
                    req = req.with_isolation_level(i8::from(read_committed));
                }
                Ok(req)
            };
            let resp = self.client.send_once(Target::Broker(broker), build).await?;
            let mut out = Vec::new();
            for t in resp.topics {
                for p in t.partitions {
                    let tp = (t.name.clone(), p.partition_index);
                    let what = || format!("ListOffsets {}-{}", tp.0, tp.1);
                    let r = check_code(what, p.error_code, None).map(|()| ListedOffset {
                        offset: p.offset,
                        timestamp: p.timestamp,
                        leader_epoch: p.leader_epoch,
                    });
                    out.push((tp, r));
                }
            }
            Ok(out)
        })
        .await
    }

    /// Deletes records before the given offsets (`-1`: the high watermark),
    /// returning each partition's new low watermark.
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: a cancelled call may or may not have
    /// deleted the records.
    pub async fn delete_records(
        &self,
        before: &BTreeMap<TopicPartition, i64>,
    ) -> Result<PartitionResults<i64>, Error> {
        let timeout_ms = self.server_timeout_ms();
        let items: Vec<(TopicPartition, i64)> =
            before.iter().map(|(k, v)| (k.clone(), *v)).collect();
        self.by_leader(items, |broker, batch| async move {
            let req = DeleteRecordsRequest::default()
                .with_timeout_ms(timeout_ms)
                .with_topics(
                    group_topics(&batch, |_, p, offset: &i64| {
                        DeleteRecordsPartition::default()
                            .with_partition_index(p)
                            .with_offset(*offset)
                    })
                    .into_iter()
                    .map(|(name, parts)| {
                        DeleteRecordsTopic::default()
                            .with_name(name)
                            .with_partitions(parts)
                    })
                    .collect(),
                );
            let resp = self
                .client
                .send_once(Target::Broker(broker), |_| Ok(req.clone()))
                .await?;
            let mut out = Vec::new();
            for t in resp.topics {
                for p in t.partitions {
                    let tp = (t.name.clone(), p.partition_index);
                    let what = || format!("DeleteRecords {}-{}", tp.0, tp.1);
                    let r = check_code(what, p.error_code, None).map(|()| p.low_watermark);
                    out.push((tp, r));
                }
            }
            Ok(out)
        })
        .await
    }

    /// Runs `call` once per leader with that leader's partitions, and again
    /// for partitions that must be re-routed, until the deadline.
    async fn by_leader<P, T, F, Fut>(
        &self,
        items: Vec<(TopicPartition, P)>,
        call: F,
    ) -> Result<PartitionResults<T>, Error>
    where
        P: Clone,
        F: Fn(i32, Vec<(TopicPartition, P)>) -> Fut,
        Fut: Future<Output = Result<Vec<(TopicPartition, Result<T, Error>)>, Error>>,
    {
        let cfg = self.client.config();
        let deadline = Instant::now() + cfg.default_api_timeout;
        let mut backoff = RetryBackoff::new(cfg.retry_backoff, cfg.retry_backoff_max, deadline);
        let mut done: PartitionResults<T> = BTreeMap::new();
        let mut pending = items;
        let mut topics: Vec<String> = pending.iter().map(|((t, _), _)| t.clone()).collect();
        topics.sort();
        topics.dedup();
        let mut last_err: BTreeMap<TopicPartition, Error> = BTreeMap::new();
        let mut need_refresh = pending
            .iter()
            .any(|((t, p), _)| self.client.metadata().leader(t, *p).is_none());
        loop {
            if need_refresh {
                let refresh = self.client.refresh_metadata(&topics);
                if let Ok(Err(e)) = tokio::time::timeout(backoff.remaining(), refresh).await {
                    if !classify_error(&e).is_retry() {
                        return Err(e);
                    }
                }
            }
            let md = self.client.metadata();
            let mut by_broker: BTreeMap<i32, Vec<(TopicPartition, P)>> = BTreeMap::new();
            let mut retry = Vec::new();
            for (tp, p) in pending {
                match md.leader(&tp.0, tp.1) {
                    Some(b) => by_broker.entry(b.id).or_default().push((tp, p)),
                    None => {
                        let code = unroutable(&md, &tp);
                        last_err.insert(tp.clone(), kafka(&tp, code));
                        // Fresh metadata saying the topic or partition does
                        // not exist is an answer, as in the Java admin.
                        let fresh = need_refresh && code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
                        if !fresh && classify_code(code).is_retry() {
                            retry.push((tp, p));
                        } else {
                            done.insert(tp.clone(), Err(kafka(&tp, code)));
                        }
                    }
                }
            }
            // One request per leader, all in flight at once.
            let call = &call;
            let calls = by_broker
                .into_iter()
                .map(|(broker, batch)| async move { (call(broker, batch.clone()).await, batch) });
            for (outcome, batch) in join_all(calls).await {
                match outcome {
                    Ok(results) => {
                        for (tp, r) in results {
                            let Some(pos) = batch.iter().position(|(b, _)| *b == tp) else {
                                continue;
                            };
                            match r {
                                Err(e) if classify_error(&e).is_retry() => {
                                    last_err.insert(tp.clone(), e);
                                    retry.push(batch[pos].clone());
                                }
                                r => {
                                    done.insert(tp, r);
                                }
                            }
                        }
                        for (tp, p) in batch {
                            if !done.contains_key(&tp) && !retry.iter().any(|(r, _)| *r == tp) {
                                retry.push((tp, p));
                            }
                        }
                    }
                    Err(e) if classify_error(&e).is_retry() => {
                        for (tp, p) in batch {
                            last_err.insert(tp.clone(), e.clone());
                            retry.push((tp, p));
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            pending = retry;
            if pending.is_empty() || !backoff.wait().await {
                break;
            }
            need_refresh = true;
        }
        for (tp, _) in pending {
            let e = last_err
                .remove(&tp)
                .unwrap_or_else(|| kafka(&tp, ErrorCode::REQUEST_TIMED_OUT));
            done.insert(tp, Err(e));
        }
        Ok(done)
    }
}

/// Why metadata gives no leader for `tp`.
fn unroutable(md: &crate::metadata::ClusterMetadata, tp: &TopicPartition) -> ErrorCode {
    if let Some(&code) = md.topic_errors.get(&tp.0) {
        return code;
    }
    match md.topic(&tp.0).map(|t| t.partitions.get(&tp.1)) {
        Some(None) => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        Some(Some(p)) if !p.error.is_ok() => p.error,
        _ => ErrorCode::LEADER_NOT_AVAILABLE,
    }
}

fn kafka(tp: &TopicPartition, code: ErrorCode) -> Error {
    Error::Kafka {
        what: format!("partition {}-{}", tp.0, tp.1),
        code,
        message: None,
    }
}

/// Groups a batch's partitions by topic, in first-seen order.
fn group_topics<P, Q>(
    batch: &[(TopicPartition, P)],
    make: impl Fn(&str, i32, &P) -> Q,
) -> Vec<(String, Vec<Q>)> {
    let mut out: Vec<(String, Vec<Q>)> = Vec::new();
    for ((t, p), item) in batch {
        let q = make(t, *p, item);
        match out.iter_mut().find(|(name, _)| name == t) {
            Some((_, parts)) => parts.push(q),
            None => out.push((t.clone(), vec![q])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_group_by_topic_in_order() {
        let batch = vec![
            (("a".to_owned(), 0), 1),
            (("b".to_owned(), 1), 2),
            (("a".to_owned(), 2), 3),
        ];
        let g = group_topics(&batch, |_, p, v: &i32| (p, *v));
        assert_eq!(
            g,
            vec![
                ("a".to_owned(), vec![(0, 1), (2, 3)]),
                ("b".to_owned(), vec![(1, 2)])
            ]
        );
        assert_eq!(OffsetSpec::Earliest.wire_timestamp(), -2);
        assert_eq!(OffsetSpec::Latest.wire_timestamp(), -1);
        assert_eq!(OffsetSpec::Timestamp(5).wire_timestamp(), 5);
    }
}
