//! The handle's side of batching: the open batch of every partition.
//!
//! `send` appends each record to its partition's open batch in the
//! caller's own task, and only complete batches cross over to the sender
//! task, one channel message per batch. A batch is complete when it reaches
//! `batch.size` (the handle ships it at once) or when it has been open for
//! `linger.ms` (the producer's linger timer ships it). Handing over every
//! record instead cost a channel message, a wake-up of the sender task and
//! a cache miss or two per record, and left all per-record work (choosing
//! the partition, encoding) to one task: that task was the producer's
//! bottleneck.
//!
//! Plain state without I/O: the producer keeps it behind a lock that only
//! its handles and its linger timer take, never the sender task, and never
//! across an await.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rkafka_client_core::client::MetadataWatch;
use rkafka_protocol::records::NewRecord;
use rkafka_protocol::ErrorCode;
use tokio::time::Instant;

use crate::availability::Unavailable;
use crate::batch::{Batch, BatchSettings};
use crate::config::ProducerConfig;
use crate::delivery::{Completion, DeliveryFuture};
use crate::error::ProducerError;
use crate::load::{QueueLoad, Waiting};
use crate::partitioner::{adaptive_weights, key_partition, Partitioner, Sticky};
use crate::record::ProducerRecord;

/// The open batches of every partition, and the clock records are stamped
/// with.
#[derive(Debug)]
pub(crate) struct Accumulator {
    settings: BatchSettings,
    linger: Duration,
    partitioner: Option<Arc<dyn Partitioner>>,
    ignore_keys: bool,
    adaptive: bool,
    metadata: MetadataWatch,
    /// Leaders past `partitioner.availability.timeout.ms`, from the sender
    /// task: their partitions get no new records without a key.
    unavailable: Unavailable,
    topics: HashMap<Arc<str>, TopicBatches, BuildHasherDefault<TopicHasher>>,
    /// Open batches in the order they were opened, which (with one
    /// `linger.ms` for all) is the order they are due in. An entry whose
    /// batch was shipped full since is skipped when it comes up.
    due: VecDeque<Due>,
    next_serial: u64,
    open: usize,
    seed: u64,
    clock: Clock,
    closed: bool,
    /// Whether the linger timer knows batches are open (it sleeps
    /// otherwise until [`Accumulator::arm_timer`] says to wake it).
    timer_armed: bool,
    /// `buffer.memory` taken from the semaphore and not yet charged to a
    /// record: `send` takes it in chunks, so the semaphore's atomic (shared
    /// with the sender task, which gives memory back per batch) is touched
    /// once per chunk instead of once per record.
    credit: usize,
}

/// A topic's open batches (by partition) and its sticky-partition choice.
#[derive(Debug)]
struct TopicBatches {
    /// The topic's name, shared by its batches and their deliveries.
    name: Arc<str>,
    open: Vec<Option<Open>>,
    sticky: Sticky,
    load: Arc<QueueLoad>,
    /// The partition count as of metadata generation `seen`.
    partitions: i32,
    seen: Option<u64>,
}

#[derive(Debug)]
struct Open {
    serial: u64,
    batch: Batch,
}

#[derive(Debug)]
struct Due {
    at: Instant,
    topic: Arc<str>,
    partition: i32,
    serial: u64,
}

/// The time records without a timestamp are stamped with.
///
/// Reading the system clock costs a system call on some virtual machines
/// (0.4 µs here, more than everything else a record costs), so it is read
/// when a batch opens and refreshed by the linger timer while batches are
/// open ([`Accumulator::tick`], every millisecond), not once per record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub(crate) millis: i64,
    pub(crate) instant: Instant,
}

impl Clock {
    pub(crate) fn now() -> Self {
        Self {
            millis: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            instant: Instant::now(),
        }
    }
}

impl Accumulator {
    pub(crate) fn new(
        cfg: &ProducerConfig,
        metadata: MetadataWatch,
        unavailable: Unavailable,
    ) -> Self {
        let clock = Clock::now();
        Self {
            settings: BatchSettings::of(cfg),
            linger: cfg.linger,
            partitioner: cfg.partitioner.clone(),
            ignore_keys: cfg.partitioner_ignore_keys,
            adaptive: cfg.partitioner_adaptive_partitioning_enable,
            metadata,
            unavailable,
            topics: HashMap::default(),
            due: VecDeque::new(),
            next_serial: 0,
            open: 0,
            seed: clock.millis as u64 ^ 0x9e37_79b9_7f4a_7c15,
            clock,
            closed: false,
            timer_armed: false,
            credit: 0,
        }
    }

    /// Appends `record` (charged `memory` bytes of `buffer.memory`) to its
    /// partition's open batch; a batch that becomes complete goes to
    /// `ship`. The error, if any, is the record's alone.
    pub(crate) fn append(
        &mut self,
        record: &ProducerRecord<'_>,
        memory: usize,
        ship: &mut impl FnMut(Batch),
    ) -> Result<DeliveryFuture, ProducerError> {
        if self.closed {
            return Err(ProducerError::Closed);
        }
        self.metadata.update();
        let generation = self.metadata.generation();
        let topic = match self.topics.get_mut(&*record.topic) {
            Some(t) => t,
            None => {
                let name: Arc<str> = Arc::from(&*record.topic);
                self.topics
                    .entry(name.clone())
                    .or_insert_with(|| TopicBatches {
                        name,
                        open: Vec::new(),
                        sticky: Sticky::new(self.seed ^ record.topic.len() as u64),
                        load: QueueLoad::new(0),
                        partitions: 0,
                        seen: None,
                    })
            }
        };
        if topic.seen != Some(generation) {
            topic.seen = Some(generation);
            topic.partitions = self
                .metadata
                .current()
                .topic(&record.topic)
                .map_or(0, |t| t.partitions.len() as i32);
            if topic.open.len() < topic.partitions as usize {
                topic.open.resize_with(topic.partitions as usize, || None);
                topic.load = topic.load.grown(topic.partitions as usize);
            }
        }
        let partitions = topic.partitions;
        if partitions == 0 {
            return Err(ProducerError::Kafka {
                topic: record.topic.to_string(),
                partition: record.partition.unwrap_or(-1),
                code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                message: None,
            });
        }
        let chosen = match record.partition {
            Some(p) => p,
            None => {
                let custom = self.partitioner.as_ref().and_then(|c| {
                    c.partition(
                        &record.topic,
                        record.key.as_deref(),
                        record.value.as_deref(),
                        partitions,
                    )
                });
                match (custom, &record.key) {
                    (Some(p), _) => p,
                    (None, Some(k)) if !self.ignore_keys => key_partition(k, partitions),
                    _ => {
                        let (load, metadata) = (&topic.load, &self.metadata);
                        let (adaptive, unavailable) = (self.adaptive, &self.unavailable);
                        topic.sticky.next(
                            partitions,
                            memory.saturating_sub(crate::record::RECORD_OVERHEAD),
                            self.settings.batch_size,
                            || {
                                adaptive.then(|| {
                                    let meta = metadata.current().topic(&record.topic);
                                    let down = unavailable.borrow().clone();
                                    let waiting: Vec<Option<u32>> = (0..partitions)
                                        .map(|p| {
                                            meta.and_then(|m| m.partitions.get(&p))
                                                .and_then(|pm| pm.leader)
                                                .filter(|l| down.binary_search(l).is_err())
                                                .map(|_| load.waiting(p as usize))
                                        })
                                        .collect();
                                    adaptive_weights(&waiting)
                                })
                            },
                        )
                    }
                }
            }
        };
        if chosen < 0 || chosen >= partitions {
            return Err(ProducerError::InvalidPartition {
                topic: record.topic.to_string(),
                partition: chosen,
                partitions,
            });
        }
        let slot = &mut topic.open[chosen as usize];
        let mut new = NewRecord {
            timestamp: record.timestamp.unwrap_or(self.clock.millis),
            key: record.key.as_deref(),
            value: record.value.as_deref(),
            headers: &record.headers,
        };
        // A record that would take the open batch past batch.size closes it
        // (unless it is the batch's first: a batch holds at least one).
        let batch_size = self.settings.batch_size;
        let mut pushed = match slot.as_mut() {
            Some(open) => open
                .batch
                .builder
                .as_mut()
                .expect("an open batch has its builder")
                .push_within(&new, batch_size),
            None => Ok(None),
        };
        if let Ok(None) = pushed {
            if let Some(full) = slot.take() {
                self.open -= 1;
                ship(full.batch);
            }
            // A new batch starts its own linger and reads the clock afresh.
            self.clock = Clock::now();
            new.timestamp = record.timestamp.unwrap_or(self.clock.millis);
            let serial = self.next_serial;
            self.next_serial += 1;
            let deliveries = Completion::new(topic.name.clone(), chosen);
            let mut batch = Batch::new(self.clock.instant, self.settings, deliveries);
            batch.waiting = Waiting::new(topic.load.clone(), chosen as usize);
            pushed = batch
                .builder
                .as_mut()
                .expect("a new batch has its builder")
                .push(&new)
                .map(Some);
            if pushed.is_ok() {
                *slot = Some(Open { serial, batch });
                self.open += 1;
                self.due.push_back(Due {
                    at: self.clock.instant + self.linger,
                    topic: topic.name.clone(),
                    partition: chosen,
                    serial,
                });
            }
        }
        if pushed.is_err() {
            // Over the format's limits; any open batch is unchanged.
            return Err(ProducerError::RecordTooLarge {
                size: record.estimated_size(),
                max: i32::MAX as usize,
            });
        }
        let open = slot.as_mut().expect("the record was pushed into it");
        let builder = open
            .batch
            .builder
            .as_mut()
            .expect("an open batch has its builder");
        let delivery = open.batch.deliveries.join(new.timestamp);
        open.batch.memory += memory;
        if builder.encoded_size() >= self.settings.batch_size {
            if let Some(full) = slot.take() {
                self.open -= 1;
                ship(full.batch);
            }
        }
        Ok(delivery)
    }

    /// Ships the batches open for `linger.ms` by `now` and refreshes the
    /// clock; returns when to look again (`None`: no batch is open).
    pub(crate) fn tick(&mut self, now: Clock, ship: &mut impl FnMut(Batch)) -> Option<Instant> {
        // `now` was read before the lock: a batch opened meanwhile may have
        // read a later time, and timestamps should not step back.
        if now.instant > self.clock.instant {
            self.clock = now;
        }
        while let Some(d) = self.due.front() {
            if d.at > now.instant {
                break;
            }
            let d = self.due.pop_front().expect("just seen");
            self.take(&d.topic, d.partition, Some(d.serial), ship);
        }
        let next = self.due.front().map(|d| d.at);
        self.timer_armed = next.is_some();
        next
    }

    /// Whether the linger timer must be woken: once, when a batch is open
    /// and the timer went to sleep with none open.
    pub(crate) fn arm_timer(&mut self) -> bool {
        if self.open > 0 && !self.timer_armed {
            self.timer_armed = true;
            return true;
        }
        false
    }

    /// Ships every open batch (flush, close, transaction end).
    pub(crate) fn ship_all(&mut self, ship: &mut impl FnMut(Batch)) {
        while let Some(d) = self.due.pop_front() {
            self.take(&d.topic, d.partition, Some(d.serial), ship);
        }
    }

    /// Takes every open batch without shipping it (an aborted transaction
    /// drops what was never sent).
    pub(crate) fn take_all(&mut self) -> Vec<Batch> {
        let mut all = Vec::new();
        self.ship_all(&mut |b| all.push(b));
        all
    }

    /// Charges `n` bytes to the credit, if it has them.
    pub(crate) fn take_credit(&mut self, n: usize) -> bool {
        let ok = self.credit >= n;
        if ok {
            self.credit -= n;
        }
        ok
    }

    /// Adds `n` bytes of `buffer.memory` to the credit.
    pub(crate) fn add_credit(&mut self, n: usize) {
        self.credit += n;
    }

    /// Empties the credit (to give it back to the semaphore).
    pub(crate) fn drain_credit(&mut self) -> usize {
        std::mem::take(&mut self.credit)
    }

    /// Refuses records from now on (the producer is closing).
    pub(crate) fn close(&mut self) {
        self.closed = true;
    }

    /// Whether any batch is open.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.open == 0
    }

    fn take(
        &mut self,
        topic: &str,
        partition: i32,
        serial: Option<u64>,
        ship: &mut impl FnMut(Batch),
    ) {
        let Some(slot) = self
            .topics
            .get_mut(topic)
            .and_then(|t| t.open.get_mut(partition as usize))
        else {
            return;
        };
        if slot
            .as_ref()
            .is_some_and(|o| serial.is_none_or(|s| s == o.serial))
        {
            let open = slot.take().expect("just checked");
            self.open -= 1;
            ship(open.batch);
        }
    }
}

/// FNV-1a for the topic maps, which are looked up for every record: the
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rkafka_client_core::metadata::{ClusterMetadata, PartitionMetadata, TopicMetadata};

    use super::*;

    fn accumulator(batch_size: usize, linger: Duration) -> Accumulator {
        let partitions: BTreeMap<i32, PartitionMetadata> = (0..3)
            .map(|p| {
                (
                    p,
                    PartitionMetadata {
                        partition: p,
                        leader: Some(1),
                        leader_epoch: 0,
                        replicas: vec![1],
                        isr: vec![1],
                        offline_replicas: vec![],
                        error: ErrorCode::NONE,
                    },
                )
            })
            .collect();
        let mut metadata = ClusterMetadata::default();
        metadata.topics.insert(
            "t".into(),
            Arc::new(TopicMetadata {
                name: "t".into(),
                id: Default::default(),
                is_internal: false,
                partitions,
            }),
        );
        let cfg = ProducerConfig::builder()
            .bootstrap_servers("unused:9092")
            .batch_size(batch_size)
            .linger(linger)
            .build();
        let (_, unavailable) = crate::availability::Availability::new(Duration::ZERO);
        Accumulator::new(&cfg, MetadataWatch::fixed(Arc::new(metadata)), unavailable)
    }

    fn record(value: &[u8]) -> ProducerRecord<'_> {
        ProducerRecord::new("t", value).with_partition(1)
    }

    #[tokio::test]
    async fn a_batch_ships_when_the_next_record_would_pass_batch_size() {
        let mut acc = accumulator(1000, Duration::from_secs(60));
        let mut shipped = Vec::new();
        for _ in 0..30 {
            drop(
                acc.append(&record(&[0u8; 100]), 100, &mut |b| shipped.push(b))
                    .unwrap(),
            );
        }
        assert!(shipped.len() >= 2);
        for b in &shipped {
            assert!(b.builder.as_ref().unwrap().encoded_size() <= 1000);
            assert_eq!(b.partition(), 1);
        }
        acc.ship_all(&mut |b| shipped.push(b));
        assert!(acc.is_empty());
        assert_eq!(shipped.iter().map(Batch::count).sum::<usize>(), 30);
        assert_eq!(shipped.iter().map(|b| b.memory).sum::<usize>(), 3000);
    }

    #[tokio::test]
    async fn a_record_over_batch_size_gets_its_own_batch() {
        let mut acc = accumulator(100, Duration::from_secs(60));
        let mut shipped = Vec::new();
        for size in [10, 500, 10] {
            drop(
                acc.append(&record(&vec![0u8; size]), size, &mut |b| shipped.push(b))
                    .unwrap(),
            );
        }
        acc.ship_all(&mut |b| shipped.push(b));
        let counts: Vec<usize> = shipped.iter().map(Batch::count).collect();
        assert_eq!(counts, vec![1, 1, 1]);
    }

    #[tokio::test]
    async fn linger_ships_a_batch_once_and_only_when_due() {
        let linger = Duration::from_millis(5);
        let mut acc = accumulator(1 << 20, linger);
        let mut shipped = Vec::new();
        drop(
            acc.append(&record(b"x"), 1, &mut |b| shipped.push(b))
                .unwrap(),
        );
        let opened = acc.clock;
        let due = acc.tick(opened, &mut |b| shipped.push(b));
        assert_eq!(due, Some(opened.instant + linger));
        assert!(shipped.is_empty());
        let later = Clock {
            millis: opened.millis + 5,
            instant: opened.instant + linger,
        };
        assert_eq!(acc.tick(later, &mut |b| shipped.push(b)), None);
        assert_eq!(shipped.len(), 1);
        assert!(acc.is_empty());
        // The clock the timer set stamps the next records until a batch
        // opens (which reads it afresh).
        assert_eq!(acc.clock.millis, later.millis);
    }

    #[tokio::test]
    async fn records_fail_alone_for_a_bad_partition_or_topic_and_after_close() {
        let mut acc = accumulator(1000, Duration::from_secs(60));
        let mut none = |_: Batch| panic!("nothing ships");
        let bad = acc.append(
            &ProducerRecord::new("t", "v").with_partition(3),
            1,
            &mut none,
        );
        assert!(matches!(
            bad,
            Err(ProducerError::InvalidPartition { partitions: 3, .. })
        ));
        let unknown = acc.append(&ProducerRecord::new("u", "v"), 1, &mut none);
        assert!(matches!(unknown, Err(ProducerError::Kafka { .. })));
        acc.close();
        assert!(matches!(
            acc.append(&record(b"v"), 1, &mut none),
            Err(ProducerError::Closed)
        ));
    }

    #[tokio::test]
    async fn keyed_records_go_where_java_puts_them() {
        let mut acc = accumulator(1 << 20, Duration::from_secs(60));
        drop(
            acc.append(&ProducerRecord::new("t", "v").with_key("k"), 1, &mut |_| {})
                .unwrap(),
        );
        let mut shipped = Vec::new();
        acc.ship_all(&mut |b| shipped.push(b));
        assert_eq!(shipped[0].partition(), key_partition(b"k", 3));
    }
}
