//! rkafka: a pure-Rust client for Apache Kafka.
//!
//! This facade re-exports the public API of the workspace crates:
//! - [`protocol`]: every Kafka message type, error codes, the record-batch codec;
//! - [`core`]: connections, TLS, SASL, metadata, routing, raw requests and admin
//!   ([`Client`], [`Admin`]);
//! - [`producer`]: batching, Java-compatible partitioning, idempotence, transactions;
//! - [`consumer`]: the share consumer (KIP-932, Kafka as a queue).

pub use rkafka_client_consumer as consumer;
pub use rkafka_client_core as core;
pub use rkafka_client_producer as producer;
pub use rkafka_protocol as protocol;

pub use rkafka_client_core::admin::Admin;
pub use rkafka_client_core::{Client, ClientConfig, Error, Result};

/// The README's code blocks, compiled as doctests so they cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
