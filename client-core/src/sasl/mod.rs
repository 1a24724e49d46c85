//! SASL authentication: the mechanisms (PLAIN, SCRAM-SHA-256/512,
//! OAUTHBEARER) and their configuration.
//!
//! The mechanisms are pure state machines fed with the server's bytes; the
//! wire exchange (SaslHandshake v1 + SaslAuthenticate) lives in
//! `conn::auth`. Secrets are held in [`Secret`], whose `Debug` prints
//! `"***"`, so no `{:?}` of a config, error or log line ever shows one.

mod oauthbearer;
mod plain;
mod scram;

use std::fmt;

pub use self::oauthbearer::{OAuthToken, TokenFuture, TokenProvider, TokenSource};
pub use self::scram::ScramHash;

use crate::error::SaslError;

/// A string that is never printed: `Debug` and `Display` show `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, for the one place that has to send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// `sasl.mechanism` with its credentials (`sasl.jaas.config`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SaslConfig {
    /// PLAIN: user name and password, sent in clear (use with TLS).
    Plain {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// SCRAM-SHA-256 or SCRAM-SHA-512.
    Scram {
        /// Which hash.
        hash: ScramHash,
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// OAUTHBEARER with a static token or a provider.
    OAuthBearer(TokenSource),
}

impl SaslConfig {
    /// PLAIN with these credentials.
    pub fn plain(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::Plain {
            username: username.into(),
            password: password.into(),
        }
    }

    /// SCRAM with the given hash and credentials.
    pub fn scram(
        hash: ScramHash,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        Self::Scram {
            hash,
            username: username.into(),
            password: password.into(),
        }
    }

    /// OAUTHBEARER with a fixed token.
    pub fn oauth_static(token: OAuthToken) -> Self {
        Self::OAuthBearer(TokenSource::Static(token))
    }

    /// OAUTHBEARER asking `provider` for a token at every authentication.
    pub fn oauth_provider(provider: impl TokenProvider) -> Self {
        Self::OAuthBearer(TokenSource::Provider(std::sync::Arc::new(provider)))
    }

    /// The mechanism name sent in SaslHandshake.
    pub fn mechanism(&self) -> &'static str {
        match self {
            Self::Plain { .. } => "PLAIN",
            Self::Scram { hash, .. } => hash.mechanism(),
            Self::OAuthBearer(_) => "OAUTHBEARER",
        }
    }

    /// Starts an exchange: the mechanism state and the client's first message.
    pub(crate) async fn start(&self) -> Result<(Exchange, Vec<u8>), SaslError> {
        Ok(match self {
            Self::Plain { username, password } => (
                Exchange::Plain,
                plain::initial_response(username, password.expose()),
            ),
            Self::Scram {
                hash,
                username,
                password,
            } => {
                let mut c = scram::ScramClient::new(*hash, username, password.expose());
                let first = c.client_first();
                (Exchange::Scram(Box::new(c)), first)
            }
            Self::OAuthBearer(src) => {
                let token = src.fetch().await?;
                (
                    Exchange::OAuth { error: None },
                    oauthbearer::initial_response(&token)?,
                )
            }
        })
    }
}

/// A mechanism part-way through its exchange.
pub(crate) enum Exchange {
    Plain,
    Scram(Box<scram::ScramClient>),
    OAuth {
        /// The server's JSON error challenge, once one came.
        error: Option<String>,
    },
}

/// What the client does after a server message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send these bytes in the next SaslAuthenticate.
    Send(Vec<u8>),
    /// The exchange completed successfully.
    Done,
}

impl Exchange {
    /// Feeds the server's `auth_bytes` from a successful SaslAuthenticate.
    pub(crate) fn step(&mut self, server: &[u8]) -> Result<Step, SaslError> {
        match self {
            Self::Plain => Ok(Step::Done),
            Self::Scram(c) => {
                if c.is_done() {
                    return Ok(Step::Done);
                }
                // First answer: server-first; second: server-final.
                if c.sent_final() {
                    c.verify_server_final(server).map(|()| Step::Done)
                } else {
                    c.client_final(server).map(Step::Send)
                }
            }
            Self::OAuth { error } => {
                if let Some(json) = error.take() {
                    // The server accepted our acknowledgement without failing:
                    // a broken server. Still report the failure it described.
                    return Err(SaslError::AuthenticationFailed {
                        mechanism: "OAUTHBEARER".into(),
                        message: Some(json),
                    });
                }
                if server.is_empty() {
                    Ok(Step::Done)
                } else {
                    *error = Some(String::from_utf8_lossy(server).into_owned());
                    Ok(Step::Send(oauthbearer::ERROR_ACK.to_vec()))
                }
            }
        }
    }

    /// The server error text an OAUTHBEARER exchange received, for when the
    /// broker's own error message is empty.
    pub(crate) fn server_error(&self) -> Option<&str> {
        match self {
            Self::OAuth { error } => error.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_redacts_passwords_and_tokens() {
        let c = SaslConfig::scram(ScramHash::Sha512, "bob", "hunter2");
        let d = format!("{c:?}");
        assert!(d.contains("bob") && !d.contains("hunter2"), "{d}");
        let c = SaslConfig::plain("bob", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        let c = SaslConfig::oauth_static(OAuthToken {
            token: Secret::new("jwt-secret"),
            ..Default::default()
        });
        assert!(!format!("{c:?}").contains("jwt-secret"));
    }

    #[tokio::test]
    async fn plain_exchange_is_one_round() {
        let (mut ex, first) = SaslConfig::plain("u", "p").start().await.unwrap();
        assert_eq!(first, b"\0u\0p");
        assert_eq!(ex.step(b"").unwrap(), Step::Done);
    }

    #[tokio::test]
    async fn oauth_error_challenge_is_acknowledged() {
        let provider = || -> TokenFuture {
            Box::pin(async {
                Ok(OAuthToken {
                    token: Secret::new("tok"),
                    ..Default::default()
                })
            })
        };
        let (mut ex, first) = SaslConfig::oauth_provider(provider).start().await.unwrap();
        assert_eq!(first, b"n,,\x01auth=Bearer tok\x01\x01");
        let json = br#"{"status":"invalid_token"}"#;
        assert_eq!(ex.step(json).unwrap(), Step::Send(vec![1]));
        assert_eq!(ex.server_error(), Some(r#"{"status":"invalid_token"}"#));
    }

    #[tokio::test]
    async fn failing_provider_is_a_typed_error() {
        let provider = || -> TokenFuture { Box::pin(async { Err("idp down".to_string()) }) };
        let Err(e) = SaslConfig::oauth_provider(provider).start().await else {
            panic!("expected an error")
        };
        assert!(matches!(e, SaslError::TokenProvider { ref reason } if reason == "idp down"));
    }
}
