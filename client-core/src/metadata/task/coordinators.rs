//! Coordinator lookups for the metadata task: cached answers first, then
//! one FindCoordinator round per kind for everything still unknown, through
//! whichever known broker answers.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rand::seq::SliceRandom;
use tokio::time::timeout;

use super::{no_broker, MetadataTask, Reply};
use crate::broker::{BrokerConnections, ConnPurpose};
use crate::error::Error;
use crate::metadata::refresh::{find_coordinators, CoordinatorInfo};
use crate::route::CoordinatorKind;

impl MetadataTask {
    /// Answers coordinator lookups of one kind, one FindCoordinator round.
    pub(super) async fn lookup(
        &mut self,
        kind: CoordinatorKind,
        waiters: Vec<(String, Reply<i32>)>,
    ) {
        let mut pending: Vec<(String, Reply<i32>)> = Vec::new();
        for (key, reply) in waiters {
            match self.view.coordinators.get(&(kind, key.clone())) {
                Some(&id) => {
                    let _ = reply.send(Ok(id));
                }
                None => pending.push((key, reply)),
            }
        }
        if pending.is_empty() {
            return;
        }
        let keys: BTreeSet<String> = pending.iter().map(|(k, _)| k.clone()).collect();
        let keys: Vec<String> = keys.into_iter().collect();
        let result = self.find(kind, &keys).await;
        let mut coordinators = (*self.view.coordinators).clone();
        let mut conns = (*self.view.connections).clone();
        let mut answers: HashMap<String, Result<i32, Error>> = HashMap::new();
        match result {
            Ok(found) => {
                for (key, r) in found {
                    let r = r.map(|info| {
                        if self.addrs.get(&info.node_id) != Some(&info.addr) {
                            conns.insert(
                                info.node_id,
                                BrokerConnections::new(info.addr.clone(), self.conn_cfg.clone()),
                            );
                            self.addrs.insert(info.node_id, info.addr);
                        }
                        coordinators.insert((kind, key.clone()), info.node_id);
                        info.node_id
                    });
                    answers.insert(key, r);
                }
            }
            Err(e) => {
                for k in &keys {
                    answers.insert(k.clone(), Err(e.clone()));
                }
            }
        }
        self.view.coordinators = Arc::new(coordinators);
        self.view.connections = Arc::new(conns);
        self.publish();
        for (key, reply) in pending {
            let r = answers
                .get(&key)
                .cloned()
                .unwrap_or_else(|| Err(no_broker("FindCoordinator")));
            let _ = reply.send(r);
        }
    }

    async fn find(
        &mut self,
        kind: CoordinatorKind,
        keys: &[String],
    ) -> Result<Vec<(String, Result<CoordinatorInfo, Error>)>, Error> {
        if self.view.connections.is_empty() {
            self.refresh(false).await?;
        }
        let mut ids: Vec<i32> = self.view.metadata.brokers.keys().copied().collect();
        ids.shuffle(&mut rand::rng());
        ids.sort_by_key(|id| !self.is_live(*id));
        let limit = self.conn_cfg.connect_timeout + self.conn_cfg.request_timeout;
        let mut last_err = no_broker("FindCoordinator");
        for id in ids {
            let Some(conns) = self.view.connections.get(&id).cloned() else {
                continue;
            };
            let broker = conns.get(ConnPurpose::Admin);
            let attempt =
                async { find_coordinators(&broker.connection().await?, kind, keys).await };
            match timeout(limit, attempt).await {
                Ok(Ok(found)) => return Ok(found),
                Ok(Err(e)) if matches!(e, Error::UnsupportedVersion { .. }) => return Err(e),
                Ok(Err(e)) => last_err = e,
                Err(_) => {
                    last_err = Error::Timeout {
                        what: format!("FindCoordinator via {}", broker.addr()),
                        after: limit,
                    }
                }
            }
        }
        Err(last_err)
    }
}
