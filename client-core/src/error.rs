//! Errors of the connection layer: what failed, and what to do about it.
//!
//! Every variant names the broker or API involved where one is known, and the
//! `Display` text ends with the likely remedy. No variant ever carries a
//! secret: SASL errors hold the broker's message and the mechanism name only.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rkafka_protocol::{DecodeError, EncodeError, VersionRange};

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to a broker.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The TCP connection could not be made or broke (connect refused, reset,
    /// DNS failure). Retriable: the connection is rebuilt with backoff.
    Io {
        /// The broker address.
        broker: String,
        /// What we were doing ("connect", "read", "write", "resolve").
        op: &'static str,
        /// The OS error, shared so the error stays `Clone`.
        source: Arc<std::io::Error>,
    },
    /// No answer within the configured time.
    Timeout {
        /// What timed out ("connect", "request Metadata v12", ...).
        what: String,
        /// The limit that ran out.
        after: Duration,
    },
    /// The TLS handshake or configuration failed.
    Tls {
        /// The broker address, or `"config"` for a configuration problem.
        broker: String,
        /// What went wrong, in words (the certificate problem, the file).
        reason: String,
    },
    /// SASL authentication failed or could not be carried out.
    Sasl(SaslError),
    /// The broker does not support any version of an API that both sides know.
    UnsupportedVersion {
        /// The API's name.
        api: &'static str,
        /// The versions this client can speak.
        ours: VersionRange,
        /// The versions the broker announced, or `None` when it lacks the API.
        theirs: Option<VersionRange>,
    },
    /// A response frame was larger than `max_response_size`; it was refused
    /// before anything was allocated for it.
    FrameTooLarge {
        /// The size the frame announced.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// A response could not be decoded.
    Decode {
        /// What was being decoded (message name and version).
        what: String,
        /// The codec's reason.
        source: DecodeError,
    },
    /// A request could not be encoded.
    Encode {
        /// What was being encoded.
        what: String,
        /// The codec's reason.
        source: EncodeError,
    },
    /// The broker broke the protocol (wrong correlation id, malformed frame).
    Protocol {
        /// What was wrong.
        reason: String,
    },
    /// The connection failed earlier (framing error, I/O error); every request
    /// on it fails with the original cause. The next request reconnects.
    ConnectionPoisoned {
        /// The first error the connection hit.
        cause: Arc<Error>,
    },
    /// The connection was closed (by the broker, by shutdown, or because it
    /// sat idle) before the request could be answered.
    ConnectionClosed {
        /// The broker address.
        broker: String,
    },
    /// The request never reached the wire: the connection died (for
    /// `cause`) while it waited for a slot or in the send queue. Resending it
    /// cannot duplicate it, even for requests that are not idempotent;
    /// [`crate::broker::Broker`] does so once on a fresh connection.
    NotSent {
        /// Why the connection could not take it.
        cause: Arc<Error>,
    },
    /// The request was cancelled before it reached the wire.
    Cancelled,
    /// The configuration is invalid.
    Config {
        /// What is wrong with it.
        reason: String,
    },
    /// A broker answered with an error code (added for the client/admin layer).
    Kafka {
        /// What was asked ("CreateTopics orders", "FindCoordinator group g1").
        what: String,
        /// The broker's error code.
        code: rkafka_protocol::ErrorCode,
        /// The broker's error message, if it sent one.
        message: Option<String>,
    },
    /// No broker could be found to send a request to (no metadata, an unknown
    /// broker id, a topic or partition without a leader) before the deadline.
    NoRoute {
        /// Where the request should have gone.
        target: String,
        /// Why it could not go there.
        reason: String,
    },
    /// The client was shut down.
    ClientClosed,
}

/// How SASL authentication failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaslError {
    /// The broker refused the credentials; `message` is the broker's own text.
    AuthenticationFailed {
        /// The mechanism used.
        mechanism: String,
        /// The broker's error message, if it sent one.
        message: Option<String>,
    },
    /// The broker does not enable the mechanism.
    MechanismNotEnabled {
        /// The mechanism asked for.
        mechanism: String,
        /// The mechanisms the broker offers.
        enabled: Vec<String>,
    },
    /// The exchange broke the mechanism's rules (bad server nonce, wrong server
    /// signature, malformed message).
    Mechanism {
        /// The mechanism.
        mechanism: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The OAUTHBEARER token provider failed.
    TokenProvider {
        /// The provider's reason.
        reason: String,
    },
}

impl fmt::Display for SaslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuthenticationFailed { mechanism, message } => {
                write!(f, "SASL {mechanism} authentication failed")?;
                if let Some(m) = message {
                    write!(f, ": broker says \"{m}\"")?;
                }
                f.write_str(
                    "; check the user name and password (or token) and the broker's user list",
                )
            }
            Self::MechanismNotEnabled { mechanism, enabled } => write!(
                f,
                "SASL mechanism {mechanism} is not enabled on the broker (it offers {enabled:?}); \
                 set sasl.mechanism to one of those"
            ),
            Self::Mechanism { mechanism, reason } => {
                write!(f, "SASL {mechanism} exchange failed: {reason}")
            }
            Self::TokenProvider { reason } => {
                write!(f, "OAUTHBEARER token provider failed: {reason}")
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { broker, op, source } => write!(
                f,
                "{op} to broker {broker} failed: {source}; check the address and that the broker is up"
            ),
            Self::Timeout { what, after } => write!(
                f,
                "{what} timed out after {after:?}; the broker may be overloaded or unreachable \
                 (raise request.timeout.ms if it is just slow)"
            ),
            Self::Tls { broker, reason } => write!(
                f,
                "TLS with {broker} failed: {reason}; check ssl.truststore/ssl.ca.location, the \
                 broker's certificate and its host name"
            ),
            Self::Sasl(e) => e.fmt(f),
            Self::UnsupportedVersion { api, ours, theirs } => match theirs {
                Some(t) => write!(
                    f,
                    "broker supports {api} versions {t}, this client {ours}: no common version; \
                     upgrade the broker or the client"
                ),
                None => write!(
                    f,
                    "broker does not support {api} (this client speaks {ours}); the broker is \
                     too old or the API is disabled"
                ),
            },
            Self::FrameTooLarge { size, max } => write!(
                f,
                "response frame of {size} bytes exceeds the limit of {max} bytes; raise \
                 max.response.size, or the peer is not a Kafka broker (TLS to a plaintext port?)"
            ),
            Self::Decode { what, source } => write!(f, "could not decode {what}: {source}"),
            Self::Encode { what, source } => write!(f, "could not encode {what}: {source}"),
            Self::Protocol { reason } => write!(f, "broker broke the protocol: {reason}"),
            Self::ConnectionPoisoned { cause } => write!(
                f,
                "connection failed earlier ({cause}); it will be re-established"
            ),
            Self::ConnectionClosed { broker } => {
                write!(f, "connection to broker {broker} closed; retry the request")
            }
            Self::NotSent { cause } => {
                write!(f, "request not sent ({cause}); it is safe to resend")
            }
            Self::Cancelled => f.write_str("request cancelled before it was sent"),
            Self::Config { reason } => write!(f, "invalid configuration: {reason}"),
            Self::Kafka {
                what,
                code,
                message,
            } => {
                write!(f, "{what} failed with {code}")?;
                match message {
                    Some(m) => write!(f, ": broker says \"{m}\""),
                    None => Ok(()),
                }
            }
            Self::NoRoute { target, reason } => write!(
                f,
                "no broker to send to for {target}: {reason}; check that the cluster is up"
            ),
            Self::ClientClosed => f.write_str("the client was shut down"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source.as_ref()),
            Self::Decode { source, .. } => Some(source),
            Self::Encode { source, .. } => Some(source),
            Self::ConnectionPoisoned { cause } | Self::NotSent { cause } => Some(cause.as_ref()),
            _ => None,
        }
    }
}

impl From<SaslError> for Error {
    fn from(e: SaslError) -> Self {
        Self::Sasl(e)
    }
}

impl Error {
    /// Builds an [`Error::Io`].
    pub(crate) fn io(broker: impl Into<String>, op: &'static str, e: std::io::Error) -> Self {
        Self::Io {
            broker: broker.into(),
            op,
            source: Arc::new(e),
        }
    }

    /// Whether the request certainly did not reach the broker, so resending
    /// it cannot apply it twice.
    pub fn is_not_sent(&self) -> bool {
        matches!(
            self,
            Self::NotSent { .. } | Self::Cancelled | Self::Encode { .. }
        )
    }

    /// Whether retrying (on a new connection if needed) may succeed.
    ///
    /// Authentication, configuration and version errors are not retriable:
    /// repeating the request gives the same answer.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Io { .. }
            | Self::Timeout { .. }
            | Self::ConnectionClosed { .. }
            | Self::FrameTooLarge { .. }
            | Self::Protocol { .. }
            | Self::Decode { .. } => true,
            Self::ConnectionPoisoned { cause } | Self::NotSent { cause } => cause.is_retriable(),
            Self::Kafka { code, .. } => code.is_retriable(),
            Self::NoRoute { .. } => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_api_and_both_ranges() {
        let e = Error::UnsupportedVersion {
            api: "Fetch",
            ours: VersionRange { min: 4, max: 17 },
            theirs: Some(VersionRange { min: 0, max: 3 }),
        };
        let s = e.to_string();
        assert!(
            s.contains("Fetch") && s.contains("0-3") && s.contains("4-17"),
            "{s}"
        );
    }

    #[test]
    fn auth_failure_carries_broker_message() {
        let e: Error = SaslError::AuthenticationFailed {
            mechanism: "PLAIN".into(),
            message: Some("Invalid username or password".into()),
        }
        .into();
        assert!(e.to_string().contains("Invalid username or password"));
        assert!(!e.is_retriable());
    }

    #[test]
    fn poisoned_is_retriable_when_cause_is() {
        let io = Error::io("b:9092", "read", std::io::ErrorKind::ConnectionReset.into());
        let p = Error::ConnectionPoisoned {
            cause: Arc::new(io),
        };
        assert!(p.is_retriable());
        let cfg = Error::ConnectionPoisoned {
            cause: Arc::new(Error::Config { reason: "x".into() }),
        };
        assert!(!cfg.is_retriable());
    }
}
