//! TLS settings (`ssl.*`) and the rustls client configuration built from them.
//!
//! Verification is on by default: the broker's chain must lead to a trusted
//! root (the bundled Mozilla roots from `webpki-roots`, or the CA file given)
//! and its certificate must name the host we dialled (SNI sends that name).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::RootCertStore;

use crate::error::Error;

/// Where PEM data comes from: a file or bytes in memory.
#[derive(Clone)]
pub enum Pem {
    /// A PEM file on disk.
    File(PathBuf),
    /// PEM text in memory.
    Inline(Vec<u8>),
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(p) => f.debug_tuple("File").field(p).finish(),
            // Inline PEM may be a private key: never print it.
            Self::Inline(b) => write!(f, "Inline({} bytes)", b.len()),
        }
    }
}

impl Pem {
    fn read(&self, what: &str) -> Result<Vec<u8>, Error> {
        match self {
            Self::Inline(b) => Ok(b.clone()),
            Self::File(p) => std::fs::read(p).map_err(|e| Error::Tls {
                broker: "config".into(),
                reason: format!("cannot read {what} file {}: {e}", p.display()),
            }),
        }
    }
}

/// TLS settings, named after Java's `ssl.*` options.
#[derive(Clone, Debug, Default, bon::Builder)]
#[non_exhaustive]
pub struct TlsConfig {
    /// `ssl.truststore.location` / librdkafka's `ssl.ca.location`: CA
    /// certificates (PEM) to trust instead of the bundled Mozilla roots.
    pub ca: Option<Pem>,
    /// `ssl.keystore.location`: the client certificate chain (PEM) for mutual TLS.
    pub client_cert: Option<Pem>,
    /// `ssl.key.location`: the client's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub client_key: Option<Pem>,
    /// The name to send as SNI and to verify; defaults to the broker's host.
    #[builder(into)]
    pub server_name: Option<String>,
    /// `ssl.endpoint.identification.algorithm=""`: accept any certificate.
    /// Dangerous: it defeats TLS against an active attacker. Test use only.
    #[builder(default)]
    pub danger_accept_invalid_certs: bool,
}

impl TlsConfig {
    /// Builds the rustls client configuration.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, Error> {
        let cfg_err = |reason: String| Error::Tls {
            broker: "config".into(),
            reason,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| cfg_err(e.to_string()))?;
        let builder = if self.danger_accept_invalid_certs {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        } else {
            let mut roots = RootCertStore::empty();
            match &self.ca {
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
                Some(pem) => {
                    let certs = parse_certs(&pem.read("CA")?, "CA")?;
                    let (added, _ignored) = roots.add_parsable_certificates(certs);
                    if added == 0 {
                        return Err(cfg_err("the CA file holds no usable certificate".into()));
                    }
                }
            }
            builder.with_root_certificates(roots)
        };
        let config = match (&self.client_cert, &self.client_key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let chain = parse_certs(&cert.read("client certificate")?, "client certificate")?;
                let key = PrivateKeyDer::from_pem_slice(&key.read("client key")?).map_err(|e| {
                    cfg_err(format!("client key: no private key found in PEM ({e})"))
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| cfg_err(format!("client certificate/key rejected: {e}")))?
            }
            _ => {
                return Err(cfg_err(
                    "mutual TLS needs both ssl.keystore (certificate) and ssl.key".into(),
                ))
            }
        };
        Ok(Arc::new(config))
    }

    /// The server name to use for `host`.
    pub(crate) fn server_name(&self, host: &str) -> Result<ServerName<'static>, Error> {
        let name = self.server_name.as_deref().unwrap_or(host);
        ServerName::try_from(name.to_owned()).map_err(|e| Error::Tls {
            broker: host.into(),
            reason: format!("{name:?} is not a valid TLS server name: {e}"),
        })
    }
}

fn parse_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls {
            broker: "config".into(),
            reason: format!("{what}: bad PEM ({e})"),
        })?;
    if certs.is_empty() {
        return Err(Error::Tls {
            broker: "config".into(),
            reason: format!("{what}: no certificate in the PEM data"),
        });
    }
    Ok(certs)
}

/// Turns a rustls handshake error into words a user can act on.
pub(crate) fn describe(e: &std::io::Error) -> String {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(c)) => {
            use rustls::CertificateError as C;
            let what = match c {
                C::UnknownIssuer => "the broker's certificate is signed by an unknown CA \
                                     (set ssl.ca to the CA that issued it)"
                    .to_string(),
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    format!("the broker's certificate does not name this host ({c:?})")
                }
                C::Expired | C::ExpiredContext { .. } => "the broker's certificate expired".into(),
                other => format!("the broker's certificate is invalid: {other:?}"),
            };
            what
        }
        Some(rustls::Error::AlertReceived(a)) => {
            format!("the broker sent TLS alert {a:?} (a rejected or missing client certificate?)")
        }
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}

/// Accepts any certificate, for `danger_accept_invalid_certs`. Signatures
/// are still checked so the handshake itself is sound.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_uses_bundled_roots() {
        TlsConfig::default().client_config().unwrap();
    }

    #[test]
    fn bad_ca_and_half_mtls_are_clear_errors() {
        let e = TlsConfig::builder()
            .ca(Pem::Inline(b"not pem".to_vec()))
            .build()
            .client_config()
            .unwrap_err();
        assert!(e.to_string().contains("no certificate"), "{e}");
        let e = TlsConfig::builder()
            .ca(Pem::File("/nonexistent/ca.pem".into()))
            .build()
            .client_config()
            .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        let e = TlsConfig::builder()
            .client_cert(Pem::Inline(vec![]))
            .build()
            .client_config()
            .unwrap_err();
        assert!(e.to_string().contains("both"), "{e}");
    }

    #[test]
    fn inline_key_is_not_printed() {
        let c = TlsConfig::builder()
            .client_key(Pem::Inline(b"-----BEGIN PRIVATE KEY-----SECRET".to_vec()))
            .build();
        assert!(!format!("{c:?}").contains("SECRET"));
    }
}
