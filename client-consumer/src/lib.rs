//! rkafka's consumers. So far: the share consumer ([`ShareConsumer`],
//! KIP-932), which reads a topic as a queue: members of a share group split
//! records (not partitions) and settle each with an acknowledgement.
//!
//! Design: a background task owns the group membership, one share session
//! per broker and the acknowledgement queue; the handle talks to it through
//! a channel. Membership and sessions are plain state machines
//! (`share::membership`, `share::session`) tested without a network.

#![deny(missing_docs)]

pub mod share;

pub use share::{
    AckCallback, AckError, AckOutcome, AcknowledgeType, AcknowledgementMode, AcquireMode,
    ShareConsumer, ShareConsumerConfig, ShareConsumerConfigBuilder, ShareError, ShareRecord,
    ShareStream, TopicPartition,
};
