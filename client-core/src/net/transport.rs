//! Opening a byte stream to a broker: TCP, optionally wrapped in TLS.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::error::Error;
use crate::net::tls::{describe, TlsConfig};

/// A bidirectional byte stream to a broker.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// A boxed [`Stream`].
pub type BoxStream = Box<dyn Stream>;

/// Splits `host:port`; accepts `[v6]:port`.
pub(crate) fn split_host_port(addr: &str) -> Result<(&str, u16), Error> {
    let bad = || Error::Config {
        reason: format!("broker address {addr:?} is not host:port"),
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host, port))
}

/// Connects to `addr`, doing the TLS handshake when `tls` is given; the
/// whole (resolve + connect + handshake) is bounded by `timeout`.
///
/// # Cancel safety
/// Dropping the future drops the half-open socket; nothing is left behind.
pub async fn connect(
    addr: &str,
    timeout: Duration,
    tls: Option<(&TlsConfig, Arc<rustls::ClientConfig>)>,
) -> Result<BoxStream, Error> {
    let fut = async {
        let (host, port) = split_host_port(addr)?;
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| Error::io(addr, "connect", e))?;
        // Kafka requests are small and latency-bound; Nagle only delays them.
        tcp.set_nodelay(true)
            .map_err(|e| Error::io(addr, "connect", e))?;
        match tls {
            None => Ok(Box::new(tcp) as BoxStream),
            Some((cfg, client_config)) => {
                let name = cfg.server_name(host)?;
                let stream = tokio_rustls::TlsConnector::from(client_config)
                    .connect(name, tcp)
                    .await
                    .map_err(|e| Error::Tls {
                        broker: addr.into(),
                        reason: describe(&e),
                    })?;
                Ok(Box::new(stream) as BoxStream)
            }
        }
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| Error::Timeout {
            what: format!("connecting to broker {addr}"),
            after: timeout,
        })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("a.b:9092").unwrap(), ("a.b", 9092));
        assert_eq!(split_host_port("[::1]:9093").unwrap(), ("::1", 9093));
        assert!(split_host_port("nohost").is_err());
        assert!(split_host_port(":1").is_err());
        assert!(split_host_port("h:port").is_err());
    }

    #[tokio::test]
    async fn refused_connection_is_io_error_naming_broker() {
        // Bind then drop to get a port nobody listens on.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        let Err(e) = connect(&addr, Duration::from_secs(5), None).await else {
            panic!("connected to a closed port")
        };
        assert!(matches!(e, Error::Io { op: "connect", .. }), "{e:?}");
        assert!(e.to_string().contains(&addr));
    }
}
