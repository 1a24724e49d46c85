//! rkafka: a pure-Rust client for Apache Kafka.
//!
//! This facade re-exports the public API of the workspace crates. Today it
//! exposes the wire protocol layer ([`protocol`]); the client crates join it
//! as they land.

pub use rkafka_protocol as protocol;
