//! TLS against a rustls server written in the test, with a PKI generated
//! per run: verification, unknown CA, host name mismatch, mutual TLS.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Fault;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rkafka_client_core::broker::connect_broker;
use rkafka_client_core::config::{ConnectionConfig, SecurityProtocol};
use rkafka_client_core::net::tls::{Pem, TlsConfig};
use rkafka_client_core::sasl::{SaslConfig, ScramHash};
use rkafka_client_core::Error;
use rkafka_protocol::messages::MetadataRequest;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

type Ca = CertifiedIssuer<'static, KeyPair>;

fn ca(name: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
}

/// A leaf certificate and key (PEM) signed by `ca`.
fn leaf(ca: &Ca, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(
        DnType::CommonName,
        names.first().copied().unwrap_or("client"),
    );
    p.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, ca).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Starts a TLS endpoint for `localhost` signed by `server_ca`; with
/// `client_ca`, it requires a client certificate issued by it.
async fn tls_server(server_ca: &Ca, names: &[&str], client_ca: Option<&Ca>) -> u16 {
    let (cert, key) = leaf(server_ca, names, ExtendedKeyUsagePurpose::ServerAuth);
    let chain = vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.der().clone()).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(chain, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    common::serve(tls, Fault::None).await;
                }
            });
        }
    });
    port
}

fn cfg(tls: TlsConfig) -> Arc<ConnectionConfig> {
    Arc::new(
        ConnectionConfig::builder()
            .security_protocol(SecurityProtocol::Ssl)
            .tls(tls)
            .request_timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(5))
            .build(),
    )
}

fn trusting(ca: &Ca) -> TlsConfig {
    TlsConfig::builder()
        .ca(Pem::Inline(ca.pem().into_bytes()))
        .build()
}

async fn metadata_over(port: u16, tls: TlsConfig) -> Result<i32, Error> {
    let conn = connect_broker(&format!("localhost:{port}"), cfg(tls)).await?;
    Ok(conn.send(MetadataRequest::default()).await?.controller_id)
}

#[tokio::test]
async fn verified_tls_works() {
    let ca = ca("test CA");
    let port = tls_server(&ca, &["localhost"], None).await;
    assert_eq!(metadata_over(port, trusting(&ca)).await.unwrap(), 7);
}

#[tokio::test]
async fn unknown_ca_is_rejected_with_a_clear_error() {
    let port = tls_server(&ca("real CA"), &["localhost"], None).await;
    let e = metadata_over(port, trusting(&ca("other CA")))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("unknown CA"), "{e}");
    // The bundled public roots do not trust a private CA either.
    let e = metadata_over(port, TlsConfig::default()).await.unwrap_err();
    assert!(e.to_string().contains("unknown CA"), "{e}");
}

#[tokio::test]
async fn host_name_mismatch_is_rejected() {
    let ca = ca("test CA");
    let port = tls_server(&ca, &["kafka.example"], None).await;
    let e = metadata_over(port, trusting(&ca)).await.unwrap_err();
    assert!(e.to_string().contains("does not name this host"), "{e}");
    // An explicit server name (SNI + verification) that matches works.
    let mut tls = trusting(&ca);
    tls.server_name = Some("kafka.example".into());
    assert_eq!(metadata_over(port, tls).await.unwrap(), 7);
}

#[tokio::test]
async fn mutual_tls_accepts_a_trusted_client_and_rejects_others() {
    let server_ca = ca("server CA");
    let client_ca = ca("client CA");
    let port = tls_server(&server_ca, &["localhost"], Some(&client_ca)).await;

    let (cert, key) = leaf(&client_ca, &["client"], ExtendedKeyUsagePurpose::ClientAuth);
    let mut tls = trusting(&server_ca);
    tls.client_cert = Some(Pem::Inline(cert.into_bytes()));
    tls.client_key = Some(Pem::Inline(key.into_bytes()));
    assert_eq!(metadata_over(port, tls).await.unwrap(), 7);

    // No client certificate: the server refuses (with TLS 1.3 the client only
    // learns it from the server's alert, after its own handshake finished).
    let e = metadata_over(port, trusting(&server_ca)).await.unwrap_err();
    assert!(matches!(root(&e), Error::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("client certificate"), "{e}");

    // A certificate from a CA the server does not trust.
    let (cert, key) = leaf(
        &ca("rogue CA"),
        &["client"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let mut tls = trusting(&server_ca);
    tls.client_cert = Some(Pem::Inline(cert.into_bytes()));
    tls.client_key = Some(Pem::Inline(key.into_bytes()));
    let e = metadata_over(port, tls).await.unwrap_err();
    assert!(matches!(root(&e), Error::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("alert"), "{e}");
}

fn root(e: &Error) -> &Error {
    match e {
        Error::ConnectionPoisoned { cause } => root(cause),
        e => e,
    }
}

/// stunnel (OpenSSL) in front of the plaintext in-test responder: the same
/// checks against a TLS implementation that is not rustls.
struct Stunnel {
    _child: tokio::process::Child,
    port: u16,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Stunnel {
    /// `None` (after saying why) when stunnel is not installed.
    async fn start(server_ca: &Ca, client_ca: Option<&Ca>) -> Option<Self> {
        let backend = common::start(Arc::new(common::Script {
            connections: Default::default(),
            fault_for: |_| Fault::None,
        }))
        .await;
        Self::start_to(&backend, server_ca, client_ca).await
    }

    /// stunnel in front of `backend`.
    async fn start_to(backend: &str, server_ca: &Ca, client_ca: Option<&Ca>) -> Option<Self> {
        let bin = ["stunnel4", "stunnel"].into_iter().find(|b| {
            std::process::Command::new(b)
                .arg("-version")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok()
        });
        let Some(bin) = bin else {
            eprintln!("SKIP: stunnel not installed (apt-get install stunnel4)");
            return None;
        };
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rkafka-stunnel-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let dir = TempDir(dir);
        let (cert, key) = leaf(
            server_ca,
            &["localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        std::fs::write(dir.0.join("server.pem"), cert).unwrap();
        std::fs::write(dir.0.join("server.key"), key).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut conf = format!(
            "foreground = yes\npid =\nsyslog = no\n[kafka]\naccept = 127.0.0.1:{port}\n\
             connect = {backend}\ncert = {d}/server.pem\nkey = {d}/server.key\n",
            d = dir.0.display()
        );
        if let Some(ca) = client_ca {
            std::fs::write(dir.0.join("client-ca.pem"), ca.pem()).unwrap();
            conf.push_str(&format!(
                "CAfile = {}/client-ca.pem\nverifyChain = yes\nrequireCert = yes\n",
                dir.0.display()
            ));
        }
        let conf_path = dir.0.join("stunnel.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = tokio::process::Command::new(bin)
            .arg(&conf_path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(Self {
                    _child: child,
                    port,
                    _dir: dir,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("stunnel did not start listening");
    }
}

#[tokio::test]
async fn stunnel_verified_and_unknown_ca() {
    let server_ca = ca("stunnel CA");
    let Some(st) = Stunnel::start(&server_ca, None).await else {
        return;
    };
    assert_eq!(
        metadata_over(st.port, trusting(&server_ca)).await.unwrap(),
        7
    );
    let e = metadata_over(st.port, trusting(&ca("other CA")))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("unknown CA"), "{e}");
}

#[tokio::test]
async fn stunnel_mutual_tls() {
    let server_ca = ca("stunnel CA");
    let client_ca = ca("client CA");
    let Some(st) = Stunnel::start(&server_ca, Some(&client_ca)).await else {
        return;
    };
    let (cert, key) = leaf(&client_ca, &["client"], ExtendedKeyUsagePurpose::ClientAuth);
    let mut tls = trusting(&server_ca);
    tls.client_cert = Some(Pem::Inline(cert.into_bytes()));
    tls.client_key = Some(Pem::Inline(key.into_bytes()));
    assert_eq!(metadata_over(st.port, tls).await.unwrap(), 7);

    let e = metadata_over(st.port, trusting(&server_ca))
        .await
        .unwrap_err();
    assert!(matches!(root(&e), Error::Tls { .. }), "{e:?}");

    let (cert, key) = leaf(
        &ca("rogue CA"),
        &["client"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let mut tls = trusting(&server_ca);
    tls.client_cert = Some(Pem::Inline(cert.into_bytes()));
    tls.client_key = Some(Pem::Inline(key.into_bytes()));
    let e = metadata_over(st.port, tls).await.unwrap_err();
    assert!(matches!(root(&e), Error::Tls { .. }), "{e:?}");
}

#[tokio::test]
async fn sasl_ssl_scram_through_stunnel() {
    // SASL_SSL: TLS by stunnel, SCRAM by the Python endpoint behind it.
    let srv = common::sasl::SaslServer::start(&[]).await;
    let server_ca = ca("stunnel CA");
    let Some(st) = Stunnel::start_to(&srv.addr, &server_ca, None).await else {
        return;
    };
    let cfg = Arc::new(
        ConnectionConfig::builder()
            .security_protocol(SecurityProtocol::SaslSsl)
            .tls(trusting(&server_ca))
            .sasl(SaslConfig::scram(
                ScramHash::Sha512,
                "alice",
                "alice-secret",
            ))
            .request_timeout(Duration::from_secs(5))
            .build(),
    );
    let conn = connect_broker(&format!("localhost:{}", st.port), cfg)
        .await
        .unwrap();
    let md = conn.send(MetadataRequest::default()).await.unwrap();
    assert_eq!(md.controller_id, 1, "one SCRAM login over TLS");
}
