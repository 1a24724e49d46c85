//! The sender task: the one owner of the producer's state.
//!
//! The [`crate::Producer`] handle charges a record to `buffer.memory` and
//! passes it here over a channel; this task partitions it, appends it to its
//! partition's batch, decides when batches are ready, groups ready batches
//! per leader broker into Produce requests (at most
//! `max.in.flight.requests.per.connection` per broker, one batch per
//! partition per request), and completes each record's delivery from the
//! response. It polls every request future itself, in the order they were
//! issued, so requests to one broker reach its connection in sequence order.
//! Transaction and producer-id state live here too; the handle's
//! transaction calls do their coordinator round trips themselves and tell
//! this task what changed.

mod drain;
mod io;
mod response;

pub(crate) use io::init_producer_id;

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::stream::{FuturesUnordered, StreamExt};
use rkafka_client_core::metadata::ClusterMetadata;
use rkafka_client_core::{Client, Error};
use rkafka_protocol::messages::ProduceResponse;
use rkafka_protocol::ErrorCode;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;

use crate::accumulator::{Batch, BatchSettings, PartitionQueue};
use crate::config::ProducerConfig;
use crate::delivery::Reply;
use crate::error::ProducerError;
use crate::partitioner::{key_partition, Sticky};
use crate::record::ProducerRecord;
use crate::txn::TxnState;

/// A record on its way to the sender task.
#[derive(Debug)]
pub(crate) struct Pending {
    /// Its `timestamp`, when `None`, is set by the sender task: once per
    /// burst of records taken from the channel, not once per record (reading
    /// the clock was a tenth of the producer's CPU time).
    pub(crate) record: ProducerRecord,
    pub(crate) reply: Reply,
    pub(crate) memory: usize,
}

/// What the handle asks of the task.
#[derive(Debug)]
pub(crate) enum Msg {
    Record(Pending),
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

/// A topic's partition queues and its sticky-partition choice.
#[derive(Debug)]
pub(crate) struct TopicState {
    pub(crate) queues: Vec<PartitionQueue>,
    sticky: Sticky,
    /// The partition count as of metadata generation `seen`, so a record
    /// needs no metadata lookup.
    partitions: i32,
    seen: u64,
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
    /// Bumped whenever `metadata` is replaced by a different snapshot.
    pub(crate) metadata_gen: u64,
    pub(crate) seed: u64,
    /// The clock, read once per burst of records (see [`Pending`]).
    pub(crate) burst_millis: i64,
    pub(crate) burst_instant: Instant,
}

impl Sender {
    pub(crate) fn new(
        client: Client,
        cfg: Arc<ProducerConfig>,
        rx: mpsc::UnboundedReceiver<Msg>,
        memory: Arc<Semaphore>,
        producer: Option<(i64, i16)>,
    ) -> Self {
        let settings = BatchSettings {
            batch_size: cfg.batch_size,
            compression: cfg.compression,
            level: cfg.compression_level,
        };
        let txn = cfg.transactional_id.clone().map(TxnState::new);
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
            metadata_gen: 1,
            seed: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64),
            burst_millis: now_millis(),
            burst_instant: Instant::now(),
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
                        self.burst_millis = now_millis();
                        self.burst_instant = Instant::now();
                        self.on_msg(m);
                        // Take what else is queued in one go: one drain per
                        // burst of records, not one per record.
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
            Msg::Record(p) => self.on_record(p),
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

    fn on_record(&mut self, p: Pending) {
        let Pending {
            record,
            reply,
            memory,
        } = p;
        if let Some(err) = self.txn.as_ref().and_then(TxnState::send_error) {
            self.memory.add_permits(memory);
            reply.fail(err);
            return;
        }
        let timestamp = record.timestamp.unwrap_or(self.burst_millis);
        let seed = self.seed;
        let gen = self.metadata_gen;
        let topic = match self.topics.get_mut(&record.topic) {
            Some(t) => t,
            None => self
                .topics
                .entry(record.topic.clone())
                .or_insert_with(|| TopicState {
                    queues: Vec::new(),
                    sticky: Sticky::new(seed ^ record.topic.len() as u64),
                    partitions: 0,
                    seen: 0,
                }),
        };
        if topic.seen != gen {
            topic.seen = gen;
            topic.partitions = self
                .metadata
                .topic(&record.topic)
                .map_or(0, |t| t.partitions.len() as i32);
            if topic.queues.len() < topic.partitions as usize {
                topic
                    .queues
                    .resize_with(topic.partitions as usize, PartitionQueue::default);
            }
        }
        let partitions = topic.partitions;
        if partitions == 0 {
            // The handle found the topic in the client's metadata before
            // sending, but this burst's snapshot may be older (the record
            // came in the same burst as an earlier message, e.g. the
            // transaction's begin): look again before failing it.
            self.update_metadata();
            if self.metadata_gen != gen {
                return self.on_record(Pending {
                    record,
                    reply,
                    memory,
                });
            }
            self.memory.add_permits(memory);
            reply.fail(ProducerError::Kafka {
                topic: record.topic.to_string(),
                partition: record.partition.unwrap_or(-1),
                code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                message: None,
            });
            return;
        }
        let chosen = match record.partition {
            Some(p) => p,
            None => {
                let custom = self.cfg.partitioner.as_ref().and_then(|c| {
                    c.partition(
                        &record.topic,
                        record.key.as_deref(),
                        record.value.as_deref(),
                        partitions,
                    )
                });
                match (custom, &record.key) {
                    (Some(p), _) => p,
                    (None, Some(k)) if !self.cfg.partitioner_ignore_keys => {
                        key_partition(k, partitions)
                    }
                    _ => topic.sticky.next(
                        partitions,
                        memory.saturating_sub(crate::record::RECORD_OVERHEAD),
                        self.settings.batch_size,
                    ),
                }
            }
        };
        if chosen < 0 || chosen >= partitions {
            self.memory.add_permits(memory);
            reply.fail(ProducerError::InvalidPartition {
                topic: record.topic.to_string(),
                partition: chosen,
                partitions,
            });
            return;
        }
        let q = &mut topic.queues[chosen as usize];
        match q.append(
            &record,
            chosen,
            timestamp,
            reply,
            memory,
            // The burst's clock, not a fresh read per record (see `Pending`).
            self.burst_instant,
            self.settings,
        ) {
            Ok(()) => self.outstanding += 1,
            Err((reply, err)) => {
                self.memory.add_permits(memory);
                reply.fail(err);
            }
        }
    }

    /// Takes the client's current metadata snapshot.
    fn update_metadata(&mut self) {
        let now = self.client.metadata();
        if !Arc::ptr_eq(&now, &self.metadata) {
            self.metadata = now;
            self.metadata_gen += 1;
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

/// Milliseconds since the epoch, for records sent without a timestamp.
pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// FNV-1a for the topic map, which is looked up for every record: the
/// default SipHash was 3 % of the producer's CPU. Topic names come from the
/// application, not from the network, so hash flooding is not a concern.
#[derive(Debug)]
pub(crate) struct TopicHasher(u64);

impl Default for TopicHasher {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for TopicHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
