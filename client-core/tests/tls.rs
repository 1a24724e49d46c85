//! TLS against a rustls server written in the test, with a PKI generated
//! per run: verification, unknown CA, host name mismatch, mutual TLS; and
//! through stunnel (OpenSSL, started by the `rkafka-tests` harness) in front
//! of the mock cluster, whose brokers advertise the TLS ports, and in front
//! of the SASL endpoint.

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
use rkafka_client_core::{Client, ClientConfig, Error, Target};
use rkafka_protocol::messages::MetadataRequest;
use rkafka_tests::{free_port, HarnessError, MockCluster, MockConfig, Stunnel, TlsMaterial};
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

/// Starts a TLS endpoint for `names` signed by `server_ca`; with
/// `client_ca`, it requires a client certificate issued by it.
async fn tls_server(server_ca: &Ca, names: &[&str], client_ca: Option<&Ca>) -> u16 {
    tls_server_telling_sni(server_ca, names, client_ca).await.0
}

/// [`tls_server`], also reporting the SNI name each handshake carried.
async fn tls_server_telling_sni(
    server_ca: &Ca,
    names: &[&str],
    client_ca: Option<&Ca>,
) -> (u16, tokio::sync::mpsc::UnboundedReceiver<Option<String>>) {
    let (sni_tx, sni_rx) = tokio::sync::mpsc::unbounded_channel();
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
            let sni_tx = sni_tx.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let _ = sni_tx.send(tls.get_ref().1.server_name().map(str::to_owned));
                    common::serve(tls, Fault::None).await;
                }
            });
        }
    });
    (port, sni_rx)
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
async fn sni_names_the_dialled_host_or_the_configured_name() {
    let ca = ca("test CA");
    let (port, mut sni) = tls_server_telling_sni(&ca, &["localhost", "kafka.example"], None).await;
    assert_eq!(metadata_over(port, trusting(&ca)).await.unwrap(), 7);
    assert_eq!(sni.recv().await.unwrap().as_deref(), Some("localhost"));
    let mut tls = trusting(&ca);
    tls.server_name = Some("kafka.example".into());
    assert_eq!(metadata_over(port, tls).await.unwrap(), 7);
    assert_eq!(sni.recv().await.unwrap().as_deref(), Some("kafka.example"));
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
        Error::ConnectionPoisoned { cause } | Error::NotSent { cause } => root(cause),
        e => e,
    }
}

/// How a TLS front refusing our client certificate can look from here: the
/// alert it sent, or, when its close overtook the alert (TLS 1.3 checks the
/// client certificate after the client finished its handshake and wrote a
/// request), a reset or closed connection. Never a timeout or a success.
fn refused_by_the_front(e: &Error) -> bool {
    match root(e) {
        Error::Tls { reason, .. } => reason.contains("alert"),
        Error::Io { .. } | Error::ConnectionClosed { .. } => true,
        _ => false,
    }
}

/// A client over TLS (`security.protocol=SSL`) to `bootstrap`.
fn tls_client_config(bootstrap: String, tls: TlsConfig) -> ClientConfig {
    ClientConfig::builder()
        .bootstrap_servers(bootstrap)
        .client_id("rkafka-tls-test")
        .retry_backoff(Duration::from_millis(20))
        .retry_backoff_max(Duration::from_millis(200))
        .default_api_timeout(Duration::from_secs(10))
        .connection((*cfg(tls)).clone())
        .build()
}

fn harness<T>(peer: Result<T, HarnessError>) -> T {
    peer.unwrap_or_else(|e| panic!("{e}"))
}

/// A mock cluster whose brokers advertise the TLS ports of a stunnel front
/// (the harness's certificates), as brokerlab describes.
fn mock_behind_stunnel(
    material: &TlsMaterial,
    require_client_cert: bool,
) -> (MockCluster, Stunnel) {
    let mock = harness(MockCluster::start(
        MockConfig::brokers(2).topic("tls", 2, 2),
    ));
    let mut routes = Vec::new();
    for &(id, port) in mock.brokers() {
        let tls_port = harness(free_port());
        harness(mock.control(&format!("advertise {id} 127.0.0.1 {tls_port}")));
        routes.push((tls_port, port));
    }
    let front = harness(Stunnel::start(material, &routes, require_client_cert));
    (mock, front)
}

/// Metadata through every broker of the cluster (each over its own TLS
/// route): the brokers must be the TLS ports the mock advertises.
async fn every_broker_answers(client: &Client, front: &Stunnel) {
    let md = client.refresh_metadata(&["tls".into()]).await.unwrap();
    assert_eq!(md.brokers.len(), 2);
    for (id, broker) in &md.brokers {
        assert!(
            front.bootstrap().contains(&broker.addr()),
            "broker {id} at {} is not behind stunnel ({})",
            broker.addr(),
            front.bootstrap()
        );
        client
            .send(Target::Broker(*id), MetadataRequest::default())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stunnel_in_front_of_the_mock_verified_and_wrong_ca() {
    rkafka_tests::skip_if_external!("puts stunnel in front of the mock cluster");
    let material = harness(TlsMaterial::generate());
    let (_mock, front) = mock_behind_stunnel(&material, false);
    // CA from a file, as `ssl.truststore.location` / `ssl.ca.location`.
    let trust_file = TlsConfig::builder()
        .ca(Pem::File(material.ca_cert()))
        .build();
    let client = Client::connect(tls_client_config(front.bootstrap(), trust_file))
        .await
        .expect("TLS with the right CA");
    every_broker_answers(&client, &front).await;

    let wrong = TlsConfig::builder()
        .ca(Pem::File(material.wrong_ca_cert()))
        .build();
    let e = Client::connect(tls_client_config(front.bootstrap(), wrong))
        .await
        .expect_err("a server certificate from another CA must be refused");
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("unknown CA"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stunnel_in_front_of_the_mock_mutual_tls() {
    rkafka_tests::skip_if_external!("puts stunnel in front of the mock cluster");
    let material = harness(TlsMaterial::generate());
    let (_mock, front) = mock_behind_stunnel(&material, true);
    let with_cert = TlsConfig::builder()
        .ca(Pem::File(material.ca_cert()))
        .client_cert(Pem::File(material.client_cert()))
        .client_key(Pem::File(material.client_key()))
        .build();
    let client = Client::connect(tls_client_config(front.bootstrap(), with_cert))
        .await
        .expect("mutual TLS with a certificate the front trusts");
    every_broker_answers(&client, &front).await;

    let no_cert = TlsConfig::builder()
        .ca(Pem::File(material.ca_cert()))
        .build();
    let e = Client::connect(tls_client_config(front.bootstrap(), no_cert))
        .await
        .expect_err("a client without a certificate must be refused");
    assert!(refused_by_the_front(&e), "{e:?}");

    let (cert, key) = leaf(
        &ca("rogue CA"),
        &["client"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let rogue = TlsConfig::builder()
        .ca(Pem::File(material.ca_cert()))
        .client_cert(Pem::Inline(cert.into_bytes()))
        .client_key(Pem::Inline(key.into_bytes()))
        .build();
    let e = Client::connect(tls_client_config(front.bootstrap(), rogue))
        .await
        .expect_err("a certificate from a CA the front does not trust must be refused");
    assert!(refused_by_the_front(&e), "{e:?}");
}

#[tokio::test]
async fn sasl_ssl_scram_through_stunnel() {
    // SASL_SSL: TLS by stunnel (OpenSSL), SCRAM by the Python endpoint behind it.
    let srv = common::sasl::SaslServer::start(&[]).await;
    let material = harness(TlsMaterial::generate());
    let backend: u16 = srv.addr.rsplit(':').next().unwrap().parse().unwrap();
    let tls_port = harness(free_port());
    let _front = harness(Stunnel::start(&material, &[(tls_port, backend)], false));
    let cfg = Arc::new(
        ConnectionConfig::builder()
            .security_protocol(SecurityProtocol::SaslSsl)
            .tls(
                TlsConfig::builder()
                    .ca(Pem::File(material.ca_cert()))
                    .build(),
            )
            .sasl(SaslConfig::scram(
                ScramHash::Sha512,
                "alice",
                "alice-secret",
            ))
            .request_timeout(Duration::from_secs(5))
            .build(),
    );
    let conn = connect_broker(&format!("localhost:{tls_port}"), cfg)
        .await
        .unwrap();
    let md = conn.send(MetadataRequest::default()).await.unwrap();
    assert_eq!(md.controller_id, 1, "one SCRAM login over TLS");
}
