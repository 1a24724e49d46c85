//! Building a [`ClientConfig`] from Java client property names, so settings
//! can come from the same `key=value` files other Kafka clients read.
//!
//! The client's own keys are read here; the rest (timeouts, TLS, SASL, ...)
//! go to [`crate::config::ConnectionConfig::set`].

use std::time::Duration;

use super::config::{ClientConfig, MetadataRecoveryStrategy};
use crate::error::Error;

/// Names the key, never the value (values may be secrets elsewhere; keep
/// one habit).
fn bad(key: &str, _value: &str, want: &str) -> Error {
    Error::Config {
        reason: format!("{key}: expected {want}"),
    }
}

fn millis(key: &str, value: &str) -> Result<Duration, Error> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| bad(key, value, "a number of milliseconds"))
}

impl ClientConfig {
    /// A config from Java property names and values, e.g.
    /// `[("bootstrap.servers", "b1:9092"), ("metadata.max.age.ms", "60000")]`.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown key, a malformed value, or a missing
    /// `bootstrap.servers`.
    pub fn from_properties<K: AsRef<str>, V: AsRef<str>>(
        props: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, Error> {
        let mut cfg = ClientConfig::builder().bootstrap_servers("").build();
        for (k, v) in props {
            cfg.set(k.as_ref(), v.as_ref())?;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Sets one property by its Java name.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown key or a malformed value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), Error> {
        match key {
            "bootstrap.servers" => self.bootstrap_servers = value.to_owned(),
            "client.id" => self.client_id = Some(value.to_owned()),
            "metadata.max.age.ms" => self.metadata_max_age = millis(key, value)?,
            "retry.backoff.ms" => self.retry_backoff = millis(key, value)?,
            "retry.backoff.max.ms" => self.retry_backoff_max = millis(key, value)?,
            "request.timeout.ms" => self.request_timeout = Some(millis(key, value)?),
            "default.api.timeout.ms" => self.default_api_timeout = millis(key, value)?,
            "metadata.recovery.strategy" => {
                self.metadata_recovery_strategy = match value.trim().to_ascii_lowercase().as_str() {
                    "rebootstrap" => MetadataRecoveryStrategy::Rebootstrap,
                    "none" => MetadataRecoveryStrategy::None,
                    _ => return Err(bad(key, value, "rebootstrap or none")),
                }
            }
            "metadata.recovery.rebootstrap.trigger.ms" => {
                self.metadata_recovery_rebootstrap_trigger = millis(key, value)?
            }
            // Connection settings (timeouts, reconnect backoff, in-flight
            // limit, security.protocol, ssl.*, sasl.*) belong to the
            // connection config, which knows them and refuses unknown keys.
            _ => self.connection.set(key, value)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_names_map_to_fields() {
        let cfg = ClientConfig::from_properties([
            ("bootstrap.servers", "a:1,b:2"),
            ("client.id", "billing"),
            ("metadata.max.age.ms", "1000"),
            ("retry.backoff.ms", "5"),
            ("retry.backoff.max.ms", "50"),
            ("request.timeout.ms", "700"),
            ("default.api.timeout.ms", "9000"),
            ("metadata.recovery.strategy", "NONE"),
            ("metadata.recovery.rebootstrap.trigger.ms", "1234"),
            ("reconnect.backoff.max.ms", "300"),
            ("max.in.flight.requests.per.connection", "1"),
        ])
        .unwrap();
        assert_eq!(cfg.bootstrap().unwrap().len(), 2);
        assert_eq!(cfg.metadata_max_age, Duration::from_secs(1));
        assert_eq!(cfg.retry_backoff_max, Duration::from_millis(50));
        assert_eq!(cfg.default_api_timeout, Duration::from_secs(9));
        assert_eq!(
            cfg.metadata_recovery_strategy,
            MetadataRecoveryStrategy::None
        );
        assert_eq!(
            cfg.metadata_recovery_rebootstrap_trigger,
            Duration::from_millis(1234)
        );
        let conn = cfg.connection();
        assert_eq!(conn.client_id, "billing");
        assert_eq!(conn.request_timeout, Duration::from_millis(700));
        assert_eq!(conn.reconnect_backoff_max, Duration::from_millis(300));
        assert_eq!(conn.max_in_flight, 1);
    }

    #[test]
    fn connection_keys_are_delegated() {
        let cfg = ClientConfig::from_properties([
            ("bootstrap.servers", "a:1"),
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "u"),
            ("sasl.password", "p"),
        ])
        .unwrap();
        assert!(cfg.connection().sasl.is_some());
    }

    #[test]
    fn bad_keys_values_and_missing_bootstrap_are_refused() {
        for props in [
            vec![("bootstrap.servers", "a:1"), ("no.such.key", "1")],
            vec![("bootstrap.servers", "a:1"), ("retry.backoff.ms", "soon")],
            vec![
                ("bootstrap.servers", "a:1"),
                ("metadata.recovery.strategy", "x"),
            ],
            vec![("bootstrap.servers", "a:1"), ("security.protocol", "TLS")],
            vec![("client.id", "x")],
        ] {
            let err = ClientConfig::from_properties(props.clone()).unwrap_err();
            assert!(matches!(err, Error::Config { .. }), "{props:?}: {err}");
        }
    }
}
