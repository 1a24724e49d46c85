//! Test harness: starts and stops real Kafka-protocol peers for rkafka's integration tests.
//!
//! Every peer runs as a child process in its own process group and is killed (with
//! everything it started) when its handle drops, so a failing test leaves nothing behind.
//! The peers are installed by `just peers` (`tools/peers/install.sh`) into the repo's
//! `.venv`; when something is missing, starting a peer fails with an error that names it
//! and says how to install it.
//!
//! - [`MockCluster`]: librdkafka's mock cluster (`tools/peers/mock_cluster.py`), multi-broker,
//!   with fault injection, share-group controls and request recording through
//!   [`MockCluster::control`].
//! - [`Tansu`]: an independently written broker with admin APIs (in-memory storage).
//! - [`TlsMaterial`] and [`Stunnel`]: TLS (optionally mutual) in front of any peer.
//! - [`run_python`] and [`librdkafka_roundtrip`]: `confluent_kafka` as a cross-check client.
//! - [`external_bootstrap`] and [`skip_if_external!`]: running the suite against a broker
//!   named by `KAFKA_BOOTSTRAP` instead.
//! - [`build_example`] and [`run_example`]: the real binary of a runnable example, for
//!   tests that run it.
//! - `KafkaContainer` (feature `testcontainers`): the official `apache/kafka` 4.x image
//!   with share groups enabled, where a Docker engine is available.

#![deny(missing_docs)]

#[cfg(feature = "testcontainers")]
mod container;
mod error;
mod example;
mod external;
mod mock;
mod paths;
mod process;
mod python;
mod tansu;
mod tls;

#[cfg(feature = "testcontainers")]
pub use container::{KafkaContainer, KAFKA_IMAGE_TAG};
pub use error::HarnessError;
pub use example::{build_example, run_example};
pub use external::{
    external_bootstrap, skips_when_external, BrokerUnderTest, EXTERNAL_BOOTSTRAP_ENV,
};
pub use mock::{MockCluster, MockConfig, TopicSpec, TrackedRequest};
pub use paths::{repo_root, venv_python};
pub use process::{free_port, process_is_running};
pub use python::{librdkafka_roundtrip, run_python};
pub use tansu::{Tansu, TansuConfig};
pub use tls::{Stunnel, TlsMaterial};
