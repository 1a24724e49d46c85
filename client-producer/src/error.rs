//! The producer's errors: one typed value per record, saying what to do.

use std::fmt;
use std::time::Duration;

use rkafka_protocol::ErrorCode;

/// Why a send, a delivery or a transaction call failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ProducerError {
    /// The producer was closed; nothing more can be sent.
    Closed,
    /// `buffer.memory` stayed full for `max.block.ms`: the cluster does not
    /// keep up (or is unreachable). Retry later or raise the limits.
    BufferExhausted {
        /// How long `send` waited.
        waited: Duration,
    },
    /// The record alone exceeds `max.request.size` or `buffer.memory`.
    RecordTooLarge {
        /// Its estimated encoded size.
        size: usize,
        /// The limit it exceeds.
        max: usize,
    },
    /// The record was not acknowledged within `delivery.timeout.ms`.
    DeliveryTimeout {
        /// `delivery.timeout.ms`.
        after: Duration,
    },
    /// The topic has no such partition, or the partitioner chose one out of range.
    InvalidPartition {
        /// The topic.
        topic: String,
        /// The partition asked for.
        partition: i32,
        /// The partitions the topic has.
        partitions: i32,
    },
    /// The broker refused the record's batch with a non-retriable error.
    Kafka {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The broker's error code.
        code: ErrorCode,
        /// The broker's message, if any.
        message: Option<String>,
    },
    /// Another producer with the same `transactional.id` (or a newer epoch)
    /// took over: this producer can only be closed. Fatal (Java's
    /// `ProducerFencedException`): the coordinator answered PRODUCER_FENCED,
    /// or INVALID_PRODUCER_EPOCH to a coordinator request.
    ///
    /// What to do: close the producer; the newer instance owns the
    /// `transactional.id` now.
    Fenced {
        /// What found out.
        what: String,
    },
    /// The transaction was most likely aborted by its coordinator because it
    /// stayed open longer than `transaction.timeout.ms`: a partition leader
    /// refused a batch of it with INVALID_PRODUCER_EPOCH, the coordinator
    /// having bumped the epoch when it aborted (KIP-588; Java's
    /// `InvalidProducerEpochException`). Abortable, not fatal.
    ///
    /// What to do: call `abort_transaction` (which also moves this producer
    /// to the coordinator's new epoch), then begin a new transaction and
    /// send its records again; keep transactions shorter than
    /// `transaction.timeout.ms`. Should a newer producer have taken over
    /// instead, `abort_transaction` fails with [`ProducerError::Fenced`].
    TransactionTimedOut {
        /// What found out.
        what: String,
    },
    /// The open transaction cannot be committed any more, only aborted: a
    /// record of it failed, or a broker answered TRANSACTION_ABORTABLE
    /// (KIP-890; Java's `TransactionAbortableException`). Abortable, not
    /// fatal.
    ///
    /// What to do: call `abort_transaction`, then begin a new transaction
    /// and send its records again.
    TransactionAbortable {
        /// Why.
        reason: String,
    },
    /// The record was still buffered, never sent, when `abort_transaction`
    /// was called, so it was dropped with its transaction (Java's
    /// `TransactionAbortedException` from `abortUndrainedBatches`).
    ///
    /// What to do: nothing, unless the record is still wanted: then send it
    /// again in a new transaction.
    TransactionAborted,
    /// A transaction call made in the wrong state (send before
    /// `begin_transaction`, commit without one, ...), or a coordinator
    /// error with no more specific variant.
    Transaction {
        /// What was wrong.
        reason: String,
    },
    /// The configuration is inconsistent.
    Config(String),
    /// A request failed in the core client (connection, timeout, routing).
    Client(rkafka_client_core::Error),
}

impl fmt::Display for ProducerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => write!(f, "the producer is closed; create a new one to send"),
            Self::BufferExhausted { waited } => write!(
                f,
                "buffer.memory stayed full for {waited:?} (max.block.ms): the cluster is not \
                 keeping up or is unreachable"
            ),
            Self::RecordTooLarge { size, max } => write!(
                f,
                "the record is about {size} bytes, over the {max}-byte limit \
                 (max.request.size / buffer.memory)"
            ),
            Self::DeliveryTimeout { after } => write!(
                f,
                "the record was not acknowledged within delivery.timeout.ms ({after:?})"
            ),
            Self::InvalidPartition {
                topic,
                partition,
                partitions,
            } => write!(
                f,
                "topic {topic} has {partitions} partitions; partition {partition} does not exist"
            ),
            Self::Kafka {
                topic,
                partition,
                code,
                message,
            } => {
                write!(f, "Produce to {topic}-{partition} failed: {code:?}")?;
                if let Some(m) = message {
                    write!(f, " ({m})")?;
                }
                Ok(())
            }
            Self::Fenced { what } => write!(
                f,
                "{what}: this producer was fenced by a newer instance with the same \
                 transactional.id; close it"
            ),
            Self::TransactionTimedOut { what } => write!(
                f,
                "{what}: the coordinator most likely aborted the transaction after \
                 transaction.timeout.ms; abort it and retry in a new transaction"
            ),
            Self::TransactionAbortable { reason } => write!(
                f,
                "transaction must be aborted: {reason}; abort it and retry in a new transaction"
            ),
            Self::TransactionAborted => write!(
                f,
                "the record was dropped unsent: its transaction was aborted while it was buffered"
            ),
            Self::Transaction { reason } => write!(f, "transaction: {reason}"),
            Self::Config(reason) => write!(f, "invalid producer config: {reason}"),
            Self::Client(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ProducerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Client(e) => Some(e),
            _ => None,
        }
    }
}

impl From<rkafka_client_core::Error> for ProducerError {
    fn from(e: rkafka_client_core::Error) -> Self {
        Self::Client(e)
    }
}
