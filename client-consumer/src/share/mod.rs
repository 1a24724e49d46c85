//! The share consumer (KIP-932, with KIP-1206 acquire modes and KIP-1222
//! renew).
//!
//! - `membership`: the ShareGroupHeartbeat state machine;
//! - `session`: one broker's share-session epoch and partition set;
//! - [`acks`]: acknowledgement types and their batch encoding;
//! - `fetch`: acquired records out of a ShareFetch answer;
//! - `requests`: ShareFetch/ShareAcknowledge built from plans;
//! - `task`: the background task owning all of it;
//! - `consumer`: the [`ShareConsumer`] handle; `stream`: its `Stream` form.

pub mod acks;
mod config;
mod consumer;
mod error;
mod fetch;
pub(crate) mod membership;
mod record;
mod requests;
pub(crate) mod session;
mod stream;
mod task;

pub use acks::AcknowledgeType;
pub use config::{
    AcknowledgementMode, AcquireMode, ShareConsumerConfig, ShareConsumerConfigBuilder,
};
pub use consumer::{AckCallback, ShareConsumer};
pub use error::ShareError;
pub use record::{AckError, AckOutcome, ShareRecord, TopicPartition};
pub use stream::ShareStream;
