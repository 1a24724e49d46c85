//! Connection configuration, built with `bon`; each field documents the Java
//! client property it mirrors.

use std::time::Duration;

use crate::backoff::Backoff;
use crate::conn::ConnOptions;
use crate::error::Error;
use crate::net::tls::{Pem, TlsConfig};
use crate::sasl::{OAuthToken, SaslConfig, ScramHash, Secret, TokenSource};

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
        match &self.sasl {
            Some(SaslConfig::Plain { username, .. } | SaslConfig::Scram { username, .. })
                if username.is_empty() =>
            {
                return bad("the SASL user name (sasl.username) is empty")
            }
            Some(SaslConfig::OAuthBearer(TokenSource::Static(t)))
                if t.token.expose().is_empty() =>
            {
                return bad("the OAUTHBEARER token (sasl.oauthbearer.token) is empty")
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

impl ConnectionConfig {
    /// Builds a config from Java/librdkafka-style properties, so existing
    /// client settings carry over as they are. Recognised keys:
    ///
    /// | key | field |
    /// |---|---|
    /// | `client.id` | `client_id` |
    /// | `request.timeout.ms` | `request_timeout` |
    /// | `socket.connection.setup.timeout.ms` | `connect_timeout` |
    /// | `connections.max.idle.ms` | `connections_max_idle` |
    /// | `reconnect.backoff.ms`, `reconnect.backoff.max.ms` | `reconnect_backoff(_max)` |
    /// | `max.in.flight.requests.per.connection` | `max_in_flight` |
    /// | `receive.message.max.bytes` | `max_response_size` |
    /// | `security.protocol` | `security_protocol` |
    /// | `ssl.ca.location`, `ssl.truststore.location` (PEM) | `tls.ca` |
    /// | `ssl.certificate.location`, `ssl.keystore.location` (PEM) | `tls.client_cert` |
    /// | `ssl.key.location` | `tls.client_key` |
    /// | `ssl.endpoint.identification.algorithm` (`https` or empty) | `tls.danger_accept_invalid_certs` |
    /// | `sasl.mechanism` | `sasl` (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER; PLAIN when only credentials are given) |
    /// | `sasl.username`, `sasl.password` | the credentials |
    /// | `sasl.jaas.config` | credentials from a JAAS line (`username="…" password="…"`) |
    /// | `sasl.oauthbearer.token` | a static OAUTHBEARER token |
    ///
    /// Unknown keys are an error, so a typo does not silently fall back to a
    /// default. Values are never echoed in errors (they may be secrets).
    pub fn from_properties<I, K, V>(props: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut cfg = Self::default();
        for (k, v) in props {
            cfg.set(k.as_ref(), v.as_ref())?;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Sets one property by its Java/librdkafka name (the keys of
    /// [`Self::from_properties`]), in any order: SASL credentials given
    /// before `sasl.mechanism` are kept. Does not validate the whole; call
    /// [`Self::validate`] once everything is set.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key (never the value) when it is unknown
    /// or its value malformed.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), Error> {
        let v = value.trim();
        let bad = |what: &str| Error::Config {
            reason: format!("{key}: {what}"),
        };
        let ms = || -> Result<Duration, Error> {
            v.parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| bad("expected milliseconds"))
        };
        let count =
            || -> Result<usize, Error> { v.parse::<usize>().map_err(|_| bad("expected a number")) };
        match key {
            "client.id" => self.client_id = v.to_owned(),
            "request.timeout.ms" => self.request_timeout = ms()?,
            "socket.connection.setup.timeout.ms" => self.connect_timeout = ms()?,
            "connections.max.idle.ms" => self.connections_max_idle = ms()?,
            "reconnect.backoff.ms" => self.reconnect_backoff = ms()?,
            "reconnect.backoff.max.ms" => self.reconnect_backoff_max = ms()?,
            "max.in.flight.requests.per.connection" => self.max_in_flight = count()?,
            "receive.message.max.bytes" => self.max_response_size = count()?,
            "security.protocol" => {
                self.security_protocol = match v.to_ascii_uppercase().as_str() {
                    "PLAINTEXT" => SecurityProtocol::Plaintext,
                    "SSL" => SecurityProtocol::Ssl,
                    "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
                    "SASL_SSL" => SecurityProtocol::SaslSsl,
                    _ => return Err(bad("expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")),
                }
            }
            "ssl.ca.location" | "ssl.truststore.location" => {
                self.tls.ca = Some(Pem::File(v.into()))
            }
            "ssl.certificate.location" | "ssl.keystore.location" => {
                self.tls.client_cert = Some(Pem::File(v.into()))
            }
            "ssl.key.location" => self.tls.client_key = Some(Pem::File(v.into())),
            "ssl.endpoint.identification.algorithm" => {
                self.tls.danger_accept_invalid_certs = match v.to_ascii_lowercase().as_str() {
                    "https" => false,
                    "" | "none" => true,
                    _ => return Err(bad("expected https or an empty value")),
                }
            }
            "sasl.mechanism" | "sasl.mechanisms" => {
                let (user, pass, token) = sasl_parts(self.sasl.take());
                self.sasl = Some(match v.to_ascii_uppercase().as_str() {
                    "PLAIN" => SaslConfig::plain(user, pass),
                    "SCRAM-SHA-256" => SaslConfig::scram(ScramHash::Sha256, user, pass),
                    "SCRAM-SHA-512" => SaslConfig::scram(ScramHash::Sha512, user, pass),
                    "OAUTHBEARER" => SaslConfig::oauth_static(OAuthToken {
                        token,
                        ..Default::default()
                    }),
                    _ => {
                        return Err(bad(
                            "expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER",
                        ))
                    }
                });
            }
            "sasl.username" => self.update_sasl(Some(v.to_owned()), None, None),
            "sasl.password" => self.update_sasl(None, Some(v.into()), None),
            "sasl.oauthbearer.token" => self.update_sasl(None, None, Some(v.into())),
            "sasl.jaas.config" => self.update_sasl(
                jaas_option(v, "username"),
                jaas_option(v, "password").map(Secret::from),
                None,
            ),
            _ => {
                return Err(Error::Config {
                    reason: format!("unknown property {key:?}"),
                })
            }
        }
        Ok(())
    }

    /// Replaces the given SASL credentials, keeping the mechanism. Before
    /// `sasl.mechanism` is set, credentials wait in a PLAIN (or, for a token,
    /// OAUTHBEARER) config that a later `sasl.mechanism` converts.
    fn update_sasl(&mut self, user: Option<String>, pass: Option<Secret>, token: Option<Secret>) {
        let static_token = |token: Secret| {
            SaslConfig::oauth_static(OAuthToken {
                token,
                ..Default::default()
            })
        };
        self.sasl = Some(match self.sasl.take() {
            None if token.is_some() && user.is_none() && pass.is_none() => {
                static_token(token.unwrap_or_default())
            }
            None => SaslConfig::plain(user.unwrap_or_default(), pass.unwrap_or_default()),
            Some(SaslConfig::Plain { username, password }) => {
                SaslConfig::plain(user.unwrap_or(username), pass.unwrap_or(password))
            }
            Some(SaslConfig::Scram {
                hash,
                username,
                password,
            }) => SaslConfig::scram(hash, user.unwrap_or(username), pass.unwrap_or(password)),
            Some(SaslConfig::OAuthBearer(src)) => match token {
                Some(t) => static_token(t),
                None => SaslConfig::OAuthBearer(src),
            },
        });
    }
}

/// The credentials held by a SASL config: (user, password, static token).
fn sasl_parts(sasl: Option<SaslConfig>) -> (String, Secret, Secret) {
    match sasl {
        Some(SaslConfig::Plain { username, password })
        | Some(SaslConfig::Scram {
            username, password, ..
        }) => (username, password, Secret::default()),
        Some(SaslConfig::OAuthBearer(TokenSource::Static(t))) => {
            (String::new(), Secret::default(), t.token)
        }
        _ => (String::new(), Secret::default(), Secret::default()),
    }
}

/// `name="value"` from a JAAS configuration line.
fn jaas_option(jaas: &str, name: &str) -> Option<String> {
    let mut rest = jaas;
    while let Some(i) = rest.find(name) {
        let before_ok = i == 0 || !rest.as_bytes()[i - 1].is_ascii_alphanumeric();
        let after = rest[i + name.len()..].trim_start();
        if before_ok {
            if let Some(value) = after.strip_prefix('=') {
                let value = value.trim_start().strip_prefix('"')?;
                return value.find('"').map(|end| value[..end].to_owned());
            }
        }
        rest = &rest[i + name.len()..];
    }
    None
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

    #[test]
    fn java_properties_map_onto_fields() {
        let c = ConnectionConfig::from_properties([
            ("client.id", "billing"),
            ("request.timeout.ms", "1234"),
            ("reconnect.backoff.max.ms", "5000"),
            ("max.in.flight.requests.per.connection", "1"),
            ("security.protocol", "sasl_ssl"),
            ("ssl.truststore.location", "/etc/ca.pem"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required \
                 username=\"alice\" password=\"s3cret\";",
            ),
        ])
        .unwrap();
        assert_eq!(c.client_id, "billing");
        assert_eq!(c.request_timeout, Duration::from_millis(1234));
        assert_eq!(c.reconnect_backoff_max, Duration::from_secs(5));
        assert_eq!(c.max_in_flight, 1);
        assert_eq!(c.security_protocol, SecurityProtocol::SaslSsl);
        assert!(matches!(c.tls.ca, Some(Pem::File(ref p)) if p.to_str() == Some("/etc/ca.pem")));
        match c.sasl {
            Some(SaslConfig::Scram {
                hash,
                ref username,
                ref password,
            }) => {
                assert_eq!(hash, ScramHash::Sha512);
                assert_eq!(username, "alice");
                assert_eq!(password.expose(), "s3cret");
            }
            ref other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_properties_are_named_without_their_values() {
        let e = ConnectionConfig::from_properties([("request.timout.ms", "5")]).unwrap_err();
        assert!(e.to_string().contains("request.timout.ms"), "{e}");
        let e = ConnectionConfig::from_properties([("request.timeout.ms", "soon")]).unwrap_err();
        assert!(e.to_string().contains("milliseconds"), "{e}");
        let e = ConnectionConfig::from_properties([
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.password", "hunter2"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("sasl.username"), "{e}");
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn credentials_may_come_before_the_mechanism() {
        let c = ConnectionConfig::from_properties([
            ("sasl.username", "bob"),
            ("sasl.password", "pw"),
            ("sasl.mechanism", "scram-sha-256"),
            ("security.protocol", "SASL_PLAINTEXT"),
        ])
        .unwrap();
        assert!(matches!(
            c.sasl,
            Some(SaslConfig::Scram { hash: ScramHash::Sha256, ref username, .. }) if username == "bob"
        ));
        let c = ConnectionConfig::from_properties([
            ("security.protocol", "SASL_SSL"),
            ("sasl.oauthbearer.token", "tok"),
            ("sasl.mechanism", "OAUTHBEARER"),
        ])
        .unwrap();
        match c.sasl {
            Some(SaslConfig::OAuthBearer(TokenSource::Static(ref t))) => {
                assert_eq!(t.token.expose(), "tok")
            }
            ref other => panic!("{other:?}"),
        }
        let mut c = ConnectionConfig::default();
        c.set("sasl.mechanism", "GSSAPI").unwrap_err();
        c.set("ssl.endpoint.identification.algorithm", "").unwrap();
        assert!(c.tls.danger_accept_invalid_certs);
    }

    #[test]
    fn jaas_options() {
        let j = r#"x.PlainLoginModule required username="u" password = "p w";"#;
        assert_eq!(jaas_option(j, "username").as_deref(), Some("u"));
        assert_eq!(jaas_option(j, "password").as_deref(), Some("p w"));
        assert_eq!(jaas_option(j, "token"), None);
    }
}
