//! Connection configuration, built with `bon`; each field documents the Java
//! client property it mirrors.

use std::time::Duration;

use crate::backoff::Backoff;
use crate::conn::ConnOptions;
use crate::error::Error;
use crate::net::tls::TlsConfig;
use crate::sasl::SaslConfig;

/// `security.protocol`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SecurityProtocol {
    /// `PLAINTEXT`: TCP, no authentication.
    #[default]
    Plaintext,
    /// `SSL`: TLS, optionally with a client certificate.
    Ssl,
    /// `SASL_PLAINTEXT`: SASL over TCP (passwords in clear with PLAIN).
    SaslPlaintext,
    /// `SASL_SSL`: SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Whether the transport is TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    /// Whether SASL authentication runs after connecting.
    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// How to reach and talk to brokers.
///
/// ```
/// # use std::time::Duration;
/// # use rkafka_client_core::config::{ConnectionConfig, SecurityProtocol};
/// # use rkafka_client_core::sasl::{SaslConfig, ScramHash};
/// let cfg = ConnectionConfig::builder()
///     .client_id("billing")
///     .request_timeout(Duration::from_secs(10))
///     .security_protocol(SecurityProtocol::SaslSsl)
///     .sasl(SaslConfig::scram(ScramHash::Sha512, "alice", "secret"))
///     .build();
/// cfg.validate().unwrap();
/// assert!(!format!("{cfg:?}").contains("secret"));
/// ```
#[derive(Debug, Clone, bon::Builder)]
#[non_exhaustive]
pub struct ConnectionConfig {
    /// `client.id`: sent in every request header, shown in broker logs/quotas.
    #[builder(into, default = String::from("rkafka"))]
    pub client_id: String,
    /// `request.timeout.ms`: how long to wait for any one response.
    #[builder(default = Duration::from_secs(30))]
    pub request_timeout: Duration,
    /// `socket.connection.setup.timeout.ms`: TCP connect + TLS handshake.
    #[builder(default = Duration::from_secs(10))]
    pub connect_timeout: Duration,
    /// `connections.max.idle.ms`: close connections idle this long.
    #[builder(default = Duration::from_millis(540_000))]
    pub connections_max_idle: Duration,
    /// `reconnect.backoff.ms`: first delay before reconnecting.
    #[builder(default = Duration::from_millis(50))]
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms`: the delay doubles up to this.
    #[builder(default = Duration::from_millis(1000))]
    pub reconnect_backoff_max: Duration,
    /// `max.in.flight.requests.per.connection`.
    #[builder(default = 5)]
    pub max_in_flight: usize,
    /// librdkafka's `receive.message.max.bytes`: larger response frames are
    /// refused before allocation.
    #[builder(default = 100 * 1024 * 1024)]
    pub max_response_size: usize,
    /// `security.protocol`.
    #[builder(default)]
    pub security_protocol: SecurityProtocol,
    /// `ssl.*`: used when `security_protocol` is `Ssl` or `SaslSsl`.
    #[builder(default)]
    pub tls: TlsConfig,
    /// `sasl.mechanism` + `sasl.jaas.config`: used with `Sasl*` protocols.
    pub sasl: Option<SaslConfig>,
    /// Sent in ApiVersions v3+ (KIP-511) so brokers can tell clients apart.
    #[builder(into, default = String::from("rkafka"))]
    pub client_software_name: String,
    /// Sent in ApiVersions v3+.
    #[builder(into, default = String::from(env!("CARGO_PKG_VERSION")))]
    pub client_software_version: String,
    /// Use versions marked `latestVersionUnstable` in the spec (testing only).
    #[builder(default)]
    pub allow_unstable_versions: bool,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl ConnectionConfig {
    /// Checks that the settings fit together.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |reason: &str| {
            Err(Error::Config {
                reason: reason.into(),
            })
        };
        match (self.security_protocol.uses_sasl(), &self.sasl) {
            (true, None) => return bad("security.protocol is SASL_* but no sasl.mechanism is set"),
            (false, Some(_)) => {
                return bad(
                    "sasl.mechanism is set but security.protocol is not SASL_PLAINTEXT/SASL_SSL",
                )
            }
            _ => {}
        }
        if self.max_in_flight == 0 {
            return bad("max.in.flight.requests.per.connection must be at least 1");
        }
        if self.max_response_size < 8 {
            return bad("max response size must be at least 8 bytes");
        }
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() {
            return bad("timeouts must be positive");
        }
        // KIP-511: name and version must match [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
        for s in [&self.client_software_name, &self.client_software_version] {
            let ok = !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                && s.as_bytes()[0].is_ascii_alphanumeric()
                && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric();
            if !ok {
                return bad("client software name/version must be alphanumerics, '-' and '.'");
            }
        }
        Ok(())
    }

    /// The per-connection tuning derived from this config.
    pub fn conn_options(&self) -> ConnOptions {
        ConnOptions {
            max_in_flight: self.max_in_flight,
            max_response_size: self.max_response_size,
            idle_timeout: (!self.connections_max_idle.is_zero())
                .then_some(self.connections_max_idle),
        }
    }

    /// A fresh reconnect backoff sequence.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.reconnect_backoff, self.reconnect_backoff_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_java() {
        let c = ConnectionConfig::default();
        assert_eq!(c.request_timeout, Duration::from_millis(30_000));
        assert_eq!(c.reconnect_backoff, Duration::from_millis(50));
        assert_eq!(c.reconnect_backoff_max, Duration::from_millis(1000));
        assert_eq!(c.connections_max_idle, Duration::from_millis(540_000));
        assert_eq!(c.max_in_flight, 5);
        c.validate().unwrap();
    }

    #[test]
    fn mismatched_sasl_settings_are_refused() {
        let c = ConnectionConfig::builder()
            .security_protocol(SecurityProtocol::SaslPlaintext)
            .build();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("sasl.mechanism"));
        let c = ConnectionConfig::builder()
            .sasl(SaslConfig::plain("u", "p"))
            .build();
        assert!(c.validate().is_err());
        let c = ConnectionConfig::builder()
            .client_software_version("1.0 beta")
            .build();
        assert!(c.validate().is_err());
    }
}
