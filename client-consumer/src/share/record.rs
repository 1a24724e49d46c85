//! What the application receives: records, partitions, ack outcomes.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use rkafka_protocol::records::Header;
use rkafka_protocol::ErrorCode;
use uuid::Uuid;

/// A record delivered by a share group. Acknowledge it with
/// [`crate::ShareConsumer::acknowledge`] (explicit mode) or let the next poll
/// accept it (implicit mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRecord {
    /// Topic name.
    pub topic: Arc<str>,
    /// Partition index.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// Key (`None`: null key).
    pub key: Option<Bytes>,
    /// Value (`None`: null value).
    pub value: Option<Bytes>,
    /// Headers in wire order.
    pub headers: Vec<Header>,
    /// Timestamp in milliseconds since the epoch (create or log-append time).
    pub timestamp: i64,
    /// How many times the broker has delivered this record, this time
    /// included (1 on first delivery).
    pub delivery_count: i16,
    /// The broker that delivered it (acks go back there).
    pub(crate) node: i32,
    /// The topic's id.
    pub(crate) topic_id: Uuid,
}

impl ShareRecord {
    /// The id of the broker that delivered this record.
    pub fn broker(&self) -> i32 {
        self.node
    }

    /// The topic's id.
    pub fn topic_id(&self) -> Uuid {
        self.topic_id
    }
}

/// A partition, by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name (the topic id as text when metadata did not know it).
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.topic, self.partition)
    }
}

/// Why acknowledgements failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckError {
    /// The Kafka error code: from the broker, or set by the client when it
    /// failed the acks itself (NOT_LEADER_OR_FOLLOWER when the session or
    /// leadership that held the locks is gone, NETWORK_EXCEPTION when the
    /// connection broke, REQUEST_TIMED_OUT when retries ran out,
    /// UNSUPPORTED_VERSION for a renew the broker cannot take).
    pub code: ErrorCode,
    /// The broker's message, or the client's explanation.
    pub message: Option<String>,
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

/// The result of acknowledgements sent for one partition: fed to the
/// acknowledgement commit callback for every ack request that completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckOutcome {
    /// The partition.
    pub partition: TopicPartition,
    /// The acknowledged offsets.
    pub offsets: Vec<i64>,
    /// `None` when the broker took them.
    pub error: Option<AckError>,
}
