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
//!
//! # Layout
//! `producer.rs` (the handle: `send`, `flush`, `close`), `sender/` (the task:
//! `mod.rs` the loop and record intake, `drain.rs` readiness and request
//! packing, `response.rs` the per-partition outcome rules, `io.rs` the
//! requests), `accumulator.rs` (per-partition batch queues, pure state),
//! `partitioner.rs`, `txn.rs` (transaction state and the handle's
//! transaction calls), `config.rs`, `record.rs`, `delivery.rs`, `error.rs`.
//!
//! # Invariants that are not obvious from one file
//! - Only the sender task changes producer state; the handle shares nothing
//!   with it but the channel, the `buffer.memory` semaphore (whose
//!   permits it takes in `send` and the task gives back on completion) and
//!   the write-once delivery state the `DeliveryFuture`s read (`delivery.rs`).
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
