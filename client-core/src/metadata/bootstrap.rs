//! The bootstrap list (`bootstrap.servers`) and its DNS resolution.
//!
//! Host names are resolved on every (re)bootstrap, not once at startup: a
//! cluster behind a DNS name may have moved to new addresses by the time the
//! client has to rebootstrap (KIP-899), and each address a name resolves to
//! is tried, as Java's `client.dns.lookup=use_all_dns_ips` does.

use std::net::SocketAddr;

use crate::error::Error;

/// One `host:port` entry of `bootstrap.servers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapServer {
    /// Host name or IP literal (without IPv6 brackets).
    pub host: String,
    /// Port.
    pub port: u16,
}

/// Parses a comma-separated `bootstrap.servers` value.
///
/// # Errors
/// [`Error::Config`] for an empty list or an entry without a valid port.
pub fn parse_bootstrap(list: &str) -> Result<Vec<BootstrapServer>, Error> {
    let bad = |reason: String| Error::Config { reason };
    let mut out = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        // Tolerate a scheme prefix some tools write (PLAINTEXT://host:port).
        let entry = entry.rsplit("://").next().unwrap_or(entry);
        let (host, port) = entry
            .rsplit_once(':')
            .ok_or_else(|| bad(format!("bootstrap server {entry:?} has no port")))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port
            .parse()
            .map_err(|_| bad(format!("bootstrap server {entry:?} has an invalid port")))?;
        if host.is_empty() {
            return Err(bad(format!("bootstrap server {entry:?} has no host")));
        }
        out.push(BootstrapServer {
            host: host.to_owned(),
            port,
        });
    }
    if out.is_empty() {
        return Err(bad("bootstrap.servers is empty".into()));
    }
    Ok(out)
}

/// Resolves every entry to all of its addresses, in list order, without
/// duplicates. Entries that fail to resolve are skipped (and logged); the
/// error is returned only when nothing resolves.
///
/// # Cancel safety
/// Cancel safe: resolution has no side effects.
pub async fn resolve_bootstrap(servers: &[BootstrapServer]) -> Result<Vec<SocketAddr>, Error> {
    let mut out: Vec<SocketAddr> = Vec::new();
    let mut last_err = None;
    for s in servers {
        match tokio::net::lookup_host((s.host.as_str(), s.port)).await {
            Ok(addrs) => {
                for a in addrs {
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(host = %s.host, error = %e, "bootstrap server does not resolve");
                last_err = Some(Error::io(format!("{}:{}", s.host, s.port), "resolve", e));
            }
        }
    }
    match (out.is_empty(), last_err) {
        (true, Some(e)) => Err(e),
        (true, None) => Err(Error::Config {
            reason: "bootstrap.servers resolved to no address".into(),
        }),
        _ => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_ipv6_and_schemes() {
        let got = parse_bootstrap(" a:9092,[::1]:9093, PLAINTEXT://b.example:19092 ,").unwrap();
        let hosts: Vec<_> = got.iter().map(|s| (s.host.as_str(), s.port)).collect();
        assert_eq!(
            hosts,
            vec![("a", 9092), ("::1", 9093), ("b.example", 19092)]
        );
        assert!(parse_bootstrap("").is_err());
        assert!(parse_bootstrap("a").is_err());
        assert!(parse_bootstrap("a:x").is_err());
        assert!(parse_bootstrap(":1").is_err());
    }

    #[tokio::test]
    async fn resolves_localhost_and_skips_unresolvable() {
        let servers = parse_bootstrap("localhost:9092,no-such-host.invalid:9092").unwrap();
        let addrs = resolve_bootstrap(&servers).await.unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs
            .iter()
            .all(|a| a.port() == 9092 && a.ip().is_loopback()));
        let none = parse_bootstrap("no-such-host.invalid:1").unwrap();
        assert!(resolve_bootstrap(&none).await.is_err());
    }
}
