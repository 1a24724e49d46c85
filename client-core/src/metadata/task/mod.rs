//! The metadata task: the one owner of the metadata cache, the coordinator
//! cache and the broker connection pool.
//!
//! Handles send [`Command`]s and read the published [`ClusterView`] from a
//! `watch`; nothing is shared under a lock. The task handles commands in
//! batches: all refresh requests queued while one refresh runs are answered
//! by the next single refresh, and coordinator lookups of one kind go out as
//! one batched FindCoordinator.
//!
//! Recovery (KIP-899 / KIP-1102): a refresh tries every known broker; when
//! none answers — or a broker answers `REBOOTSTRAP_REQUIRED`, or no refresh
//! has succeeded for `metadata.recovery.rebootstrap.trigger.ms` — and the
//! strategy is `rebootstrap`, the bootstrap names are resolved again and
//! every resulting address is tried, rebuilding the cache from scratch.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rand::seq::SliceRandom;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{timeout, Instant};

use crate::broker::{connect_broker, BrokerConnections, ConnPurpose};
use crate::client::config::{ClientConfig, MetadataRecoveryStrategy};
use crate::config::ConnectionConfig;
use crate::error::Error;
use crate::metadata::bootstrap::{resolve_bootstrap, BootstrapServer};
use crate::metadata::cache::ClusterMetadata;
use crate::metadata::refresh::fetch_metadata;
use crate::route::CoordinatorKind;

mod coordinators;

/// What the task publishes after every change.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    /// The metadata snapshot.
    pub metadata: Arc<ClusterMetadata>,
    /// Cached coordinators: (kind, key) to node id.
    pub coordinators: Arc<HashMap<(CoordinatorKind, String), i32>>,
    /// Connections by node id (metadata brokers and coordinators).
    pub connections: Arc<HashMap<i32, BrokerConnections>>,
    /// How many times the cache was rebuilt from the bootstrap list.
    pub rebootstraps: u64,
}

type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// A request to the metadata task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Refresh metadata for `topics` (added to the topics kept fresh), or
    /// every topic with `None`; answered when done.
    Refresh {
        topics: Option<Vec<String>>,
        reply: Reply<()>,
    },
    /// Look up (or return the cached) coordinator.
    FindCoordinator {
        kind: CoordinatorKind,
        key: String,
        reply: Reply<i32>,
    },
    /// Drop a cached coordinator that answered NOT_COORDINATOR.
    ForgetCoordinator { kind: CoordinatorKind, key: String },
    /// Rebuild from the bootstrap list now (REBOOTSTRAP_REQUIRED).
    Rebootstrap { reply: Reply<()> },
    /// A newer leader named by a response (KIP-951).
    LeaderHint(LeaderHint),
}

/// A partition's new leader as a Produce or Fetch response names it
/// (KIP-951), applied without a metadata round trip when its epoch is newer
/// than the cached one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderHint {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// The new leader's node id.
    pub leader: i32,
    /// Its leader epoch.
    pub leader_epoch: i32,
    /// Endpoints the response listed (`node_endpoints`), for leaders the
    /// cache does not know yet.
    pub endpoints: Vec<crate::metadata::BrokerInfo>,
}

/// Spawns the task; returns its command sender and view receiver.
pub(crate) fn spawn(
    cfg: &ClientConfig,
    bootstrap: Vec<BootstrapServer>,
) -> (mpsc::Sender<Command>, watch::Receiver<Arc<ClusterView>>) {
    let (cmd_tx, cmd_rx) = mpsc::channel(256);
    let (view_tx, view_rx) = watch::channel(Arc::new(ClusterView::default()));
    let task = MetadataTask {
        conn_cfg: cfg.connection_arc(),
        bootstrap,
        max_age: cfg.metadata_max_age,
        recovery: cfg.metadata_recovery_strategy,
        rebootstrap_trigger: cfg.metadata_recovery_rebootstrap_trigger,
        view: ClusterView::default(),
        addrs: HashMap::new(),
        interest: BTreeSet::new(),
        failing_since: None,
        next_refresh: Instant::now(),
        retry_after_failure: cfg.retry_backoff_max,
        publish: view_tx,
    };
    tokio::spawn(task.run(cmd_rx));
    (cmd_tx, view_rx)
}

struct MetadataTask {
    conn_cfg: Arc<ConnectionConfig>,
    bootstrap: Vec<BootstrapServer>,
    max_age: Duration,
    recovery: MetadataRecoveryStrategy,
    rebootstrap_trigger: Duration,
    view: ClusterView,
    /// The address each pooled connection was made for.
    addrs: HashMap<i32, String>,
    /// Topics every refresh includes.
    interest: BTreeSet<String>,
    /// When refreshes started failing (none has succeeded since); the
    /// KIP-1102 trigger counts from here, not from the last success, so an
    /// idle client is not mistaken for a stuck one.
    failing_since: Option<Instant>,
    next_refresh: Instant,
    retry_after_failure: Duration,
    publish: watch::Sender<Arc<ClusterView>>,
}

#[derive(Default)]
struct Batch {
    refresh: Vec<Reply<()>>,
    refresh_all: bool,
    rebootstrap: Vec<Reply<()>>,
    lookups: HashMap<CoordinatorKind, Vec<(String, Reply<i32>)>>,
}

impl MetadataTask {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            let due = self.next_refresh;
            let mut batch = Batch::default();
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(c) => self.take(c, &mut batch),
                    None => break,
                },
                _ = tokio::time::sleep_until(due) => {}
            }
            while let Ok(c) = commands.try_recv() {
                self.take(c, &mut batch);
            }
            let periodic = Instant::now() >= due;
            if !batch.rebootstrap.is_empty() {
                let r = self.rebootstrap().await;
                for w in batch.rebootstrap {
                    let _ = w.send(r.clone());
                }
            }
            if periodic || batch.refresh_all || !batch.refresh.is_empty() {
                let r = self.refresh(batch.refresh_all).await;
                if let Err(e) = &r {
                    tracing::warn!(error = %e, "metadata refresh failed");
                    self.failing_since.get_or_insert_with(Instant::now);
                    // Keep the stale snapshot but try again soon rather than
                    // after a whole max age.
                    self.next_refresh = Instant::now() + self.retry_after_failure;
                }
                for w in batch.refresh {
                    let _ = w.send(r.clone());
                }
            }
            for (kind, waiters) in batch.lookups {
                self.lookup(kind, waiters).await;
            }
        }
        tracing::debug!("metadata task ends: every client handle was dropped");
    }

    fn take(&mut self, cmd: Command, batch: &mut Batch) {
        match cmd {
            Command::Refresh { topics, reply } => {
                match topics {
                    Some(ts) => self.interest.extend(ts),
                    None => batch.refresh_all = true,
                }
                batch.refresh.push(reply);
            }
            Command::FindCoordinator { kind, key, reply } => {
                batch.lookups.entry(kind).or_default().push((key, reply));
            }
            Command::ForgetCoordinator { kind, key } => {
                let mut c = (*self.view.coordinators).clone();
                if c.remove(&(kind, key)).is_some() {
                    self.view.coordinators = Arc::new(c);
                    self.publish();
                }
            }
            Command::Rebootstrap { reply } => batch.rebootstrap.push(reply),
            Command::LeaderHint(h) => {
                let hinted = self.view.metadata.with_leader_hint(
                    &h.topic,
                    h.partition,
                    h.leader,
                    h.leader_epoch,
                    &h.endpoints,
                );
                if let Some(md) = hinted {
                    self.install(md);
                    self.publish();
                }
            }
        }
    }

    fn publish(&self) {
        self.publish.send_replace(Arc::new(self.view.clone()));
    }

    fn topics_to_ask(&self, all: bool) -> Option<Vec<String>> {
        (!all).then(|| self.interest.iter().cloned().collect())
    }

    /// One refresh: known brokers first, then (per the recovery strategy)
    /// the bootstrap list.
    async fn refresh(&mut self, all: bool) -> Result<(), Error> {
        let topics = self.topics_to_ask(all);
        let mut last_err = None;
        let skip_known = go_straight_to_bootstrap(
            self.view.metadata.updated_at.is_none(),
            self.failing_since.map(|t| t.elapsed()),
            self.rebootstrap_trigger,
            self.recovery,
        );
        if !skip_known {
            let mut ids: Vec<i32> = self.view.connections.keys().copied().collect();
            ids.shuffle(&mut rand::rng());
            // Brokers with a live connection first: no connect wait.
            ids.sort_by_key(|id| !self.is_live(*id));
            for id in ids {
                let Some(conns) = self.view.connections.get(&id).cloned() else {
                    continue;
                };
                match self.fetch_via(&conns, topics.as_deref()).await {
                    Ok(resp) => {
                        self.apply(&resp, topics.is_none());
                        return Ok(());
                    }
                    Err(e) => {
                        tracing::debug!(broker = id, error = %e, "metadata attempt failed");
                        let rebootstrap = matches!(&e, Error::Kafka { code, .. }
                            if *code == rkafka_protocol::ErrorCode::REBOOTSTRAP_REQUIRED);
                        last_err = Some(e);
                        if rebootstrap {
                            break;
                        }
                    }
                }
            }
            if self.recovery == MetadataRecoveryStrategy::None {
                return Err(last_err.unwrap_or_else(|| no_broker("no known broker")));
            }
            tracing::info!("no known broker answered; rebootstrapping");
        }
        // The bootstrap attempt's error is the more useful one: it is the
        // last thing tried and names the bootstrap addresses.
        self.refresh_from_bootstrap(topics.as_deref()).await
    }

    async fn rebootstrap(&mut self) -> Result<(), Error> {
        let topics = self.topics_to_ask(false);
        self.refresh_from_bootstrap(topics.as_deref()).await
    }

    async fn refresh_from_bootstrap(&mut self, topics: Option<&[String]>) -> Result<(), Error> {
        let addrs = resolve_bootstrap(&self.bootstrap).await?;
        let limit = self.conn_cfg.connect_timeout + self.conn_cfg.request_timeout;
        let mut last_err = no_broker("bootstrap.servers");
        for addr in addrs {
            let addr = addr.to_string();
            let attempt = async {
                let conn = connect_broker(&addr, self.conn_cfg.clone()).await?;
                let resp = fetch_metadata(&conn, topics).await;
                conn.raw().close();
                resp
            };
            match timeout(limit, attempt).await {
                Ok(Ok(resp)) => {
                    let first = self.view.metadata.updated_at.is_some();
                    // Rebuilt from scratch: coordinators may have moved too.
                    self.view.coordinators = Arc::default();
                    self.apply(&resp, topics.is_none());
                    if first {
                        self.view.rebootstraps += 1;
                        self.publish();
                    }
                    return Ok(());
                }
                Ok(Err(e)) => last_err = e,
                Err(_) => {
                    last_err = Error::Timeout {
                        what: format!("bootstrap Metadata from {addr}"),
                        after: limit,
                    }
                }
            }
            tracing::debug!(%addr, error = %last_err, "bootstrap attempt failed");
        }
        Err(last_err)
    }

    async fn fetch_via(
        &self,
        conns: &BrokerConnections,
        topics: Option<&[String]>,
    ) -> Result<rkafka_protocol::messages::MetadataResponse, Error> {
        let limit = self.conn_cfg.connect_timeout + self.conn_cfg.request_timeout;
        let broker = conns.get(ConnPurpose::Admin);
        match timeout(limit, async {
            fetch_metadata(&broker.connection().await?, topics).await
        })
        .await
        {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout {
                what: format!("Metadata from {}", broker.addr()),
                after: limit,
            }),
        }
    }

    fn is_live(&self, id: i32) -> bool {
        self.view.connections.get(&id).is_some_and(is_live)
    }

    fn apply(&mut self, resp: &rkafka_protocol::messages::MetadataResponse, full: bool) {
        let md = self.view.metadata.apply(resp, full);
        self.install(md);
        self.failing_since = None;
        self.next_refresh = Instant::now() + self.max_age;
        self.publish();
    }

    /// Makes `md` current, with a connection handle for each of its brokers
    /// (new or moved ones get a fresh handle; gone ones are dropped unless
    /// they coordinate something).
    fn install(&mut self, md: ClusterMetadata) {
        let mut conns = (*self.view.connections).clone();
        for b in md.brokers.values() {
            let addr = b.addr();
            if self.addrs.get(&b.id) != Some(&addr) {
                conns.insert(
                    b.id,
                    BrokerConnections::new(addr.clone(), self.conn_cfg.clone()),
                );
                self.addrs.insert(b.id, addr);
            }
        }
        let coordinators: BTreeSet<i32> = self.view.coordinators.values().copied().collect();
        conns.retain(|id, _| md.brokers.contains_key(id) || coordinators.contains(id));
        self.addrs.retain(|id, _| conns.contains_key(id));
        self.view.metadata = Arc::new(md);
        self.view.connections = Arc::new(conns);
    }
}

/// Whether a refresh should skip the known brokers: before the first
/// metadata there are none, and under the `rebootstrap` strategy a cache that
/// has failed to refresh for `metadata.recovery.rebootstrap.trigger.ms`
/// (KIP-1102) is rebuilt from the bootstrap list.
fn go_straight_to_bootstrap(
    never_refreshed: bool,
    failing_for: Option<Duration>,
    trigger: Duration,
    strategy: MetadataRecoveryStrategy,
) -> bool {
    never_refreshed
        || (strategy == MetadataRecoveryStrategy::Rebootstrap
            && failing_for.is_some_and(|f| f >= trigger))
}

fn no_broker(what: &str) -> Error {
    Error::NoRoute {
        target: what.to_owned(),
        reason: "no broker answered".into(),
    }
}

/// Whether the Admin connection of `c` is up right now.
pub(crate) fn is_live(c: &BrokerConnections) -> bool {
    c.get(ConnPurpose::Admin).is_connected()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebootstrap_trigger_counts_from_the_first_failure() {
        use MetadataRecoveryStrategy::{None as Keep, Rebootstrap};
        let trigger = Duration::from_secs(300);
        let s = |f: Option<u64>| f.map(Duration::from_secs);
        // First refresh: nothing known yet.
        assert!(go_straight_to_bootstrap(true, None, trigger, Keep));
        // Healthy, however long ago the last refresh was.
        assert!(!go_straight_to_bootstrap(false, None, trigger, Rebootstrap));
        // Failing, but not for long enough.
        assert!(!go_straight_to_bootstrap(
            false,
            s(Some(299)),
            trigger,
            Rebootstrap
        ));
        assert!(go_straight_to_bootstrap(
            false,
            s(Some(300)),
            trigger,
            Rebootstrap
        ));
        // Strategy none never gives up on the known brokers.
        assert!(!go_straight_to_bootstrap(
            false,
            s(Some(9999)),
            trigger,
            Keep
        ));
    }
}
