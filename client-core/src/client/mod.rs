//! The cluster client: bootstrap, metadata, routing and retries for any
//! request.
//!
//! A [`Client`] is a cheap, cloneable handle. A background task (see
//! [`crate::metadata`]) owns the metadata cache, the coordinator cache and
//! the connection pool; the handle asks it for refreshes and lookups through
//! a channel and reads the current [`ClusterView`] from a `watch`. Requests
//! themselves go straight from the handle to the broker connection, so the
//! task is never on the data path.
//!
//! Sending ([`Client::send`] and friends, in `send`) resolves a [`Target`]
//! to a broker, sends on the connection for the request's purpose, and
//! retries per [`crate::retry`] until `default.api.timeout.ms` runs out.
//! [`ClientConfig::from_properties`] reads Java property names.
//!
//! ```no_run
//! # async fn run() -> Result<(), rkafka_client_core::Error> {
//! use rkafka_client_core::{Client, ClientConfig, Target};
//! use rkafka_protocol::messages::ListOffsetsRequest;
//! use rkafka_protocol::ErrorCode;
//! use rkafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
//!
//! let client = Client::connect(ClientConfig::builder().bootstrap_servers("localhost:9092").build()).await?;
//! let req = ListOffsetsRequest::default().with_replica_id(-1).with_topics(vec![
//!     ListOffsetsTopic::default().with_name("orders".into()).with_partitions(vec![
//!         ListOffsetsPartition::default().with_partition_index(0).with_timestamp(-1),
//!     ]),
//! ]);
//! // Routed to the partition's leader; NOT_LEADER_OR_FOLLOWER refreshes
//! // metadata and retries until `default.api.timeout.ms`.
//! let resp = client
//!     .send_checked(Target::leader("orders", 0), req, |r| {
//!         let codes = r.topics.iter().flat_map(|t| &t.partitions);
//!         codes.map(|p| ErrorCode::from(p.error_code)).find(|c| !c.is_ok()).unwrap_or_default()
//!     })
//!     .await?;
//! println!("latest offset {}", resp.topics[0].partitions[0].offset);
//! # Ok(()) }
//! ```

pub mod config;
mod metadata_watch;
mod properties;
mod send;

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

pub use self::config::{ClientConfig, ClientConfigBuilder, MetadataRecoveryStrategy};
pub use self::metadata_watch::MetadataWatch;
pub use self::send::{no_check, purpose_for};
use crate::error::Error;
use crate::metadata::task::{self, Command};
use crate::metadata::{ClusterMetadata, ClusterView, LeaderHint};
use crate::retry::{classify_error, RetryBackoff};
use crate::route::{CoordinatorKind, Target};

/// A handle to a Kafka cluster. Cheap to clone; the background task stops
/// when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: ClientConfig,
    commands: mpsc::Sender<Command>,
    view: watch::Receiver<Arc<ClusterView>>,
}

impl Client {
    /// A config builder; pass the result to [`Client::connect`].
    pub fn builder() -> ClientConfigBuilder {
        ClientConfig::builder()
    }

    /// Starts the client and waits for the first metadata (brokers only),
    /// retrying with backoff for at most `default.api.timeout.ms` (brokers
    /// that are still starting get that long to come up).
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid config; the last connection or
    /// request error when no bootstrap server answered in time.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future drops the client.
    pub async fn connect(cfg: ClientConfig) -> Result<Self, Error> {
        let client = Self::start(cfg)?;
        let cfg = &client.inner.cfg;
        let deadline = tokio::time::Instant::now() + cfg.default_api_timeout;
        let mut backoff = RetryBackoff::new(cfg.retry_backoff, cfg.retry_backoff_max, deadline);
        loop {
            let err = match tokio::time::timeout(backoff.remaining(), client.refresh_metadata(&[]))
                .await
            {
                Ok(Ok(_)) => return Ok(client),
                Ok(Err(e)) => e,
                Err(_) => Error::Timeout {
                    what: "bootstrap".into(),
                    after: cfg.default_api_timeout,
                },
            };
            if !classify_error(&err).is_retry() || !backoff.wait().await {
                return Err(err);
            }
        }
    }

    /// Starts the client without waiting for the cluster; the first request
    /// waits for metadata instead. Must be called within a Tokio runtime.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid config.
    pub fn start(cfg: ClientConfig) -> Result<Self, Error> {
        cfg.validate()?;
        let (commands, view) = task::spawn(&cfg, cfg.bootstrap()?);
        Ok(Self {
            inner: Arc::new(Inner {
                cfg,
                commands,
                view,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.cfg
    }

    /// The current metadata snapshot (possibly empty before the first
    /// refresh, possibly stale).
    pub fn metadata(&self) -> Arc<ClusterMetadata> {
        self.inner.view.borrow().metadata.clone()
    }

    /// A follower of the metadata for hot paths: see [`MetadataWatch`].
    pub fn watch_metadata(&self) -> MetadataWatch {
        MetadataWatch::new(self.inner.view.clone())
    }

    /// The current view: metadata, cached coordinators, connection pool.
    pub fn view(&self) -> Arc<ClusterView> {
        self.inner.view.borrow().clone()
    }

    /// The features broker `node` announced in ApiVersions on any of its
    /// live connections (the newest finalized epoch among them), or `None`
    /// when no connection to it is up.
    pub fn broker_features(&self, node: i32) -> Option<crate::conn::Features> {
        let view = self.view();
        let conns = view.connections.get(&node)?;
        newest(
            crate::broker::ConnPurpose::ALL
                .iter()
                .filter_map(|p| conns.get(*p).features()),
        )
    }

    /// The newest features any connected broker announced: the answer with
    /// the highest `FinalizedFeaturesEpoch`, as Java's `ApiVersions` keeps
    /// it. `None` before any connection to a known node is up.
    pub fn features(&self) -> Option<crate::conn::Features> {
        let view = self.view();
        newest(view.connections.values().flat_map(|conns| {
            crate::broker::ConnPurpose::ALL
                .iter()
                .filter_map(|p| conns.get(*p).features())
        }))
    }

    /// The cluster-wide finalized level of feature `name` (KIP-584), e.g.
    /// `client.finalized_feature("transaction.version")`, from the newest
    /// answer of [`Client::features`]. `None` when the feature is not
    /// finalized, the brokers predate ApiVersions v3, or no connection is up.
    pub fn finalized_feature(&self, name: &str) -> Option<i16> {
        self.features()?.finalized(name)
    }

    async fn command<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> Command,
    ) -> Result<T, Error> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .commands
            .send(make(tx))
            .await
            .map_err(|_| Error::ClientClosed)?;
        rx.await.map_err(|_| Error::ClientClosed)?
    }

    /// Refreshes metadata for `topics` now (they stay in the set kept fresh
    /// every `metadata.max.age.ms`) and returns the new snapshot. An empty
    /// slice refreshes brokers only.
    ///
    /// # Cancel safety
    /// Cancel safe: the refresh completes in the background.
    pub async fn refresh_metadata(&self, topics: &[String]) -> Result<Arc<ClusterMetadata>, Error> {
        self.command(|reply| Command::Refresh {
            topics: Some(topics.to_vec()),
            reply,
        })
        .await?;
        Ok(self.metadata())
    }

    /// Refreshes metadata for every topic in the cluster.
    ///
    /// # Cancel safety
    /// Cancel safe: the refresh completes in the background.
    pub async fn refresh_all_metadata(&self) -> Result<Arc<ClusterMetadata>, Error> {
        self.command(|reply| Command::Refresh {
            topics: None,
            reply,
        })
        .await?;
        Ok(self.metadata())
    }

    /// Discards the cache and rebuilds it from `bootstrap.servers`
    /// (re-resolving the names).
    ///
    /// # Cancel safety
    /// Cancel safe: the rebootstrap completes in the background.
    pub async fn rebootstrap(&self) -> Result<(), Error> {
        self.command(|reply| Command::Rebootstrap { reply }).await
    }

    /// The node id of the `kind` coordinator for `key`, from the cache or
    /// looked up with FindCoordinator (batched with concurrent lookups).
    ///
    /// # Cancel safety
    /// Cancel safe: the lookup completes and is cached in the background.
    pub async fn coordinator(&self, kind: CoordinatorKind, key: &str) -> Result<i32, Error> {
        if let Some(&id) = self.view().coordinators.get(&(kind, key.to_owned())) {
            return Ok(id);
        }
        self.command(|reply| Command::FindCoordinator {
            kind,
            key: key.to_owned(),
            reply,
        })
        .await
    }

    /// Forgets a cached coordinator (after NOT_COORDINATOR); the next
    /// request for it looks it up again.
    pub fn forget_coordinator(&self, kind: CoordinatorKind, key: &str) {
        // A full channel only delays forgetting; the next error retries it.
        let _ = self.inner.commands.try_send(Command::ForgetCoordinator {
            kind,
            key: key.to_owned(),
        });
    }

    /// Applies a leader hint from a Produce/Fetch response (KIP-951) to the
    /// cache, if it is newer than what is cached; requests routed after it
    /// is applied go to the new leader without a metadata refresh.
    pub fn leader_hint(&self, hint: LeaderHint) {
        // A full channel only loses the shortcut; a refresh still follows.
        let _ = self.inner.commands.try_send(Command::LeaderHint(hint));
    }

    /// Forgets whatever coordinator `target` names, if it names one.
    pub(crate) fn forget_target(&self, target: &Target) {
        if let Target::Coordinator { kind, key } = target {
            self.forget_coordinator(*kind, key);
        }
    }
}

/// The features with the highest finalized epoch (the first on ties).
fn newest(all: impl Iterator<Item = crate::conn::Features>) -> Option<crate::conn::Features> {
    all.fold(None, |best: Option<crate::conn::Features>, f| match best {
        Some(b) if b.finalized_epoch >= f.finalized_epoch => Some(b),
        _ => Some(f),
    })
}

#[cfg(test)]
mod feature_tests {
    use super::newest;
    use crate::conn::Features;

    fn at(epoch: i64, tv: i16) -> Features {
        Features {
            finalized_epoch: epoch,
            finalized: [("transaction.version".to_owned(), tv)].into(),
            ..Features::default()
        }
    }

    #[test]
    fn the_newest_finalized_epoch_wins() {
        let best = newest([at(3, 1), at(9, 2), at(5, 0)].into_iter()).unwrap();
        assert_eq!(best.finalized("transaction.version"), Some(2));
        assert!(newest(std::iter::empty()).is_none());
        // An unknown epoch (-1) never counts as finalized.
        assert_eq!(at(-1, 2).finalized("transaction.version"), None);
    }
}
