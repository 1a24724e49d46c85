//! SASL OAUTHBEARER (RFC 7628) as Kafka uses it (KIP-255, extensions from
//! KIP-342): the client sends its token in one GS2-framed message; on failure
//! the server answers with a JSON error "challenge", which the client must
//! acknowledge with a lone `0x01` before the server fails the exchange.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::SaslError;
use crate::sasl::Secret;

/// A bearer token with the extensions to send beside it.
#[derive(Clone, Default)]
pub struct OAuthToken {
    /// The token itself (usually a JWT). Never printed.
    pub token: Secret,
    /// SASL extensions (KIP-342), e.g. `logicalCluster`. Keys must be
    /// alphabetic and must not be `auth`.
    pub extensions: BTreeMap<String, String>,
}

impl fmt::Debug for OAuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthToken")
            .field("token", &self.token)
            .field("extensions", &self.extensions.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A future that yields a token.
pub type TokenFuture = Pin<Box<dyn Future<Output = Result<OAuthToken, String>> + Send>>;

/// Produces tokens on demand: called at every (re-)authentication, so it can
/// refresh tokens that expire.
pub trait TokenProvider: Send + Sync + 'static {
    /// Returns a currently valid token, or why there is none.
    fn token(&self) -> TokenFuture;
}

impl<F> TokenProvider for F
where
    F: Fn() -> TokenFuture + Send + Sync + 'static,
{
    fn token(&self) -> TokenFuture {
        self()
    }
}

/// Where the token comes from.
#[derive(Clone)]
pub enum TokenSource {
    /// The same token every time.
    Static(OAuthToken),
    /// Asked anew for every authentication.
    Provider(Arc<dyn TokenProvider>),
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Static(t) => f.debug_tuple("Static").field(t).finish(),
            Self::Provider(_) => f.write_str("Provider(..)"),
        }
    }
}

impl TokenSource {
    /// Fetches a token.
    pub(crate) async fn fetch(&self) -> Result<OAuthToken, SaslError> {
        match self {
            Self::Static(t) => Ok(t.clone()),
            Self::Provider(p) => p
                .token()
                .await
                .map_err(|reason| SaslError::TokenProvider { reason }),
        }
    }
}

/// The client's initial response: `n,,\x01auth=Bearer <token>\x01[k=v\x01]*\x01`.
pub(crate) fn initial_response(token: &OAuthToken) -> Result<Vec<u8>, SaslError> {
    let bad = |reason: String| SaslError::Mechanism {
        mechanism: "OAUTHBEARER",
        reason,
    };
    let t = token.token.expose();
    if t.is_empty() || t.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return Err(bad(
            "token is empty or holds spaces or control characters".into()
        ));
    }
    let mut m = format!("n,,\x01auth=Bearer {t}\x01");
    for (k, v) in &token.extensions {
        // RFC 7628 §3.1: key = 1*(ALPHA), value = *(VCHAR / SP / HTAB / CR / LF).
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphabetic()) || k == "auth" {
            return Err(bad(format!("invalid SASL extension name {k:?}")));
        }
        if v.bytes().any(|b| b == 0x01) {
            return Err(bad(format!("SASL extension {k} holds a 0x01 byte")));
        }
        m.push_str(k);
        m.push('=');
        m.push_str(v);
        m.push('\x01');
    }
    m.push('\x01');
    Ok(m.into_bytes())
}

/// The acknowledgement of a server error challenge (RFC 7628 §3.2.3).
pub(crate) const ERROR_ACK: &[u8] = b"\x01";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_format_with_extensions() {
        let mut t = OAuthToken {
            token: Secret::new("eyJ.abc.def"),
            ..Default::default()
        };
        t.extensions.insert("logicalCluster".into(), "lkc-1".into());
        t.extensions.insert("a".into(), "b c".into());
        assert_eq!(
            initial_response(&t).unwrap(),
            b"n,,\x01auth=Bearer eyJ.abc.def\x01a=b c\x01logicalCluster=lkc-1\x01\x01"
        );
    }

    #[test]
    fn refuses_bad_tokens_and_extensions() {
        let t = |tok: &str, k: &str| {
            let mut t = OAuthToken {
                token: Secret::new(tok),
                ..Default::default()
            };
            if !k.is_empty() {
                t.extensions.insert(k.into(), "v".into());
            }
            initial_response(&t)
        };
        assert!(t("", "").is_err());
        assert!(t("a b", "").is_err());
        assert!(t("ok", "auth").is_err());
        assert!(t("ok", "bad-key").is_err());
        assert!(t("ok", "fine").is_ok());
    }

    #[test]
    fn debug_hides_token() {
        let t = OAuthToken {
            token: Secret::new("topsecret"),
            ..Default::default()
        };
        assert!(!format!("{t:?}").contains("topsecret"));
        assert!(!format!("{:?}", TokenSource::Static(t)).contains("topsecret"));
    }
}
