//! The cluster metadata cache: brokers, topics (by name and id), partitions
//! with leaders and leader epochs, the controller and the cluster id.
//!
//! A [`ClusterMetadata`] is an immutable snapshot. The metadata task builds
//! the next one from the previous one and a `MetadataResponse`
//! ([`ClusterMetadata::apply`]) and publishes it; readers never see a half
//! applied update.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rkafka_protocol::messages::MetadataResponse;
use rkafka_protocol::ErrorCode;
use tokio::time::Instant;
use uuid::Uuid;

/// One broker as the cluster announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// The broker's node id.
    pub id: i32,
    /// Its advertised host.
    pub host: String,
    /// Its advertised port.
    pub port: i32,
    /// Its rack, if configured.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`, bracketing IPv6 literals.
    pub fn addr(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One partition's placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// The partition index.
    pub partition: i32,
    /// The leader's node id, or `None` while there is no leader.
    pub leader: Option<i32>,
    /// The leader epoch (`-1` when the broker does not send it).
    pub leader_epoch: i32,
    /// All replicas.
    pub replicas: Vec<i32>,
    /// The in-sync replicas.
    pub isr: Vec<i32>,
    /// Replicas that are offline.
    pub offline_replicas: Vec<i32>,
    /// The partition-level error (e.g. `LEADER_NOT_AVAILABLE`).
    pub error: ErrorCode,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// The topic name.
    pub name: String,
    /// The topic id (nil when the broker predates topic ids).
    pub id: Uuid,
    /// Whether it is an internal topic (`__consumer_offsets`, ...).
    pub is_internal: bool,
    /// Partitions by index.
    pub partitions: BTreeMap<i32, PartitionMetadata>,
}

/// A snapshot of what the client knows about the cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterMetadata {
    /// The cluster id, if the broker sent one.
    pub cluster_id: Option<String>,
    /// The controller's node id (for clients, a broker that forwards to the
    /// controller quorum), if known.
    pub controller_id: Option<i32>,
    /// Brokers by node id.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Topics by name.
    pub topics: HashMap<String, Arc<TopicMetadata>>,
    /// Topic names by id.
    pub topic_names: HashMap<Uuid, String>,
    /// Topic-level errors of the last refresh (e.g. `UNKNOWN_TOPIC_OR_PARTITION`
    /// for a topic that does not exist), by name.
    pub topic_errors: HashMap<String, ErrorCode>,
    /// When this snapshot was built from a response; `None` for the empty
    /// snapshot before the first refresh.
    pub updated_at: Option<Instant>,
}

impl ClusterMetadata {
    /// The snapshot after `resp`. With `full` (the request asked for every
    /// topic), topics absent from the response are dropped; otherwise only
    /// the topics in the response are replaced.
    pub fn apply(&self, resp: &MetadataResponse, full: bool) -> ClusterMetadata {
        let brokers = resp
            .brokers
            .iter()
            .map(|b| {
                (
                    b.node_id,
                    BrokerInfo {
                        id: b.node_id,
                        host: b.host.clone(),
                        port: b.port,
                        rack: b.rack.clone(),
                    },
                )
            })
            .collect();
        let mut topics = if full {
            HashMap::new()
        } else {
            self.topics.clone()
        };
        let mut topic_errors = if full {
            HashMap::new()
        } else {
            self.topic_errors.clone()
        };
        for t in &resp.topics {
            // v10+ may identify a topic by id only; find its name from our cache.
            let Some(name) = t
                .name
                .clone()
                .or_else(|| self.topic_names.get(&t.topic_id).cloned())
            else {
                continue;
            };
            let code = ErrorCode::from(t.error_code);
            if !code.is_ok() {
                topic_errors.insert(name.clone(), code);
                // A topic that errored (deleted, not yet created, not
                // authorized) has no usable placement.
                topics.remove(&name);
                continue;
            }
            topic_errors.remove(&name);
            // KIP-320: a broker with a stale view may report an older leader;
            // keep what we have when its epoch is newer (same topic id only:
            // a recreated topic starts its epochs again).
            let cached = self.topics.get(&name).filter(|c| c.id == t.topic_id);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let fresh = PartitionMetadata {
                        partition: p.partition_index,
                        leader: (p.leader_id >= 0).then_some(p.leader_id),
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes.clone(),
                        isr: p.isr_nodes.clone(),
                        offline_replicas: p.offline_replicas.clone(),
                        error: ErrorCode::from(p.error_code),
                    };
                    let kept = cached
                        .and_then(|c| c.partitions.get(&p.partition_index))
                        .filter(|old| p.leader_epoch >= 0 && old.leader_epoch > p.leader_epoch);
                    (p.partition_index, kept.cloned().unwrap_or(fresh))
                })
                .collect();
            topics.insert(
                name.clone(),
                Arc::new(TopicMetadata {
                    name,
                    id: t.topic_id,
                    is_internal: t.is_internal,
                    partitions,
                }),
            );
        }
        let topic_names = topics
            .values()
            .filter(|t| !t.id.is_nil())
            .map(|t| (t.id, t.name.clone()))
            .collect();
        ClusterMetadata {
            cluster_id: resp.cluster_id.clone().or_else(|| self.cluster_id.clone()),
            controller_id: (resp.controller_id >= 0).then_some(resp.controller_id),
            brokers,
            topics,
            topic_names,
            topic_errors,
            updated_at: Some(Instant::now()),
        }
    }

    /// The snapshot after a leader hint (KIP-951: Produce and Fetch
    /// responses name the new leader with NOT_LEADER_OR_FOLLOWER), or `None`
    /// when the hint is not newer than what is cached or names a partition
    /// we do not know. `endpoints` adds brokers the cache lacks.
    pub fn with_leader_hint(
        &self,
        topic: &str,
        partition: i32,
        leader: i32,
        leader_epoch: i32,
        endpoints: &[BrokerInfo],
    ) -> Option<ClusterMetadata> {
        let t = self.topics.get(topic)?;
        let p = t.partitions.get(&partition)?;
        if leader < 0 || leader_epoch <= p.leader_epoch {
            return None;
        }
        let mut brokers = self.brokers.clone();
        for b in endpoints {
            brokers.entry(b.id).or_insert_with(|| b.clone());
        }
        if !brokers.contains_key(&leader) {
            return None;
        }
        let mut t2 = (**t).clone();
        t2.partitions.insert(
            partition,
            PartitionMetadata {
                leader: Some(leader),
                leader_epoch,
                ..p.clone()
            },
        );
        let mut topics = self.topics.clone();
        topics.insert(topic.to_owned(), Arc::new(t2));
        Some(ClusterMetadata {
            brokers,
            topics,
            ..self.clone()
        })
    }

    /// The topic named `name`.
    pub fn topic(&self, name: &str) -> Option<&Arc<TopicMetadata>> {
        self.topics.get(name)
    }

    /// The leader of `topic`/`partition`, if known and alive in the broker list.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<&BrokerInfo> {
        let id = self.topic(topic)?.partitions.get(&partition)?.leader?;
        self.brokers.get(&id)
    }

    /// The leader epoch of `topic`/`partition`, if known.
    pub fn leader_epoch(&self, topic: &str, partition: i32) -> Option<i32> {
        Some(self.topic(topic)?.partitions.get(&partition)?.leader_epoch)
    }

    /// Whether the snapshot is older than `max_age` (or was never filled).
    pub fn is_older_than(&self, max_age: std::time::Duration) -> bool {
        self.updated_at.is_none_or(|t| t.elapsed() >= max_age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };

    pub(crate) fn response(leaders: &[(&str, i32, i32)]) -> MetadataResponse {
        let brokers = (1..=3)
            .map(|id| {
                MetadataResponseBroker::default()
                    .with_node_id(id)
                    .with_host(format!("b{id}"))
                    .with_port(9090 + id)
            })
            .collect();
        let mut topics: Vec<MetadataResponseTopic> = Vec::new();
        for &(name, p, leader) in leaders {
            if !topics.iter().any(|t| t.name.as_deref() == Some(name)) {
                topics.push(
                    MetadataResponseTopic::default()
                        .with_name(Some(name.into()))
                        .with_topic_id(Uuid::from_u128(name.len() as u128)),
                );
            }
            let t = topics
                .iter_mut()
                .find(|t| t.name.as_deref() == Some(name))
                .unwrap();
            t.partitions.push(
                MetadataResponsePartition::default()
                    .with_partition_index(p)
                    .with_leader_id(leader)
                    .with_leader_epoch(7),
            );
        }
        MetadataResponse::default()
            .with_brokers(brokers)
            .with_cluster_id(Some("c1".into()))
            .with_controller_id(2)
            .with_topics(topics)
    }

    #[test]
    fn builds_leaders_ids_and_controller() {
        let md = ClusterMetadata::default().apply(&response(&[("a", 0, 1), ("a", 1, 3)]), true);
        assert_eq!(md.cluster_id.as_deref(), Some("c1"));
        assert_eq!(md.controller_id, Some(2));
        assert_eq!(md.leader("a", 1).unwrap().addr(), "b3:9093");
        assert_eq!(md.leader_epoch("a", 0), Some(7));
        assert_eq!(md.topic_names[&Uuid::from_u128(1)], "a");
        assert!(md.leader("a", 2).is_none());
    }

    #[test]
    fn partial_refresh_keeps_other_topics_and_full_drops_them() {
        let md = ClusterMetadata::default().apply(&response(&[("a", 0, 1)]), true);
        let md2 = md.apply(&response(&[("bb", 0, 2)]), false);
        assert!(md2.topic("a").is_some() && md2.topic("bb").is_some());
        let md3 = md2.apply(&response(&[("bb", 0, 3)]), true);
        assert!(md3.topic("a").is_none());
        assert_eq!(md3.leader("bb", 0).unwrap().id, 3);
    }

    #[test]
    fn errored_topic_and_leaderless_partition() {
        let md = ClusterMetadata::default().apply(&response(&[("a", 0, 1)]), true);
        let mut resp = response(&[("a", 0, -1)]);
        let md2 = md.apply(&resp, false);
        assert!(md2.leader("a", 0).is_none());
        resp.topics[0].error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.code();
        let md3 = md2.apply(&resp, false);
        assert!(md3.topic("a").is_none());
        assert_eq!(md3.topic_errors["a"], ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    }

    #[test]
    fn older_leader_epochs_do_not_replace_newer_ones() {
        let md = ClusterMetadata::default().apply(&response(&[("a", 0, 1), ("a", 1, 1)]), true);
        let mut stale = response(&[("a", 0, 2), ("a", 1, 3)]);
        stale.topics[0].partitions[0].leader_epoch = 6;
        stale.topics[0].partitions[1].leader_epoch = 8;
        let md2 = md.apply(&stale, false);
        // Epoch 6 < 7: ignored. Epoch 8 > 7: taken.
        assert_eq!(md2.leader("a", 0).unwrap().id, 1);
        assert_eq!(md2.leader("a", 1).unwrap().id, 3);
        assert_eq!(md2.leader_epoch("a", 1), Some(8));
        // A recreated topic (new id) starts over.
        stale.topics[0].topic_id = Uuid::from_u128(99);
        let md3 = md.apply(&stale, false);
        assert_eq!(md3.leader("a", 0).unwrap().id, 2);
    }

    #[test]
    fn leader_hints_apply_only_when_newer() {
        let md = ClusterMetadata::default().apply(&response(&[("a", 0, 1)]), true);
        assert!(
            md.with_leader_hint("a", 0, 2, 7, &[]).is_none(),
            "same epoch"
        );
        assert!(
            md.with_leader_hint("a", 0, 2, 6, &[]).is_none(),
            "older epoch"
        );
        assert!(
            md.with_leader_hint("a", 9, 2, 8, &[]).is_none(),
            "unknown partition"
        );
        assert!(
            md.with_leader_hint("a", 0, 9, 8, &[]).is_none(),
            "unknown broker"
        );
        let hinted = md.with_leader_hint("a", 0, 2, 8, &[]).unwrap();
        assert_eq!(hinted.leader("a", 0).unwrap().id, 2);
        assert_eq!(hinted.leader_epoch("a", 0), Some(8));
        let new_broker = BrokerInfo {
            id: 9,
            host: "b9".into(),
            port: 9,
            rack: None,
        };
        let hinted = md.with_leader_hint("a", 0, 9, 8, &[new_broker]).unwrap();
        assert_eq!(hinted.leader("a", 0).unwrap().addr(), "b9:9");
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        let b = BrokerInfo {
            id: 1,
            host: "::1".into(),
            port: 9092,
            rack: None,
        };
        assert_eq!(b.addr(), "[::1]:9092");
    }
}
