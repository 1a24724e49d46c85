//! Where a request goes: the [`Target`] a caller names, and the pure
//! resolution of a target to a broker id against the current metadata and
//! coordinator cache.
//!
//! Resolution never does I/O. When the cache cannot answer, it says what is
//! missing ([`RouteMiss`]) and the client fetches that (metadata refresh or
//! FindCoordinator) before resolving again.

use std::collections::HashMap;
use std::fmt;

use rand::seq::IndexedRandom;

use crate::metadata::ClusterMetadata;

/// The kinds of coordinator FindCoordinator can locate (its `key_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CoordinatorKind {
    /// A consumer (classic or KIP-848) or share group's coordinator; key is
    /// the group id.
    Group,
    /// A transactional producer's coordinator; key is the transactional id.
    Transaction,
    /// A share partition's state coordinator (KIP-932); key is
    /// `"groupId:topicId:partition"`.
    Share,
}

impl CoordinatorKind {
    /// The `key_type` field value.
    pub fn key_type(self) -> i8 {
        match self {
            Self::Group => 0,
            Self::Transaction => 1,
            Self::Share => 2,
        }
    }

    /// The lowest FindCoordinator version that can ask for this kind.
    pub fn min_version(self) -> i16 {
        match self {
            Self::Group => 0,
            Self::Transaction => 1,
            // Share coordinators came with v6 (KIP-932).
            Self::Share => 6,
        }
    }
}

/// Where to send a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// Any broker (a random one with a live connection, if there is one).
    Any,
    /// The broker with this node id.
    Broker(i32),
    /// The leader of a partition.
    Leader {
        /// Topic name.
        topic: String,
        /// Partition index.
        partition: i32,
    },
    /// A coordinator, located with FindCoordinator.
    Coordinator {
        /// Which kind.
        kind: CoordinatorKind,
        /// The group id, transactional id or share-partition key.
        key: String,
    },
    /// The broker the cluster names as controller (admin requests that
    /// brokers forward to the controller quorum); any broker when the named
    /// one is not in the broker list.
    Controller,
}

impl Target {
    /// The leader of `topic`/`partition`.
    pub fn leader(topic: impl Into<String>, partition: i32) -> Self {
        Self::Leader {
            topic: topic.into(),
            partition,
        }
    }

    /// The group coordinator for `group`.
    pub fn group(group: impl Into<String>) -> Self {
        Self::Coordinator {
            kind: CoordinatorKind::Group,
            key: group.into(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any broker"),
            Self::Broker(id) => write!(f, "broker {id}"),
            Self::Leader { topic, partition } => write!(f, "leader of {topic}-{partition}"),
            Self::Coordinator { kind, key } => write!(f, "{kind:?} coordinator for {key:?}"),
            Self::Controller => f.write_str("controller"),
        }
    }
}

/// Why the cache cannot place a request yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMiss {
    /// Metadata is missing or stale (no brokers yet, unknown topic, no
    /// leader, unknown broker id): refresh, then resolve again.
    Metadata(String),
    /// The coordinator is not cached: look it up.
    Coordinator,
}

/// Resolves `target` to a broker id.
///
/// `live` tells whether a broker id has a working connection; [`Target::Any`]
/// prefers those so that a request does not wait for a connect when another
/// broker is ready.
pub fn resolve(
    target: &Target,
    md: &ClusterMetadata,
    coordinators: &HashMap<(CoordinatorKind, String), i32>,
    live: impl Fn(i32) -> bool,
) -> Result<i32, RouteMiss> {
    resolve_least_loaded(target, md, coordinators, |id| live(id).then_some(0))
}

/// Resolves `target` to a broker id, sending [`Target::Any`] to the least
/// loaded broker, as the Java client's `leastLoadedNode` does.
///
/// `load` is a broker's in-flight request count on a live connection, or
/// `None` when it has none. [`Target::Any`] picks the live broker with the
/// fewest requests in flight (ties broken at random, so idle clients spread
/// their requests), and a broker without a connection only when none is live.
pub fn resolve_least_loaded(
    target: &Target,
    md: &ClusterMetadata,
    coordinators: &HashMap<(CoordinatorKind, String), i32>,
    load: impl Fn(i32) -> Option<usize>,
) -> Result<i32, RouteMiss> {
    let known = |id: i32, what: &str| {
        if md.brokers.contains_key(&id) {
            Ok(id)
        } else {
            Err(RouteMiss::Metadata(format!(
                "{what} {id} is not in the broker list"
            )))
        }
    };
    match target {
        Target::Any => {
            let ids: Vec<i32> = md.brokers.keys().copied().collect();
            let loads: Vec<(i32, usize)> = ids
                .iter()
                .filter_map(|&id| load(id).map(|n| (id, n)))
                .collect();
            let least = loads.iter().map(|&(_, n)| n).min();
            let ready: Vec<i32> = loads
                .iter()
                .filter(|&&(_, n)| Some(n) == least)
                .map(|&(id, _)| id)
                .collect();
            let pool = if ready.is_empty() { &ids } else { &ready };
            pool.choose(&mut rand::rng())
                .copied()
                .ok_or_else(|| RouteMiss::Metadata("no broker known yet".into()))
        }
        Target::Broker(id) => known(*id, "broker"),
        // KRaft brokers forward controller requests and name a random
        // broker as "controller"; when the id names no known broker (some
        // servers send 0 or -1), any broker will do.
        Target::Controller => match md.controller_id.filter(|id| md.brokers.contains_key(id)) {
            Some(id) => Ok(id),
            None => resolve_least_loaded(&Target::Any, md, coordinators, load),
        },
        Target::Leader { topic, partition } => {
            let t = md
                .topic(topic)
                .ok_or_else(|| RouteMiss::Metadata(format!("topic {topic} unknown")))?;
            let p = t.partitions.get(partition).ok_or_else(|| {
                RouteMiss::Metadata(format!("partition {topic}-{partition} unknown"))
            })?;
            let leader = p.leader.ok_or_else(|| {
                RouteMiss::Metadata(format!("partition {topic}-{partition} has no leader"))
            })?;
            known(leader, "leader")
        }
        Target::Coordinator { kind, key } => match coordinators.get(&(*kind, key.clone())) {
            Some(&id) => Ok(id),
            None => Err(RouteMiss::Coordinator),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use rkafka_protocol::messages::MetadataResponse;

    fn md() -> ClusterMetadata {
        let resp = MetadataResponse::default()
            .with_brokers(
                (1..=3)
                    .map(|id| {
                        MetadataResponseBroker::default()
                            .with_node_id(id)
                            .with_host("h".into())
                            .with_port(id)
                    })
                    .collect(),
            )
            .with_controller_id(3)
            .with_topics(vec![MetadataResponseTopic::default()
                .with_name(Some("t".into()))
                .with_partitions(vec![
                    MetadataResponsePartition::default()
                        .with_partition_index(0)
                        .with_leader_id(2),
                    MetadataResponsePartition::default()
                        .with_partition_index(1)
                        .with_leader_id(-1),
                    MetadataResponsePartition::default()
                        .with_partition_index(2)
                        .with_leader_id(9),
                ])]);
        ClusterMetadata::default().apply(&resp, true)
    }

    #[test]
    fn leaders_brokers_and_controller() {
        let md = md();
        let none = HashMap::new();
        let r = |t: Target| resolve(&t, &md, &none, |_| false);
        assert_eq!(r(Target::leader("t", 0)), Ok(2));
        assert!(
            matches!(r(Target::leader("t", 1)), Err(RouteMiss::Metadata(m)) if m.contains("no leader"))
        );
        assert!(matches!(
            r(Target::leader("t", 2)),
            Err(RouteMiss::Metadata(_))
        ));
        assert!(matches!(
            r(Target::leader("t", 7)),
            Err(RouteMiss::Metadata(_))
        ));
        assert!(matches!(
            r(Target::leader("x", 0)),
            Err(RouteMiss::Metadata(_))
        ));
        assert_eq!(r(Target::Broker(1)), Ok(1));
        assert!(r(Target::Broker(4)).is_err());
        assert_eq!(r(Target::Controller), Ok(3));
        let mut no_controller = md.clone();
        no_controller.controller_id = Some(0);
        assert!(resolve(&Target::Controller, &no_controller, &none, |_| false).is_ok());
    }

    #[test]
    fn any_prefers_live_brokers_and_needs_some() {
        let md = md();
        let none = HashMap::new();
        for _ in 0..20 {
            assert_eq!(resolve(&Target::Any, &md, &none, |id| id == 2), Ok(2));
            assert!(resolve(&Target::Any, &md, &none, |_| false).is_ok());
        }
        let empty = ClusterMetadata::default();
        assert!(resolve(&Target::Any, &empty, &none, |_| true).is_err());
    }

    #[test]
    fn any_goes_to_the_least_loaded_live_broker() {
        let md = md();
        let none = HashMap::new();
        let loads = |id: i32| match id {
            1 => Some(4),
            2 => None,
            3 => Some(1),
            _ => None,
        };
        for _ in 0..20 {
            assert_eq!(resolve_least_loaded(&Target::Any, &md, &none, loads), Ok(3));
        }
        // Ties are spread: both idle brokers get picked over 100 tries.
        let tied = |id: i32| (id != 3).then_some(0);
        let picked: std::collections::HashSet<i32> = (0..100)
            .map(|_| resolve_least_loaded(&Target::Any, &md, &none, tied).unwrap())
            .collect();
        assert_eq!(picked, [1, 2].into_iter().collect());
        // A controller that names no known broker falls back the same way.
        let mut no_controller = md.clone();
        no_controller.controller_id = Some(0);
        assert_eq!(
            resolve_least_loaded(&Target::Controller, &no_controller, &none, loads),
            Ok(3)
        );
    }

    #[test]
    fn coordinators_come_from_the_cache() {
        let md = md();
        let mut c = HashMap::new();
        let t = Target::group("g");
        assert_eq!(resolve(&t, &md, &c, |_| true), Err(RouteMiss::Coordinator));
        c.insert((CoordinatorKind::Group, "g".to_owned()), 1);
        assert_eq!(resolve(&t, &md, &c, |_| true), Ok(1));
        assert_eq!(CoordinatorKind::Share.key_type(), 2);
    }
}
