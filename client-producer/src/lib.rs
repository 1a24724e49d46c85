//! rkafka's producer: batching, Java-compatible partitioning, idempotence
//! and transactions.
//!
//! A [`Producer`] handle accepts records into a bounded buffer
//! (`buffer.memory`) and hands them to one background sender task, which
//! owns every piece of producer state: the per-partition batches
//! (the accumulator), the producer id and sequence numbers, the transaction
//! phase, and the requests in flight (one pipeline per broker, batches of
//! several partitions sharing a request). `send` returns a
//! [`DeliveryFuture`] with the partition, offset and timestamp, or a typed
//! [`ProducerError`] for that record alone.
//!
//! Option names and defaults follow the Java client 4.x ([`ProducerConfig`]):
//! `acks=all`, idempotence on, `linger.ms=5`, `batch.size=16384`. Keyed
//! records land where Java's default partitioner puts them
//! ([`partitioner::murmur2`]); unkeyed ones use the uniform sticky strategy.

#![deny(missing_docs)]

mod accumulator;
pub mod config;
mod delivery;
pub mod error;
pub mod partitioner;
mod producer;
pub mod record;
mod sender;
mod txn;

pub use config::{Acks, ProducerConfig};
pub use delivery::DeliveryFuture;
pub use error::ProducerError;
pub use producer::Producer;
pub use record::{ProducerRecord, RecordMetadata};
pub use rkafka_client_core::group_metadata::ConsumerGroupMetadata;
pub use rkafka_protocol::records::{Compression, Header};
