//! The sender task: the one owner of the producer's state.
//!
//! The [`crate::Producer`] handle charges each record to `buffer.memory`,
//! appends it to its partition's open batch (`accumulator.rs`) and passes
//! complete batches here over a channel; this task queues them per
//! partition, groups them per leader broker into Produce requests (at most
//! `max.in.flight.requests.per.connection` per broker, one batch per
//! partition per request), and completes each record's delivery from the
//! response. It polls every request future itself, in the order they were
//! issued, so requests to one broker reach its connection in sequence order.
//! Transaction and producer-id state live here too; the handle's
//! transaction calls do their coordinator round trips themselves and tell
//! this task what changed.

mod drain;
mod io;
mod queue;
mod response;

pub(crate) use io::{init_producer_id, send_capped};
pub(crate) use queue::PartitionQueue;

use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasherDefault;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use rkafka_client_core::metadata::ClusterMetadata;
use rkafka_client_core::{Client, Error};
use rkafka_protocol::messages::ProduceResponse;
use rkafka_protocol::ErrorCode;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;

use crate::accumulator::TopicHasher;
use crate::availability::Availability;
use crate::batch::{Batch, BatchSettings};
use crate::config::ProducerConfig;
use crate::error::ProducerError;
use crate::txn::TxnState;

/// What the handle asks of the task.
#[derive(Debug)]
pub(crate) enum Msg {
    /// A complete batch from the handle's accumulator.
    Batch(Batch),
    /// Answer once every record accepted so far is complete.
    Flush(oneshot::Sender<()>),
    /// Stop accepting records, finish (or at `deadline` fail) the rest, stop.
    Close {
        deadline: Instant,
        reply: oneshot::Sender<()>,
    },
    Txn(crate::txn::TxnMsg),
}

/// A batch travelling in a request.
#[derive(Debug)]
pub(crate) struct Sent {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    pub(crate) batch: Batch,
}

/// What a finished background future reports.
pub(crate) enum Event {
    Produced {
        broker: i32,
        batches: Vec<Sent>,
        result: Result<Option<ProduceResponse>, Error>,
    },
    Refreshed,
    Bumped(Result<(i64, i16), ProducerError>),
    PartitionsAdded(Result<Vec<(String, i32, ErrorCode)>, Error>),
}

type BoxFuture = Pin<Box<dyn Future<Output = Event> + Send>>;

/// A topic's partition queues (by partition index).
#[derive(Debug, Default)]
pub(crate) struct TopicState {
    pub(crate) queues: Vec<PartitionQueue>,
}

/// Whether the producer epoch must be bumped (KIP-360) before sending on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bump {
    No,
    /// Wanted: draining stops; it starts once nothing is in flight.
    Wanted,
    InProgress,
}

pub(crate) struct Sender {
    pub(crate) client: Client,
    pub(crate) cfg: Arc<ProducerConfig>,
    pub(crate) settings: BatchSettings,
    pub(crate) rx: mpsc::UnboundedReceiver<Msg>,
    pub(crate) rx_open: bool,
    pub(crate) memory: Arc<Semaphore>,
    pub(crate) topics: HashMap<Arc<str>, TopicState, BuildHasherDefault<TopicHasher>>,
    pub(crate) broker_in_flight: HashMap<i32, usize>,
    pub(crate) futures: FuturesUnordered<BoxFuture>,
    /// Producer requests in `futures` (the rest are refreshes and txn calls).
    pub(crate) produce_in_flight: usize,
    /// Producer id and epoch; `None` until known (or when not idempotent).
    pub(crate) producer: Option<(i64, i16)>,
    pub(crate) idempotent: bool,
    pub(crate) txn: Option<TxnState>,
    pub(crate) bump: Bump,
    /// Failed bump attempts in a row (the next one asks for a fresh id).
    pub(crate) bump_failures: u32,
    pub(crate) refreshing: bool,
    pub(crate) adding: bool,
    pub(crate) add_retry_at: Option<Instant>,
    pub(crate) flushers: Vec<oneshot::Sender<()>>,
    pub(crate) closers: Vec<oneshot::Sender<()>>,
    pub(crate) close_deadline: Option<Instant>,
    /// Records accepted and not yet completed.
    pub(crate) outstanding: usize,
    pub(crate) metadata: Arc<ClusterMetadata>,
    /// `partitioner.availability.timeout.ms` bookkeeping.
    pub(crate) availability: Availability,
}

impl Sender {
    pub(crate) fn new(
        client: Client,
        cfg: Arc<ProducerConfig>,
        rx: mpsc::UnboundedReceiver<Msg>,
        memory: Arc<Semaphore>,
        producer: Option<(i64, i16)>,
        gate: Arc<crate::txn::SendGate>,
        availability: Availability,
    ) -> Self {
        let settings = BatchSettings::of(&cfg);
        let txn = cfg
            .transactional_id
            .clone()
            .map(|id| TxnState::new(id, gate.clone()));
        let metadata = client.metadata();
        Self {
            idempotent: cfg.idempotence(),
            client,
            cfg,
            settings,
            rx,
            rx_open: true,
            memory,
            topics: HashMap::default(),
            broker_in_flight: HashMap::new(),
            futures: FuturesUnordered::new(),
            produce_in_flight: 0,
            producer,
            txn,
            bump: Bump::No,
            bump_failures: 0,
            refreshing: false,
            adding: false,
            add_retry_at: None,
            flushers: Vec::new(),
            closers: Vec::new(),
            close_deadline: None,
            outstanding: 0,
            metadata,
            availability,
        }
    }

    /// Runs until closed (or every handle is gone) and all records are done.
    pub(crate) async fn run(mut self) {
        loop {
            let now = Instant::now();
            let wake = self.drain(now);
            self.answer_flushers();
            if !self.rx_open && self.outstanding == 0 && self.futures.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                Some(ev) = self.futures.next(), if !self.futures.is_empty() => {
                    self.on_event(ev);
                    // Take every other finished response too before draining.
                    while let Some(Some(ev)) = futures_util::FutureExt::now_or_never(self.futures.next()) {
                        self.on_event(ev);
                    }
                }
                msg = self.rx.recv(), if self.rx_open => match msg {
                    Some(m) => {
                        self.update_metadata();
                        self.on_msg(m);
                        // Take what else is queued in one go: one drain per
                        // burst of batches, not one per batch.
                        for _ in 0..8192 {
                            match self.rx.try_recv() {
                                Ok(m) => self.on_msg(m),
                                Err(_) => break,
                            }
                        }
                    }
                    None => self.rx_open = false,
                },
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
        for c in self.closers.drain(..) {
            let _ = c.send(());
        }
        self.memory.close();
    }

    fn on_msg(&mut self, msg: Msg) {
        match msg {
            Msg::Batch(b) => self.on_batch(b),
            Msg::Flush(reply) => self.flushers.push(reply),
            Msg::Close { deadline, reply } => {
                self.closers.push(reply);
                self.close_deadline =
                    Some(self.close_deadline.map_or(deadline, |d| d.min(deadline)));
                // Records already queued are still taken; later sends fail.
                self.rx.close();
            }
            Msg::Txn(m) => self.on_txn(m),
        }
    }

    fn on_batch(&mut self, batch: Batch) {
        if let Some(err) = self.txn.as_ref().and_then(TxnState::send_error) {
            self.memory.add_permits(batch.memory);
            batch.fail(&err);
            return;
        }
        let p = batch.partition() as usize;
        let topic = match self.topics.get_mut(batch.topic()) {
            Some(t) => t,
            None => self.topics.entry(batch.topic().clone()).or_default(),
        };
        if topic.queues.len() <= p {
            topic.queues.resize_with(p + 1, PartitionQueue::default);
        }
        self.outstanding += batch.count();
        topic.queues[p].batches.push_back(batch);
    }

    /// Takes the client's current metadata snapshot.
    fn update_metadata(&mut self) {
        let now = self.client.metadata();
        if !Arc::ptr_eq(&now, &self.metadata) {
            self.metadata = now;
        }
    }

    fn answer_flushers(&mut self) {
        if self.outstanding == 0 {
            for f in self.flushers.drain(..) {
                let _ = f.send(());
            }
        }
    }

    /// Records of `batch` are done (successfully or not): give back memory.
    fn release(&mut self, batch: &Batch) {
        self.outstanding -= batch.count();
        self.memory.add_permits(batch.memory);
    }

    pub(crate) fn fail_batch(&mut self, batch: Batch, err: &ProducerError) {
        self.release(&batch);
        batch.fail(err);
    }

    /// Asks for a metadata refresh unless one is under way.
    fn refresh(&mut self) {
        if self.refreshing {
            return;
        }
        self.refreshing = true;
        let client = self.client.clone();
        let topics: Vec<String> = self.topics.keys().map(|t| t.to_string()).collect();
        let pause = self.cfg.retry_backoff;
        self.futures.push(Box::pin(async move {
            let _ = client.refresh_metadata(&topics).await;
            // At most one refresh per retry.backoff.ms: a partition whose
            // leader stays unknown must not spin the cluster with requests.
            tokio::time::sleep(pause).await;
            Event::Refreshed
        }));
    }

    fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Produced {
                broker,
                batches,
                result,
            } => {
                self.produce_in_flight -= 1;
                if let Some(n) = self.broker_in_flight.get_mut(&broker) {
                    *n = n.saturating_sub(1);
                }
                self.on_produced(batches, result);
            }
            Event::Refreshed => {
                self.refreshing = false;
                self.update_metadata();
            }
            Event::Bumped(result) => self.on_bumped(result),
            Event::PartitionsAdded(result) => self.on_partitions_added(result),
        }
    }

    /// The delay before the `attempts`-th retry: `retry.backoff.ms`
    /// doubling up to `retry.backoff.max.ms`.
    fn backoff(&self, attempts: u32) -> Duration {
        let base = self.cfg.retry_backoff;
        let exp = attempts.saturating_sub(1).min(16);
        (base * 2u32.pow(exp)).min(self.cfg.retry_backoff_max.max(base))
    }
}
