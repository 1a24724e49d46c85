//! Cluster administration: topics, partitions, configs, offsets, records,
//! groups and share-group offsets.
//!
//! [`Admin`] wraps a [`Client`] and turns each admin API into a typed call:
//! requests are routed as the Java AdminClient routes them (topic changes
//! to the controller, partition operations to the leaders, group operations
//! to the group coordinator, listings to every broker) and answers come back
//! as per-item results with typed errors rather than raw responses.
//!
//! One file per family of calls:
//! - `topics`: create/delete topics, create partitions, describe topics.
//! - `cluster`: describe the cluster (DescribeCluster, or Metadata).
//! - `configs`: describe/alter configs.
//! - `offsets`: list offsets, delete records.
//! - `groups`: list/describe/delete groups.
//! - `share`: share-group offsets (KIP-932).

mod cluster;
mod configs;
mod groups;
mod offsets;
mod share;
mod topics;

use std::time::Duration;

use rkafka_protocol::ErrorCode;

pub use self::cluster::ClusterDescription;
pub use self::configs::ConfigResults;
pub use self::configs::{
    AlterConfigOp, ConfigEntry, ConfigResource, ConfigResourceType, ConfigSource,
};
pub use self::groups::{
    ConsumerGroupDescription, GroupDescription, GroupListing, GroupListings, GroupMember,
    GroupResults, ShareGroupDescription,
};
pub use self::offsets::{ListedOffset, OffsetSpec, PartitionResults, TopicPartition};
pub use self::share::{ShareGroupOffsets, SharePartitionOffset};
pub use self::topics::{NewPartitions, NewTopic, TopicDescription, TopicResults};
use crate::client::{Client, ClientConfig};
use crate::error::Error;

/// The admin handle. Cheap to clone (it clones the [`Client`]).
#[derive(Clone, Debug)]
pub struct Admin {
    client: Client,
}

impl Admin {
    /// An admin handle over an existing client.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Connects a new client (see [`Client::connect`]) and wraps it.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn connect(cfg: ClientConfig) -> Result<Self, Error> {
        Ok(Self::new(Client::connect(cfg).await?))
    }

    /// The underlying client, for raw requests.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The `timeout_ms` put in requests that wait on the cluster (topic
    /// creation, record deletion): the request timeout, so the broker gives
    /// up before we do.
    fn server_timeout_ms(&self) -> i32 {
        let t: Duration = self.client.config().connection().request_timeout;
        i32::try_from(t.as_millis()).unwrap_or(i32::MAX)
    }
}

/// `Ok(())` for a zero code, else [`Error::Kafka`] naming `what`.
pub(crate) fn check_code(
    what: impl FnOnce() -> String,
    code: i16,
    message: Option<String>,
) -> Result<(), Error> {
    let code = ErrorCode::from(code);
    if code.is_ok() {
        Ok(())
    } else {
        Err(Error::Kafka {
            what: what(),
            code,
            message,
        })
    }
}

/// The first error code in `codes` that a retry could fix (leadership or
/// coordinator movement, transient errors), for `send_checked`. Codes in
/// `final_codes` are answers in this call's context, not reasons to retry
/// (`UNKNOWN_TOPIC_OR_PARTITION` from DeleteTopics means "no such topic").
pub(crate) fn retriable_code(
    codes: impl IntoIterator<Item = i16>,
    final_codes: &[ErrorCode],
) -> ErrorCode {
    codes
        .into_iter()
        .map(ErrorCode::from)
        .find(|c| {
            !c.is_ok() && !final_codes.contains(c) && crate::retry::classify_code(*c).is_retry()
        })
        .unwrap_or(ErrorCode::NONE)
}

/// The error for an item the broker's answer did not mention.
pub(crate) fn missing(what: String) -> Error {
    Error::Protocol {
        reason: format!("the response has no result for {what}"),
    }
}
