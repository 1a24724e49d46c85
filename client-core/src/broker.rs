//! Per-broker, per-purpose connections that re-establish themselves.
//!
//! A [`Broker`] is the handle to one small supervisor task that owns the
//! current [`BrokerConnection`] for one (address, [`ConnPurpose`]). Callers
//! ask it for a live connection; when the last one died, it reconnects,
//! spacing failed attempts with exponential backoff and jitter
//! (`reconnect.backoff.ms` … `reconnect.backoff.max.ms`). Concurrent callers
//! share one attempt. The fast path (connection alive) reads a `watch` and
//! does not touch the task.
//!
//! Separate connections per purpose keep a long-poll Fetch from delaying a
//! heartbeat or a metadata request: Kafka answers one connection's requests
//! in order, so anything queued behind a Fetch waits for `fetch.max.wait.ms`.

use std::sync::Arc;
use std::time::Duration;

use rkafka_protocol::Request;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::config::ConnectionConfig;
use crate::conn::auth::{authenticate, spawn_reauth};
use crate::conn::typed::negotiate;
use crate::conn::{BrokerConnection, RawConnection};
use crate::error::Error;
use crate::net::transport;

/// What a connection is for; each purpose gets its own connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnPurpose {
    /// Produce requests (and transactional produce-side calls).
    Produce,
    /// Fetch requests, which may long-poll.
    Fetch,
    /// Group coordination: JoinGroup, SyncGroup, Heartbeat, offset commits.
    Group,
    /// Metadata and admin requests.
    Admin,
}

impl ConnPurpose {
    /// Every purpose.
    pub const ALL: [ConnPurpose; 4] = [Self::Produce, Self::Fetch, Self::Group, Self::Admin];
}

/// Opens one connection: TCP (+ TLS), ApiVersions negotiation, SASL (+ the
/// re-authentication timer when the broker announces a session lifetime).
///
/// # Cancel safety
/// Cancel safe: a dropped attempt closes its half-built connection.
pub async fn connect_broker(
    addr: &str,
    cfg: Arc<ConnectionConfig>,
) -> Result<BrokerConnection, Error> {
    cfg.validate()?;
    let tls = if cfg.security_protocol.uses_tls() {
        Some(cfg.tls.client_config()?)
    } else {
        None
    };
    connect_with(addr, cfg, tls).await
}

async fn connect_with(
    addr: &str,
    cfg: Arc<ConnectionConfig>,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<BrokerConnection, Error> {
    let stream = transport::connect(addr, cfg.connect_timeout, tls.map(|t| (&cfg.tls, t))).await?;
    let raw = RawConnection::spawn(stream, addr, cfg.conn_options());
    let versions = negotiate(&raw, &cfg).await?;
    let lifetime = match (&cfg.sasl, cfg.security_protocol.uses_sasl()) {
        (Some(sasl), true) => authenticate(&raw, &versions, &cfg, sasl, true).await?,
        _ => None,
    };
    let versions = Arc::new(versions);
    if let Some(lifetime) = lifetime {
        spawn_reauth(raw.downgrade(), versions.clone(), cfg.clone(), lifetime);
    }
    tracing::debug!(broker = addr, apis = versions.len(), "connected");
    Ok(BrokerConnection::new(raw, versions, cfg))
}

type Waiter = oneshot::Sender<Result<BrokerConnection, Error>>;

/// A self-healing connection to one broker for one purpose. Cheap to clone;
/// the supervisor task ends when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Broker {
    addr: Arc<str>,
    purpose: ConnPurpose,
    requests: mpsc::Sender<Waiter>,
    current: watch::Receiver<Option<BrokerConnection>>,
}

impl Broker {
    /// A handle for `addr`; connects lazily, on the first request.
    ///
    /// Must be called within a Tokio runtime.
    pub fn new(addr: impl Into<String>, purpose: ConnPurpose, cfg: Arc<ConnectionConfig>) -> Self {
        let addr: Arc<str> = addr.into().into();
        let (req_tx, req_rx) = mpsc::channel(64);
        let (cur_tx, cur_rx) = watch::channel(None);
        tokio::spawn(supervise(addr.clone(), cfg, req_rx, cur_tx));
        Self {
            addr,
            purpose,
            requests: req_tx,
            current: cur_rx,
        }
    }

    /// Whether a live connection is established right now (no connect
    /// would be needed to send).
    pub fn is_connected(&self) -> bool {
        self.current
            .borrow()
            .as_ref()
            .is_some_and(|c| !c.is_closed())
    }

    /// The requests in flight on the live connection, or `None` when there
    /// is none (a request would have to connect first).
    pub fn in_flight(&self) -> Option<usize> {
        self.current
            .borrow()
            .as_ref()
            .filter(|c| !c.is_closed())
            .map(|c| c.raw().in_flight())
    }

    /// The features the broker announced on the live connection
    /// (ApiVersions v3+), or `None` when there is no live connection.
    pub fn features(&self) -> Option<crate::conn::Features> {
        self.current
            .borrow()
            .as_ref()
            .filter(|c| !c.is_closed())
            .map(|c| c.api_versions().features().clone())
    }

    /// The broker address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// What this connection is for.
    pub fn purpose(&self) -> ConnPurpose {
        self.purpose
    }

    /// A live, negotiated connection, connecting (after backoff, if the last
    /// attempt failed) when there is none.
    ///
    /// # Cancel safety
    /// Cancel safe: a connection attempt already under way continues for the
    /// other callers and is kept for the next one.
    pub async fn connection(&self) -> Result<BrokerConnection, Error> {
        if let Some(c) = self.current.borrow().as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let closed = || Error::ConnectionClosed {
            broker: self.addr.to_string(),
        };
        let (tx, rx) = oneshot::channel();
        self.requests.send(tx).await.map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }

    /// Sends `req` at the negotiated version on this purpose's connection.
    ///
    /// A request that never reached the wire ([`Error::NotSent`]: the
    /// connection died while it waited) is resent once on a fresh
    /// connection: that cannot apply it twice. One that may have reached the
    /// broker is not retried here: whether that is safe depends on the
    /// request (Produce without idempotence is not), so the caller decides;
    /// the next call reconnects.
    ///
    /// # Cancel safety
    /// Cancel safe, as [`BrokerConnection::send`].
    pub async fn send<R: Request>(&self, req: R) -> Result<R::Response, Error> {
        self.send_inner(&req, None).await
    }

    /// Sends `req` at `version`, with the same resend rule as [`Self::send`].
    ///
    /// # Cancel safety
    /// Cancel safe, as [`BrokerConnection::send`].
    pub async fn send_version<R: Request>(
        &self,
        req: R,
        version: i16,
    ) -> Result<R::Response, Error> {
        self.send_inner(&req, Some(version)).await
    }

    async fn send_inner<R: Request>(
        &self,
        req: &R,
        version: Option<i16>,
    ) -> Result<R::Response, Error> {
        let mut resent = false;
        loop {
            let conn = self.connection().await?;
            let v = match version {
                Some(v) => v,
                None => conn.version_for::<R>()?,
            };
            match conn.send_ref(req, v, conn.request_timeout()).await {
                Err(e @ Error::NotSent { .. }) if !resent => {
                    tracing::debug!(broker = %self.addr, api = R::API_KEY.name(), error = %e, "resending a request that never reached the wire");
                    resent = true;
                }
                r => return r,
            }
        }
    }
}

async fn supervise(
    addr: Arc<str>,
    cfg: Arc<ConnectionConfig>,
    mut requests: mpsc::Receiver<Waiter>,
    current: watch::Sender<Option<BrokerConnection>>,
) {
    let mut backoff = cfg.backoff();
    let mut next_attempt = Instant::now();
    let mut conn: Option<BrokerConnection> = None;
    // Built once: parsing the root store for every reconnect is wasteful.
    let mut tls: Option<Arc<rustls::ClientConfig>> = None;
    while let Some(first) = requests.recv().await {
        let mut waiters = vec![first];
        if let Some(c) = conn.as_ref().filter(|c| !c.is_closed()) {
            for w in waiters {
                let _ = w.send(Ok(c.clone()));
            }
            continue;
        }
        if let Some(dead) = conn.take() {
            current.send_replace(None);
            // A connection the broker or a fault killed is rebuilt after a
            // backoff; one we closed for idleness is rebuilt at once.
            if !matches!(
                dead.raw().close_reason(),
                Some(Error::ConnectionClosed { .. })
            ) {
                next_attempt = Instant::now() + backoff.next_delay();
            }
        }
        tokio::time::sleep_until(next_attempt).await;
        while let Ok(w) = requests.try_recv() {
            waiters.push(w);
        }
        waiters.retain(|w| !w.is_closed());
        if waiters.is_empty() {
            continue;
        }
        let result = async {
            cfg.validate()?;
            if cfg.security_protocol.uses_tls() && tls.is_none() {
                tls = Some(cfg.tls.client_config()?);
            }
            connect_with(&addr, cfg.clone(), tls.clone()).await
        }
        .await;
        match &result {
            Ok(c) => {
                backoff.reset();
                conn = Some(c.clone());
                current.send_replace(Some(c.clone()));
            }
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::warn!(broker = %addr, error = %e, retry_in_ms = delay.as_millis() as u64, "connect failed");
                next_attempt = Instant::now() + delay;
            }
        }
        for w in waiters {
            let _ = w.send(result.clone());
        }
    }
}

/// One [`Broker`] per [`ConnPurpose`] for the same address.
#[derive(Clone, Debug)]
pub struct BrokerConnections {
    by_purpose: [Broker; 4],
}

impl BrokerConnections {
    /// Handles for every purpose; each connects lazily.
    pub fn new(addr: impl Into<String>, cfg: Arc<ConnectionConfig>) -> Self {
        let addr = addr.into();
        Self {
            by_purpose: ConnPurpose::ALL.map(|p| Broker::new(addr.clone(), p, cfg.clone())),
        }
    }

    /// The connection for `purpose`.
    pub fn get(&self, purpose: ConnPurpose) -> &Broker {
        &self.by_purpose[purpose as usize]
    }
}

/// How long [`Broker::connection`] may take at most when the broker is
/// unreachable: one backoff wait plus one connect attempt.
pub fn worst_case_connect(cfg: &ConnectionConfig) -> Duration {
    cfg.reconnect_backoff_max.mul_f64(1.2) + cfg.connect_timeout
}
