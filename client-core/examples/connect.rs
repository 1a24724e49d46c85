//! Connects to one broker, negotiates versions (and authenticates, if asked)
//! and prints what the broker supports.
//!
//! ```text
//! cargo run -p rkafka-client-core --example connect -- 127.0.0.1:9092
//! RKAFKA_SASL=SCRAM-SHA-512:alice:secret RKAFKA_CA=ca.pem \
//!   cargo run -p rkafka-client-core --example connect -- broker:9093
//! ```
//!
//! `RKAFKA_CA` turns TLS on (trusting that PEM CA); `RKAFKA_SASL` takes
//! `MECHANISM:user:password` with PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.

use std::sync::Arc;

use rkafka_client_core::broker::{Broker, ConnPurpose};
use rkafka_client_core::config::{ConnectionConfig, SecurityProtocol};
use rkafka_client_core::net::tls::{Pem, TlsConfig};
use rkafka_client_core::sasl::{SaslConfig, ScramHash};
use rkafka_protocol::messages::MetadataRequest;
use rkafka_protocol::ApiKey;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9092".into());
    let tls = std::env::var("RKAFKA_CA").ok();
    let sasl = match std::env::var("RKAFKA_SASL").ok() {
        None => None,
        Some(spec) => {
            let mut parts = spec.splitn(3, ':');
            let (Some(mech), Some(user), Some(pass)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err("RKAFKA_SASL must be MECHANISM:user:password".into());
            };
            Some(match mech {
                "PLAIN" => SaslConfig::plain(user, pass),
                "SCRAM-SHA-256" => SaslConfig::scram(ScramHash::Sha256, user, pass),
                "SCRAM-SHA-512" => SaslConfig::scram(ScramHash::Sha512, user, pass),
                other => return Err(format!("unknown mechanism {other}").into()),
            })
        }
    };
    let protocol = match (tls.is_some(), sasl.is_some()) {
        (false, false) => SecurityProtocol::Plaintext,
        (true, false) => SecurityProtocol::Ssl,
        (false, true) => SecurityProtocol::SaslPlaintext,
        (true, true) => SecurityProtocol::SaslSsl,
    };
    let cfg = ConnectionConfig::builder()
        .client_id("rkafka-connect-example")
        .security_protocol(protocol)
        .maybe_sasl(sasl)
        .tls(
            TlsConfig::builder()
                .maybe_ca(tls.map(|p| Pem::File(p.into())))
                .build(),
        )
        .build();
    let broker = Broker::new(addr.clone(), ConnPurpose::Admin, Arc::new(cfg));
    let conn = broker.connection().await?;
    println!(
        "connected to {addr}; the broker lists {} APIs",
        conn.api_versions().len()
    );
    for key in ApiKey::ALL {
        if let Some(range) = conn.api_versions().broker_range(key as i16) {
            println!("  {:<32} {range}", key.name());
        }
    }
    let md = broker.send(MetadataRequest::default()).await?;
    println!(
        "cluster: {} broker(s), controller {}",
        md.brokers.len(),
        md.controller_id
    );
    Ok(())
}
