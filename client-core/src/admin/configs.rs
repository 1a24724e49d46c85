//! Describing and altering configs (topics, brokers, groups, ...).
//!
//! Routing follows the Java AdminClient: a broker's (or broker logger's)
//! config goes to that broker, since only it knows its static config;
//! everything else goes in one request to any broker.

use std::collections::BTreeMap;

use rkafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use rkafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource as IncResource, AlterableConfig as IncConfig,
};
use rkafka_protocol::messages::{
    alter_configs_request, AlterConfigsRequest, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest,
};

use super::{check_code, missing, retriable_code, Admin};
use crate::error::Error;
use crate::route::Target;

/// The kind of thing a config belongs to (the protocol's resource type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigResourceType {
    /// A topic.
    Topic,
    /// A broker (name = node id, or empty for the cluster-wide default).
    Broker,
    /// A broker's log4j loggers.
    BrokerLogger,
    /// Client metrics subscriptions (KIP-714).
    ClientMetrics,
    /// A group (KIP-848 group configs).
    Group,
}

impl ConfigResourceType {
    /// The protocol value.
    pub fn code(self) -> i8 {
        match self {
            Self::Topic => 2,
            Self::Broker => 4,
            Self::BrokerLogger => 8,
            Self::ClientMetrics => 16,
            Self::Group => 32,
        }
    }
}

/// A config owner: a type and a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigResource {
    /// What kind of resource.
    pub kind: ConfigResourceType,
    /// Its name (topic name, broker id, group id).
    pub name: String,
}

impl ConfigResource {
    /// A topic's configs.
    pub fn topic(name: impl Into<String>) -> Self {
        Self {
            kind: ConfigResourceType::Topic,
            name: name.into(),
        }
    }

    /// A broker's configs.
    pub fn broker(id: i32) -> Self {
        Self {
            kind: ConfigResourceType::Broker,
            name: id.to_string(),
        }
    }

    /// Where requests about this resource go.
    pub fn target(&self) -> Target {
        match self.kind {
            ConfigResourceType::Broker | ConfigResourceType::BrokerLogger => {
                match self.name.parse() {
                    Ok(id) => Target::Broker(id),
                    Err(_) => Target::Any,
                }
            }
            _ => Target::Any,
        }
    }
}

/// Where a config value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on this topic.
    DynamicTopic,
    /// Set dynamically for this broker.
    DynamicBroker,
    /// Set dynamically as the cluster-wide broker default.
    DynamicDefaultBroker,
    /// From the broker's properties file.
    StaticBroker,
    /// The built-in default.
    Default,
    /// Set dynamically for a broker logger.
    DynamicBrokerLogger,
    /// A client metrics subscription.
    ClientMetrics,
    /// Set on this group.
    DynamicGroup,
    /// A value this client does not know.
    Unknown(i8),
}

impl From<i8> for ConfigSource {
    fn from(v: i8) -> Self {
        match v {
            1 => Self::DynamicTopic,
            2 => Self::DynamicBroker,
            3 => Self::DynamicDefaultBroker,
            4 => Self::StaticBroker,
            5 => Self::Default,
            6 => Self::DynamicBrokerLogger,
            7 => Self::ClientMetrics,
            8 => Self::DynamicGroup,
            other => Self::Unknown(other),
        }
    }
}

/// One config value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The config name.
    pub name: String,
    /// The value (`None` for sensitive or unset values).
    pub value: Option<String>,
    /// Whether it cannot be altered.
    pub read_only: bool,
    /// Whether the value is hidden because it is sensitive.
    pub is_sensitive: bool,
    /// Where the value comes from.
    pub source: ConfigSource,
}

/// An incremental change (IncrementalAlterConfigs, KIP-339).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterConfigOp {
    /// Set the value.
    Set(String),
    /// Remove the override (back to the default).
    Delete,
    /// Append to a list value.
    Append(String),
    /// Remove from a list value.
    Subtract(String),
}

impl AlterConfigOp {
    fn parts(&self) -> (i8, Option<String>) {
        match self {
            Self::Set(v) => (0, Some(v.clone())),
            Self::Delete => (1, None),
            Self::Append(v) => (2, Some(v.clone())),
            Self::Subtract(v) => (3, Some(v.clone())),
        }
    }
}

/// Per-resource outcome.
pub type ConfigResults<T> = BTreeMap<ConfigResource, Result<T, Error>>;

/// Splits resources into per-target groups, keeping order within each.
fn by_target<'a, T>(
    items: impl IntoIterator<Item = (&'a ConfigResource, T)>,
) -> Vec<(Target, Vec<(&'a ConfigResource, T)>)> {
    let mut groups: Vec<(Target, Vec<(&ConfigResource, T)>)> = Vec::new();
    for (r, t) in items {
        let target = r.target();
        match groups.iter_mut().find(|(g, _)| *g == target) {
            Some((_, v)) => v.push((r, t)),
            None => groups.push((target, vec![(r, t)])),
        }
    }
    groups
}

fn resource_of(kind: i8, name: &str, asked: &[&ConfigResource]) -> Option<ConfigResource> {
    asked
        .iter()
        .find(|r| r.kind.code() == kind && r.name == name)
        .map(|r| (*r).clone())
}

impl Admin {
    /// Describes the configs of `resources` (every key of each).
    ///
    /// # Cancel safety
    /// Cancel safe (read only).
    pub async fn describe_configs(
        &self,
        resources: &[ConfigResource],
    ) -> Result<ConfigResults<Vec<ConfigEntry>>, Error> {
        let mut out: ConfigResults<Vec<ConfigEntry>> = BTreeMap::new();
        for (target, group) in by_target(resources.iter().map(|r| (r, ()))) {
            let asked: Vec<&ConfigResource> = group.iter().map(|(r, _)| *r).collect();
            let req = DescribeConfigsRequest::default().with_resources(
                asked
                    .iter()
                    .map(|r| {
                        DescribeConfigsResource::default()
                            .with_resource_type(r.kind.code())
                            .with_resource_name(r.name.clone())
                            .with_configuration_keys(None)
                    })
                    .collect(),
            );
            let resp = self
                .client
                .send_checked(target, req, |r| {
                    retriable_code(r.results.iter().map(|x| x.error_code), &[])
                })
                .await?;
            for res in resp.results {
                let Some(key) = resource_of(res.resource_type, &res.resource_name, &asked) else {
                    continue;
                };
                let what = format!("DescribeConfigs {:?} {}", key.kind, key.name);
                let r = check_code(|| what, res.error_code, res.error_message).map(|()| {
                    res.configs
                        .into_iter()
                        .map(|c| ConfigEntry {
                            name: c.name,
                            value: c.value,
                            read_only: c.read_only,
                            is_sensitive: c.is_sensitive,
                            source: ConfigSource::from(c.config_source),
                        })
                        .collect()
                });
                out.insert(key, r);
            }
        }
        for r in resources {
            out.entry(r.clone())
                .or_insert_with(|| Err(missing(format!("{:?} {}", r.kind, r.name))));
        }
        Ok(out)
    }

    /// Applies incremental changes (set/delete/append/subtract per key).
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: a cancelled call may or may not have
    /// applied the changes.
    pub async fn incremental_alter_configs(
        &self,
        changes: &BTreeMap<ConfigResource, Vec<(String, AlterConfigOp)>>,
        validate_only: bool,
    ) -> Result<ConfigResults<()>, Error> {
        let mut out: ConfigResults<()> = BTreeMap::new();
        for (target, group) in by_target(changes.iter()) {
            let asked: Vec<&ConfigResource> = group.iter().map(|(r, _)| *r).collect();
            let req = IncrementalAlterConfigsRequest::default()
                .with_validate_only(validate_only)
                .with_resources(
                    group
                        .iter()
                        .map(|(r, ops)| {
                            IncResource::default()
                                .with_resource_type(r.kind.code())
                                .with_resource_name(r.name.clone())
                                .with_configs(
                                    ops.iter()
                                        .map(|(name, op)| {
                                            let (code, value) = op.parts();
                                            IncConfig::default()
                                                .with_name(name.clone())
                                                .with_config_operation(code)
                                                .with_value(value)
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                );
            let resp = self
                .client
                .send_checked(target, req, |r| {
                    retriable_code(r.responses.iter().map(|x| x.error_code), &[])
                })
                .await?;
            for res in resp.responses {
                if let Some(key) = resource_of(res.resource_type, &res.resource_name, &asked) {
                    let what = format!("IncrementalAlterConfigs {:?} {}", key.kind, key.name);
                    out.insert(key, check_code(|| what, res.error_code, res.error_message));
                }
            }
        }
        for r in changes.keys() {
            out.entry(r.clone())
                .or_insert_with(|| Err(missing(format!("{:?} {}", r.kind, r.name))));
        }
        Ok(out)
    }

    /// Replaces the whole dynamic config of each resource (the legacy
    /// AlterConfigs: keys left out are reset). Prefer
    /// [`Self::incremental_alter_configs`].
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: a cancelled call may or may not have
    /// applied the changes.
    pub async fn alter_configs(
        &self,
        configs: &BTreeMap<ConfigResource, BTreeMap<String, String>>,
        validate_only: bool,
    ) -> Result<ConfigResults<()>, Error> {
        let mut out: ConfigResults<()> = BTreeMap::new();
        for (target, group) in by_target(configs.iter()) {
            let asked: Vec<&ConfigResource> = group.iter().map(|(r, _)| *r).collect();
            let req = AlterConfigsRequest::default()
                .with_validate_only(validate_only)
                .with_resources(
                    group
                        .iter()
                        .map(|(r, kv)| {
                            alter_configs_request::AlterConfigsResource::default()
                                .with_resource_type(r.kind.code())
                                .with_resource_name(r.name.clone())
                                .with_configs(
                                    kv.iter()
                                        .map(|(k, v)| {
                                            alter_configs_request::AlterableConfig::default()
                                                .with_name(k.clone())
                                                .with_value(Some(v.clone()))
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                );
            let resp = self
                .client
                .send_checked(target, req, |r| {
                    retriable_code(r.responses.iter().map(|x| x.error_code), &[])
                })
                .await?;
            for res in resp.responses {
                if let Some(key) = resource_of(res.resource_type, &res.resource_name, &asked) {
                    let what = format!("AlterConfigs {:?} {}", key.kind, key.name);
                    out.insert(key, check_code(|| what, res.error_code, res.error_message));
                }
            }
        }
        for r in configs.keys() {
            out.entry(r.clone())
                .or_insert_with(|| Err(missing(format!("{:?} {}", r.kind, r.name))));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_configs_go_to_their_broker_others_anywhere() {
        let rs = [
            ConfigResource::topic("a"),
            ConfigResource::broker(2),
            ConfigResource::topic("b"),
            ConfigResource {
                kind: ConfigResourceType::Broker,
                name: String::new(),
            },
        ];
        let groups = by_target(rs.iter().map(|r| (r, ())));
        let summary: Vec<(Target, usize)> =
            groups.iter().map(|(t, v)| (t.clone(), v.len())).collect();
        assert_eq!(summary, vec![(Target::Any, 3), (Target::Broker(2), 1)]);
        assert_eq!(ConfigSource::from(1), ConfigSource::DynamicTopic);
        assert_eq!(ConfigSource::from(99), ConfigSource::Unknown(99));
        assert_eq!(AlterConfigOp::Delete.parts(), (1, None));
    }
}
