//! The share consumer's errors.

use std::fmt;

use rkafka_protocol::ErrorCode;

use super::record::TopicPartition;

/// What went wrong in a share-consumer call.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ShareError {
    /// The core client failed (config, connection, routing, timeout).
    Client(std::sync::Arc<rkafka_client_core::Error>),
    /// The group refused the member for good (e.g. GROUP_MAX_SIZE_REACHED,
    /// GROUP_AUTHORIZATION_FAILED, INVALID_REQUEST, UNSUPPORTED_VERSION),
    /// or a topic authorization failure (the member stays in the group).
    Group {
        /// The heartbeat's error code.
        code: ErrorCode,
    },
    /// Explicit mode: `poll` was called while records from the last poll
    /// are unacknowledged. Acknowledge them, then poll again.
    UnacknowledgedRecords {
        /// How many are unacknowledged.
        count: usize,
    },
    /// `acknowledge` was called in implicit mode (acks are automatic there).
    ImplicitMode,
    /// `acknowledge` named a record that is not awaiting an acknowledgement
    /// (already acknowledged, or not delivered by the last poll).
    NotDelivered {
        /// The record's partition.
        partition: TopicPartition,
        /// Its offset.
        offset: i64,
    },
    /// RENEW was asked in implicit mode (KIP-1222 allows it only in explicit mode).
    RenewNeedsExplicitMode,
    /// A feature needs a newer broker: RENEW and `record_limit` need
    /// ShareFetch/ShareAcknowledge v2 (Kafka 4.2+).
    Unsupported {
        /// What was asked.
        what: &'static str,
        /// The broker.
        broker: i32,
        /// The version the broker offers.
        version: i16,
    },
    /// A fetched batch could not be decoded; its acquired offsets were
    /// rejected (as the Java client does).
    Corrupt {
        /// The partition.
        partition: TopicPartition,
        /// The rejected offsets.
        offsets: Vec<i64>,
        /// The decode error.
        reason: String,
    },
    /// The consumer was closed (or its task ended).
    Closed,
}

impl fmt::Display for ShareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Client(e) => write!(f, "client: {e}"),
            Self::Group { code } => write!(f, "the share group refused the member: {code}"),
            Self::UnacknowledgedRecords { count } => write!(
                f,
                "explicit acknowledgement mode: {count} records from the last poll are not acknowledged"
            ),
            Self::ImplicitMode => {
                write!(f, "acknowledge() needs share.acknowledgement.mode=explicit")
            }
            Self::NotDelivered { partition, offset } => {
                write!(f, "{partition}@{offset} is not awaiting an acknowledgement")
            }
            Self::RenewNeedsExplicitMode => write!(f, "RENEW needs explicit acknowledgement mode"),
            Self::Unsupported { what, broker, version } => write!(
                f,
                "{what} needs ShareFetch/ShareAcknowledge v2; broker {broker} offers v{version}"
            ),
            Self::Corrupt { partition, offsets, reason } => write!(
                f,
                "{partition}: corrupt batch ({reason}); {} acquired offsets rejected",
                offsets.len()
            ),
            Self::Closed => write!(f, "the share consumer is closed"),
        }
    }
}

impl std::error::Error for ShareError {}

impl From<rkafka_client_core::Error> for ShareError {
    fn from(e: rkafka_client_core::Error) -> Self {
        Self::Client(std::sync::Arc::new(e))
    }
}
