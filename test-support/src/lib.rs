//! Test-only helpers shared by rkafka's integration tests (a dev-dependency,
//! never published).
//!
//! - [`wire`]: reading request frames and writing response frames, for
//!   responders written in a test.
//! - [`fake`]: a crafted one-broker Kafka responder for what no local peer
//!   serves (share APIs at v2, transactions v2).
//! - [`raw`]: producing and reading back a partition with raw Produce and
//!   Fetch requests through a core [`Client`](rkafka_client_core::Client),
//!   a path independent of the producer and consumers under test.
//!
//! The peers (librdkafka's mock cluster, Tansu, stunnel) are started by the
//! separate harness crate `rkafka-tests`, which depends on no rkafka crate.

#![deny(missing_docs)]

pub mod fake;
pub mod raw;
pub mod wire;
