//! Cluster metadata: the bootstrap list, the cache, the lookups that fill
//! it, and the task that owns it.
//!
//! - [`bootstrap`]: `bootstrap.servers` parsing and DNS resolution.
//! - [`cache`]: the immutable [`ClusterMetadata`] snapshot and its update.
//! - [`refresh`]: Metadata and FindCoordinator requests and responses.
//! - `task`: the background task that owns the cache, the coordinator cache
//!   and the connection pool, and publishes a [`ClusterView`].

pub mod bootstrap;
pub mod cache;
pub mod refresh;
pub(crate) mod task;

pub use self::cache::{BrokerInfo, ClusterMetadata, PartitionMetadata, TopicMetadata};
pub use self::task::{ClusterView, LeaderHint};
