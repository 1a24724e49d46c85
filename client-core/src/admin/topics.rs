//! Topic administration: create and delete topics, add partitions, list and
//! describe topics.
//!
//! Creation, deletion and partition changes go to the controller (a broker
//! that forwards to the KRaft quorum answers `NOT_CONTROLLER` when it cannot,
//! which refreshes metadata and retries); descriptions come from Metadata.

use std::collections::BTreeMap;

use rkafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use rkafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use rkafka_protocol::messages::delete_topics_request::DeleteTopicState;
use rkafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, MetadataRequest,
};
use rkafka_protocol::ErrorCode;
use uuid::Uuid;

use super::{check_code, missing, retriable_code, Admin};
use crate::error::Error;
use crate::metadata::refresh::metadata_request;
use crate::metadata::PartitionMetadata;
use crate::route::Target;

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// The name.
    pub name: String,
    /// Partition count; `-1` for the broker default (CreateTopics v4+).
    pub num_partitions: i32,
    /// Replication factor; `-1` for the broker default (CreateTopics v4+).
    pub replication_factor: i16,
    /// Explicit replica placement (partition index to broker ids); when
    /// given, count and factor must be `-1`.
    pub assignments: BTreeMap<i32, Vec<i32>>,
    /// Topic configs (`cleanup.policy`, `retention.ms`, ...).
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// A topic with `num_partitions` partitions, each with
    /// `replication_factor` replicas.
    pub fn new(name: impl Into<String>, num_partitions: i32, replication_factor: i16) -> Self {
        Self {
            name: name.into(),
            num_partitions,
            replication_factor,
            assignments: BTreeMap::new(),
            configs: BTreeMap::new(),
        }
    }

    /// Adds a topic config.
    pub fn with_config(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.insert(name.into(), value.into());
        self
    }

    fn to_request(&self) -> CreatableTopic {
        CreatableTopic::default()
            .with_name(self.name.clone())
            .with_num_partitions(self.num_partitions)
            .with_replication_factor(self.replication_factor)
            .with_assignments(
                self.assignments
                    .iter()
                    .map(|(p, ids)| {
                        CreatableReplicaAssignment::default()
                            .with_partition_index(*p)
                            .with_broker_ids(ids.clone())
                    })
                    .collect(),
            )
            .with_configs(
                self.configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name(k.clone())
                            .with_value(Some(v.clone()))
                    })
                    .collect(),
            )
    }
}

/// A partition-count increase for one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPartitions {
    /// The new total partition count.
    pub total_count: i32,
    /// Replica placement of each new partition, or empty for the broker's.
    pub assignments: Vec<Vec<i32>>,
}

/// What Metadata says about a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    /// The name.
    pub name: String,
    /// The topic id (nil before topic ids existed).
    pub id: Uuid,
    /// Whether the topic is internal.
    pub is_internal: bool,
    /// Partitions in index order.
    pub partitions: Vec<PartitionMetadata>,
}

/// Per-topic outcome.
pub type TopicResults<T> = BTreeMap<String, Result<T, Error>>;

impl Admin {
    /// Creates `topics`; with `validate_only` the controller only checks
    /// the request. Returns each topic's id (nil when validating or when
    /// the broker predates topic ids) or its error (`TOPIC_ALREADY_EXISTS`,
    /// `INVALID_REPLICATION_FACTOR`, ...).
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: a cancelled call may or may not have
    /// created the topics.
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
        validate_only: bool,
    ) -> Result<TopicResults<Uuid>, Error> {
        let req = CreateTopicsRequest::default()
            .with_topics(topics.iter().map(NewTopic::to_request).collect())
            .with_timeout_ms(self.server_timeout_ms())
            .with_validate_only(validate_only);
        let resp = self
            .client
            .send_checked(Target::Controller, req, |r| {
                retriable_code(r.topics.iter().map(|t| t.error_code), &[])
            })
            .await?;
        let mut out: TopicResults<Uuid> = BTreeMap::new();
        for t in resp.topics {
            let name = t.name.clone();
            let r = check_code(
                || format!("CreateTopics {name}"),
                t.error_code,
                t.error_message,
            )
            .map(|()| t.topic_id);
            out.insert(t.name, r);
        }
        for t in topics {
            out.entry(t.name.clone())
                .or_insert_with(|| Err(missing(format!("topic {}", t.name))));
        }
        Ok(out)
    }

    /// Deletes topics by name.
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: a cancelled call may or may not have
    /// deleted the topics.
    pub async fn delete_topics(&self, names: &[String]) -> Result<TopicResults<()>, Error> {
        let timeout_ms = self.server_timeout_ms();
        let names_v = names.to_vec();
        let build = move |version: i16| {
            let req = DeleteTopicsRequest::default().with_timeout_ms(timeout_ms);
            // v6 names topics through `topics` (name or id); earlier versions
            // through `topic_names`.
            Ok(if version >= 6 {
                req.with_topics(
                    names_v
                        .iter()
                        .map(|n| DeleteTopicState::default().with_name(Some(n.clone())))
                        .collect(),
                )
            } else {
                req.with_topic_names(names_v.clone())
            })
        };
        // UNKNOWN_TOPIC_OR_PARTITION here means "no such topic": final.
        let resp = self
            .client
            .send_built(Target::Controller, build, |r| {
                retriable_code(
                    r.responses.iter().map(|t| t.error_code),
                    &[ErrorCode::UNKNOWN_TOPIC_OR_PARTITION],
                )
            })
            .await?;
        let mut out: TopicResults<()> = BTreeMap::new();
        for t in resp.responses {
            let name = t.name.unwrap_or_else(|| t.topic_id.to_string());
            let r = check_code(
                || format!("DeleteTopics {name}"),
                t.error_code,
                t.error_message,
            );
            out.insert(name, r);
        }
        for n in names {
            out.entry(n.clone())
                .or_insert_with(|| Err(missing(format!("topic {n}"))));
        }
        Ok(out)
    }

    /// Raises the partition count of topics.
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: a cancelled call may or may not have
    /// added the partitions.
    pub async fn create_partitions(
        &self,
        topics: &BTreeMap<String, NewPartitions>,
        validate_only: bool,
    ) -> Result<TopicResults<()>, Error> {
        let req = CreatePartitionsRequest::default()
            .with_topics(
                topics
                    .iter()
                    .map(|(name, p)| {
                        CreatePartitionsTopic::default()
                            .with_name(name.clone())
                            .with_count(p.total_count)
                            .with_assignments((!p.assignments.is_empty()).then(|| {
                                p.assignments
                                    .iter()
                                    .map(|ids| {
                                        CreatePartitionsAssignment::default()
                                            .with_broker_ids(ids.clone())
                                    })
                                    .collect()
                            }))
                    })
                    .collect(),
            )
            .with_timeout_ms(self.server_timeout_ms())
            .with_validate_only(validate_only);
        let resp = self
            .client
            .send_checked(Target::Controller, req, |r| {
                retriable_code(
                    r.results.iter().map(|t| t.error_code),
                    &[ErrorCode::UNKNOWN_TOPIC_OR_PARTITION],
                )
            })
            .await?;
        let mut out: TopicResults<()> = BTreeMap::new();
        for t in resp.results {
            let name = t.name.clone();
            let r = check_code(
                || format!("CreatePartitions {name}"),
                t.error_code,
                t.error_message,
            );
            out.insert(t.name, r);
        }
        for n in topics.keys() {
            out.entry(n.clone())
                .or_insert_with(|| Err(missing(format!("topic {n}"))));
        }
        Ok(out)
    }

    /// The names of every topic; internal ones only with `include_internal`.
    ///
    /// # Cancel safety
    /// Cancel safe (read only).
    pub async fn list_topics(&self, include_internal: bool) -> Result<Vec<String>, Error> {
        let resp = self
            .client
            .send_built(
                Target::Any,
                |v| Ok(metadata_request(None, v)),
                |_: &_| ErrorCode::NONE,
            )
            .await?;
        let mut names: Vec<String> = resp
            .topics
            .into_iter()
            .filter(|t| include_internal || !t.is_internal)
            .filter_map(|t| t.name)
            .collect();
        names.sort();
        Ok(names)
    }

    /// Describes topics: id, partitions, leaders, replicas, ISR.
    /// A missing topic gets `UNKNOWN_TOPIC_OR_PARTITION`.
    ///
    /// # Cancel safety
    /// Cancel safe (read only).
    pub async fn describe_topics(
        &self,
        names: &[String],
    ) -> Result<TopicResults<TopicDescription>, Error> {
        let names_v = names.to_vec();
        let resp = self
            .client
            .send_built(
                Target::Any,
                |v| -> Result<MetadataRequest, Error> { Ok(metadata_request(Some(&names_v), v)) },
                // A topic being created has no leader yet: ask again.
                |r| {
                    retriable_code(
                        r.topics.iter().map(|t| t.error_code),
                        &[ErrorCode::UNKNOWN_TOPIC_OR_PARTITION],
                    )
                },
            )
            .await?;
        let md = crate::metadata::ClusterMetadata::default().apply(&resp, false);
        let mut out: TopicResults<TopicDescription> = BTreeMap::new();
        for n in names {
            let r = match (md.topic(n), md.topic_errors.get(n)) {
                (Some(t), _) => Ok(TopicDescription {
                    name: t.name.clone(),
                    id: t.id,
                    is_internal: t.is_internal,
                    partitions: t.partitions.values().cloned().collect(),
                }),
                (None, Some(code)) => Err(Error::Kafka {
                    what: format!("describe topic {n}"),
                    code: *code,
                    message: None,
                }),
                (None, None) => Err(missing(format!("topic {n}"))),
            };
            out.insert(n.clone(), r);
        }
        Ok(out)
    }
}
