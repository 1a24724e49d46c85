//! The client's configuration, built with `bon`; each field names the Java
//! client property it mirrors.

use std::sync::Arc;
use std::time::Duration;

use crate::config::ConnectionConfig;
use crate::error::Error;
use crate::metadata::bootstrap::{parse_bootstrap, BootstrapServer};

/// `metadata.recovery.strategy` (KIP-899).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MetadataRecoveryStrategy {
    /// `rebootstrap` (the default since Kafka 4.0): when no known broker
    /// answers, resolve `bootstrap.servers` again and start over from it.
    #[default]
    Rebootstrap,
    /// `none`: keep trying the brokers from the last metadata.
    None,
}

/// How to find the cluster and how patiently to talk to it.
///
/// ```
/// # use std::time::Duration;
/// # use rkafka_client_core::client::ClientConfig;
/// let cfg = ClientConfig::builder()
///     .bootstrap_servers("localhost:9092")
///     .client_id("inventory")
///     .metadata_max_age(Duration::from_secs(60))
///     .build();
/// assert_eq!(cfg.connection().client_id, "inventory");
/// cfg.validate().unwrap();
/// ```
#[derive(Debug, Clone, bon::Builder)]
#[non_exhaustive]
pub struct ClientConfig {
    /// `bootstrap.servers`: comma-separated `host:port` list used to find the
    /// cluster (and to find it again when rebootstrapping).
    #[builder(into)]
    pub bootstrap_servers: String,
    /// `client.id`; overrides the connection config's when set.
    #[builder(into)]
    pub client_id: Option<String>,
    /// `metadata.max.age.ms`: refresh metadata at least this often.
    #[builder(default = Duration::from_millis(300_000))]
    pub metadata_max_age: Duration,
    /// `retry.backoff.ms`: first delay between retries.
    #[builder(default = Duration::from_millis(100))]
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms`: retry delays double up to this.
    #[builder(default = Duration::from_millis(1000))]
    pub retry_backoff_max: Duration,
    /// `request.timeout.ms`; overrides the connection config's when set.
    pub request_timeout: Option<Duration>,
    /// `default.api.timeout.ms`: the deadline for a call including retries.
    #[builder(default = Duration::from_millis(60_000))]
    pub default_api_timeout: Duration,
    /// `metadata.recovery.strategy`.
    #[builder(default)]
    pub metadata_recovery_strategy: MetadataRecoveryStrategy,
    /// `metadata.recovery.rebootstrap.trigger.ms` (KIP-1102): rebootstrap
    /// when no metadata could be obtained for this long.
    #[builder(default = Duration::from_millis(300_000))]
    pub metadata_recovery_rebootstrap_trigger: Duration,
    /// Connection settings: TLS, SASL, connect timeouts, in-flight limit.
    #[builder(default)]
    pub connection: ConnectionConfig,
}

impl ClientConfig {
    /// The connection config with this config's overrides applied.
    pub fn connection(&self) -> ConnectionConfig {
        let mut c = self.connection.clone();
        if let Some(id) = &self.client_id {
            c.client_id = id.clone();
        }
        if let Some(t) = self.request_timeout {
            c.request_timeout = t;
        }
        c
    }

    /// The parsed bootstrap list.
    pub fn bootstrap(&self) -> Result<Vec<BootstrapServer>, Error> {
        parse_bootstrap(&self.bootstrap_servers)
    }

    /// Checks that the settings fit together.
    pub fn validate(&self) -> Result<(), Error> {
        self.bootstrap()?;
        self.connection().validate()?;
        if self.default_api_timeout.is_zero() || self.metadata_max_age.is_zero() {
            return Err(Error::Config {
                reason: "default.api.timeout.ms and metadata.max.age.ms must be positive".into(),
            });
        }
        Ok(())
    }

    pub(crate) fn connection_arc(&self) -> Arc<ConnectionConfig> {
        Arc::new(self.connection())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_java() {
        let c = ClientConfig::builder().bootstrap_servers("a:1").build();
        assert_eq!(c.metadata_max_age, Duration::from_secs(300));
        assert_eq!(c.retry_backoff, Duration::from_millis(100));
        assert_eq!(c.retry_backoff_max, Duration::from_secs(1));
        assert_eq!(c.default_api_timeout, Duration::from_secs(60));
        assert_eq!(
            c.metadata_recovery_strategy,
            MetadataRecoveryStrategy::Rebootstrap
        );
        assert_eq!(
            c.metadata_recovery_rebootstrap_trigger,
            Duration::from_secs(300)
        );
        c.validate().unwrap();
        assert!(ClientConfig::builder()
            .bootstrap_servers("")
            .build()
            .validate()
            .is_err());
    }
}
