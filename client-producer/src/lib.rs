//! rkafka's producer: batching, Java-compatible partitioning, idempotence
//! and transactions.
//!
//! A [`Producer`] handle accepts records into a bounded buffer
//! (`buffer.memory`): it picks each record's partition and appends it to
//! that partition's open batch right in the caller's task (the
//! accumulator), and hands complete batches (full, or open for
//! `linger.ms`) to one background sender task, which owns the rest of the
//! producer's state: the batches waiting to be sent, the producer id and
//! sequence numbers, the transaction phase, and the requests in flight (one
//! pipeline per broker, batches of several partitions sharing a request). `send` returns a
//! [`DeliveryFuture`] with the partition, offset and timestamp, or a typed
//! [`ProducerError`] for that record alone.
//!
//! Option names and defaults follow the Java client 4.x ([`ProducerConfig`]):
//! `acks=all`, idempotence on, `linger.ms=5`, `batch.size=16384`. Keyed
//! records land where Java's default partitioner puts them
//! ([`partitioner::murmur2`]); unkeyed ones use the uniform sticky strategy.
//!
//! # Layout
//! `producer.rs` (the handle: `send`, `flush`, `close`, and the linger
//! timer), `accumulator.rs` (the open batch of each partition and the
//! partition choice, pure state), `batch.rs` (one batch: builder, encoded
//! bytes, split), `sender/` (the task: `mod.rs` the loop and batch intake,
//! `queue.rs` a partition's waiting batches and sequences, `drain.rs`
//! request packing, `response.rs` the per-partition outcome rules, `io.rs`
//! the requests), `partitioner.rs`, `load.rs` (batches waiting per
//! partition, for KIP-794), `availability.rs` (leaders past
//! `partitioner.availability.timeout.ms`), `txn.rs` (transaction state and
//! the handle's transaction calls), `config.rs`, `record.rs`, `delivery.rs`,
//! `error.rs`.
//!
//! # Invariants that are not obvious from one file
//! - The handles own the open batches (behind a lock that only they and the
//!   linger timer take, never across an await); every batch after that
//!   belongs to the sender task, which alone changes producer state. The
//!   handles share nothing with the task but the channel, the
//!   `buffer.memory` semaphore (whose permits `send` takes and the task
//!   gives back on completion), the write-once delivery state the
//!   `DeliveryFuture`s read (`delivery.rs`), the per-partition waiting
//!   counts (`load.rs`, atomics) and a watch of unavailable leaders
//!   (`availability.rs`, written by the task only).
//! - Batches leave the accumulator only while its lock is held, so one
//!   partition's batches reach the task in the order they were filled.
//! - Deliveries complete per batch: the task writes one outcome per batch,
//!   and each record's offset is the batch's base offset plus its index.
//! - Sequence numbers are assigned when a batch is first drained, never
//!   when it is filled, so a batch waiting in the queue holds no sequence.
//! - A batch sent again keeps its bytes and sequence (only a KIP-360 epoch
//!   bump renumbers, by restamping the encoded batch); retried batches go
//!   back to the front of their queue in sequence order, and a retried batch
//!   is sent only when nothing of its partition is in flight.
//! - An idempotent producer keeps one batch per partition in flight (Java
//!   allows five; see `sender/drain.rs` for why); requests to one broker are
//!   pipelined up to `max.in.flight.requests.per.connection`, but only one
//!   at a time until its connection is up, so queued requests cannot
//!   overtake each other while connecting.
//! - Every record completes exactly once: delivered, failed by the broker,
//!   expired at `delivery.timeout.ms`, or failed at the `close` deadline.

#![deny(missing_docs)]

mod accumulator;
mod availability;
mod batch;
pub mod config;
mod delivery;
pub mod error;
mod load;
pub mod partitioner;
mod producer;
pub mod record;
mod sender;
mod txn;

pub use config::{Acks, ProducerConfig};
pub use delivery::DeliveryFuture;
pub use error::ProducerError;
pub use producer::Producer;
pub use record::{Payload, ProducerRecord, RecordMetadata};
pub use rkafka_client_core::group_metadata::ConsumerGroupMetadata;
pub use rkafka_protocol::records::{Compression, Header};
