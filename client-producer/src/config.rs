//! The producer's settings, named after the Java client's and with its
//! 4.x defaults.

use std::sync::Arc;
use std::time::Duration;

use rkafka_client_core::config::ConnectionConfig;
use rkafka_client_core::ClientConfig;
use rkafka_protocol::records::Compression;

use crate::error::ProducerError;
use crate::partitioner::Partitioner;

/// `acks`: how many replicas must have a batch before the broker answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acks {
    /// `acks=0`: the broker does not answer; offsets are reported as -1.
    None,
    /// `acks=1`: the leader alone.
    Leader,
    /// `acks=all` (`-1`): every in-sync replica. The default.
    #[default]
    All,
}

impl Acks {
    /// The value sent in a Produce request.
    pub fn wire(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// Producer configuration. Build it with [`ProducerConfig::builder`]; every
/// option documents the Java property it stands for.
///
/// ```
/// use std::time::Duration;
/// use rkafka_client_producer::{Acks, ProducerConfig};
///
/// let cfg = ProducerConfig::builder()
///     .bootstrap_servers("localhost:9092")
///     .linger(Duration::from_millis(10))
///     .build();
/// assert_eq!(cfg.acks, Acks::All);
/// assert_eq!(cfg.batch_size, 16_384);
/// assert!(cfg.idempotence());
/// ```
#[derive(Clone, bon::Builder)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// `bootstrap.servers`.
    #[builder(into)]
    pub bootstrap_servers: String,
    /// `client.id`.
    #[builder(into)]
    pub client_id: Option<String>,
    /// `acks` (default `all`).
    #[builder(default)]
    pub acks: Acks,
    /// `linger.ms` (default 5 ms): how long a batch waits for more records.
    #[builder(default = Duration::from_millis(5))]
    pub linger: Duration,
    /// `batch.size` (default 16384): the size at which a batch is closed.
    #[builder(default = 16_384)]
    pub batch_size: usize,
    /// `compression.type` (default none).
    #[builder(default = Compression::None)]
    pub compression: Compression,
    /// `compression.level`; `None` uses the codec's Java default.
    pub compression_level: Option<i32>,
    /// `max.in.flight.requests.per.connection` (default 5).
    #[builder(default = 5)]
    pub max_in_flight_requests_per_connection: usize,
    /// `enable.idempotence`. Unset means Java's rule: on unless `acks` is
    /// not `all` or more than 5 requests may be in flight.
    pub enable_idempotence: Option<bool>,
    /// `delivery.timeout.ms` (default 120 s): the limit from `send` until a
    /// record is acknowledged or failed, retries included.
    #[builder(default = Duration::from_millis(120_000))]
    pub delivery_timeout: Duration,
    /// `request.timeout.ms` (default 30 s).
    #[builder(default = Duration::from_millis(30_000))]
    pub request_timeout: Duration,
    /// `retry.backoff.ms` (default 100 ms).
    #[builder(default = Duration::from_millis(100))]
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms` (default 1 s).
    #[builder(default = Duration::from_millis(1000))]
    pub retry_backoff_max: Duration,
    /// `buffer.memory` (default 32 MiB): bytes of records waiting to be
    /// sent; `send` waits when they are used up.
    #[builder(default = 32 * 1024 * 1024)]
    pub buffer_memory: usize,
    /// `max.block.ms` (default 60 s): how long `send` waits for buffer
    /// memory or topic metadata.
    #[builder(default = Duration::from_millis(60_000))]
    pub max_block: Duration,
    /// `max.request.size` (default 1 MiB): the largest record, and request.
    #[builder(default = 1_048_576)]
    pub max_request_size: usize,
    /// `partitioner.class`; `None` is the Java default (murmur2 of the key,
    /// uniform sticky for records without one).
    pub partitioner: Option<Arc<dyn Partitioner>>,
    /// `partitioner.ignore.keys` (default false): sticky even with keys.
    #[builder(default)]
    pub partitioner_ignore_keys: bool,
    /// `partitioner.adaptive.partitioning.enable` (default true): records
    /// without a key move to partitions with fewer batches waiting more
    /// often (KIP-794); false picks uniformly.
    #[builder(default = true)]
    pub partitioner_adaptive_partitioning_enable: bool,
    /// `partitioner.availability.timeout.ms` (default 0: off): with
    /// adaptive partitioning, records without a key skip the partitions of
    /// a leader that had batches ready for longer than this without the
    /// producer being able to send it a request (all it allows in flight
    /// unanswered, or the broker unreachable), until it takes one again.
    #[builder(default = Duration::ZERO)]
    pub partitioner_availability_timeout: Duration,
    /// `transactional.id`: turns on transactions.
    #[builder(into)]
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms` (default 60 s).
    #[builder(default = Duration::from_millis(60_000))]
    pub transaction_timeout: Duration,
    /// `metadata.max.age.ms` (default 5 min).
    #[builder(default = Duration::from_millis(300_000))]
    pub metadata_max_age: Duration,
    /// Connection settings (TLS, SASL, connect timeouts).
    #[builder(default)]
    pub connection: ConnectionConfig,
}

impl std::fmt::Debug for ProducerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("acks", &self.acks)
            .field("linger", &self.linger)
            .field("batch_size", &self.batch_size)
            .field("compression", &self.compression)
            .field("idempotence", &self.idempotence())
            .field("transactional_id", &self.transactional_id)
            .finish_non_exhaustive()
    }
}

impl ProducerConfig {
    /// Whether the producer is idempotent, after Java's defaulting rule.
    pub fn idempotence(&self) -> bool {
        match self.enable_idempotence {
            Some(on) => on,
            None => {
                self.transactional_id.is_some()
                    || (self.acks == Acks::All && self.max_in_flight_requests_per_connection <= 5)
            }
        }
    }

    /// Checks that the settings fit together, as the Java client does.
    ///
    /// # Errors
    /// [`ProducerError::Config`] naming the conflict.
    pub fn validate(&self) -> Result<(), ProducerError> {
        let bad = |reason: &str| Err(ProducerError::Config(reason.to_owned()));
        if self.idempotence() {
            if self.acks != Acks::All {
                return bad("enable.idempotence requires acks=all");
            }
            if self.max_in_flight_requests_per_connection > 5 {
                return bad(
                    "enable.idempotence requires max.in.flight.requests.per.connection <= 5",
                );
            }
        }
        if self.transactional_id.is_some() && self.enable_idempotence == Some(false) {
            return bad("transactional.id requires enable.idempotence");
        }
        if self.max_in_flight_requests_per_connection == 0 {
            return bad("max.in.flight.requests.per.connection must be at least 1");
        }
        if self.batch_size == 0 || self.buffer_memory == 0 || self.max_request_size == 0 {
            return bad("batch.size, buffer.memory and max.request.size must be positive");
        }
        if self.delivery_timeout < self.linger + self.request_timeout {
            return bad("delivery.timeout.ms must be at least linger.ms + request.timeout.ms");
        }
        Ok(())
    }

    /// The core client configuration these settings imply.
    pub fn client_config(&self) -> ClientConfig {
        let mut connection = self.connection.clone();
        // A connection must carry every request the producer pipelines to
        // that broker.
        connection.max_in_flight = connection
            .max_in_flight
            .max(self.max_in_flight_requests_per_connection);
        ClientConfig::builder()
            .bootstrap_servers(self.bootstrap_servers.clone())
            .maybe_client_id(self.client_id.clone())
            .retry_backoff(self.retry_backoff)
            .retry_backoff_max(self.retry_backoff_max)
            .request_timeout(self.request_timeout)
            .default_api_timeout(self.max_block.max(Duration::from_millis(1)))
            .metadata_max_age(self.metadata_max_age)
            .connection(connection)
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_java_4() {
        let c = ProducerConfig::builder().bootstrap_servers("a:1").build();
        assert_eq!(c.acks, Acks::All);
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!(c.batch_size, 16_384);
        assert_eq!(c.max_in_flight_requests_per_connection, 5);
        assert_eq!(c.delivery_timeout, Duration::from_secs(120));
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.buffer_memory, 32 << 20);
        assert_eq!(c.max_block, Duration::from_secs(60));
        assert_eq!(c.max_request_size, 1 << 20);
        assert!(c.partitioner_adaptive_partitioning_enable);
        assert_eq!(c.partitioner_availability_timeout, Duration::ZERO);
        assert!(c.idempotence());
        c.validate().unwrap();
    }

    #[test]
    fn idempotence_defaults_off_with_acks_1_but_explicit_conflict_fails() {
        let c = ProducerConfig::builder()
            .bootstrap_servers("a:1")
            .acks(Acks::Leader)
            .build();
        assert!(!c.idempotence());
        c.validate().unwrap();
        let c = ProducerConfig::builder()
            .bootstrap_servers("a:1")
            .acks(Acks::Leader)
            .enable_idempotence(true)
            .build();
        assert!(c.validate().is_err());
    }
}
