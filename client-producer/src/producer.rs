//! The producer handle.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use rkafka_client_core::Client;
use rkafka_protocol::ErrorCode;
use tokio::sync::{mpsc, oneshot, Notify, Semaphore, TryAcquireError};
use tokio::time::Instant;

use crate::accumulator::{Accumulator, Clock};
use crate::availability::Availability;
use crate::batch::Batch;
use crate::config::ProducerConfig;
use crate::delivery::DeliveryFuture;
use crate::error::ProducerError;
use crate::record::ProducerRecord;
use crate::sender::{init_producer_id, Msg, Sender};
use crate::txn::SendGate;

/// A Kafka producer. Cheap to clone; all clones feed one background sender
/// task, which flushes what is buffered and stops when the last clone is
/// dropped or [`Producer::close`] is called.
///
/// ```no_run
/// # async fn demo() -> Result<(), rkafka_client_producer::ProducerError> {
/// use rkafka_client_producer::{Producer, ProducerConfig, ProducerRecord};
///
/// let producer = Producer::connect(
///     ProducerConfig::builder().bootstrap_servers("localhost:9092").build(),
/// )
/// .await?;
/// let delivery = producer
///     .send(ProducerRecord::new("events", "hello").with_key("k"))
///     .await?;
/// let written = delivery.await?;
/// println!("partition {} offset {}", written.partition, written.offset);
/// producer.close(std::time::Duration::from_secs(5)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Producer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tx: mpsc::UnboundedSender<Msg>,
    client: Client,
    memory: Arc<Semaphore>,
    cfg: Arc<ProducerConfig>,
    /// The open batches. Locked by `send` (the caller's task) and by the
    /// linger timer, each time for one append or one sweep, never across
    /// an await; the sender task never takes it (it gets complete batches
    /// over `tx`). Batches leave it only while it is held, so the batches
    /// of one partition reach the task in order.
    accumulator: Mutex<Accumulator>,
    /// Wakes the linger timer when a batch opens while none was open.
    linger_wake: Arc<Notify>,
    /// Whether a transactional producer has a transaction open.
    gate: Arc<SendGate>,
}

impl Inner {
    fn accumulator(&self) -> MutexGuard<'_, Accumulator> {
        // A panic while appending leaves at worst a half-filled batch.
        self.accumulator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands a complete batch to the sender task (with the lock held).
    fn ship(&self, batch: Batch) {
        if let Err(mpsc::error::SendError(Msg::Batch(batch))) = self.tx.send(Msg::Batch(batch)) {
            self.memory.add_permits(batch.memory);
            batch.fail(&ProducerError::Closed);
        }
    }

    /// Ships every open batch, then sends `msg` behind them.
    fn ship_all_then(&self, msg: Msg) -> Result<(), ProducerError> {
        let mut acc = self.accumulator();
        acc.ship_all(&mut |b| self.ship(b));
        self.tx.send(msg).map_err(|_| ProducerError::Closed)
    }
}

impl Drop for Inner {
    /// The last handle is gone: what is buffered still goes out (the task
    /// finishes it, then stops), and the linger timer stops.
    fn drop(&mut self) {
        let acc = self
            .accumulator
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let (tx, memory) = (&self.tx, &self.memory);
        acc.ship_all(&mut |b| {
            if let Err(mpsc::error::SendError(Msg::Batch(b))) = tx.send(Msg::Batch(b)) {
                memory.add_permits(b.memory);
                b.fail(&ProducerError::Closed);
            }
        });
        self.linger_wake.notify_one();
    }
}

/// The linger timer: ships batches open for `linger.ms` and keeps the
/// accumulator's clock fresh (to the millisecond) while batches are open;
/// sleeps while none is. Stops with the last handle.
async fn linger(inner: Weak<Inner>, wake: Arc<Notify>) {
    const TICK: Duration = Duration::from_millis(1);
    let mut due: Option<Instant> = None;
    loop {
        match due {
            None => wake.notified().await,
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = wake.notified() => {}
                }
            }
        }
        let Some(inner) = inner.upgrade() else { return };
        let now = Clock::now();
        due = {
            let mut acc = inner.accumulator();
            acc.tick(now, &mut |b| inner.ship(b))
                .map(|at| at.min(now.instant + TICK))
        };
    }
}

impl Producer {
    /// A config builder; pass the result to [`Producer::connect`].
    pub fn builder() -> crate::config::ProducerConfigBuilder {
        ProducerConfig::builder()
    }

    /// Connects to the cluster and, for an idempotent producer without a
    /// `transactional.id`, obtains its producer id.
    ///
    /// # Errors
    /// [`ProducerError::Config`] for inconsistent settings; connection and
    /// request errors.
    ///
    /// # Cancel safety
    /// Cancel safe: nothing is started until it returns.
    pub async fn connect(cfg: ProducerConfig) -> Result<Self, ProducerError> {
        cfg.validate()?;
        let client = Client::connect(cfg.client_config()).await?;
        Self::with_client(client, cfg).await
    }

    /// As [`Producer::connect`], on an existing client (sharing its
    /// connections and metadata).
    ///
    /// # Errors
    /// As [`Producer::connect`].
    pub async fn with_client(client: Client, cfg: ProducerConfig) -> Result<Self, ProducerError> {
        cfg.validate()?;
        let producer = if cfg.idempotence() && cfg.transactional_id.is_none() {
            let timeout = cfg.transaction_timeout.as_millis().min(i32::MAX as u128) as i32;
            Some(init_producer_id(&client, None, timeout, None).await?)
        } else {
            None
        };
        let cfg = Arc::new(cfg);
        let memory = Arc::new(Semaphore::new(
            cfg.buffer_memory.min(Semaphore::MAX_PERMITS),
        ));
        let (tx, rx) = mpsc::unbounded_channel();
        let gate = Arc::new(SendGate::new(cfg.transactional_id.is_some()));
        let (availability, unavailable) = Availability::new(cfg.partitioner_availability_timeout);
        let sender = Sender::new(
            client.clone(),
            cfg.clone(),
            rx,
            memory.clone(),
            producer,
            gate.clone(),
            availability,
        );
        tokio::spawn(sender.run());
        let accumulator = Accumulator::new(&cfg, client.watch_metadata(), unavailable);
        let linger_wake = Arc::new(Notify::new());
        let inner = Arc::new(Inner {
            tx,
            client,
            memory,
            cfg,
            accumulator: Mutex::new(accumulator),
            linger_wake: linger_wake.clone(),
            gate,
        });
        tokio::spawn(linger(Arc::downgrade(&inner), linger_wake));
        Ok(Self { inner })
    }

    /// Accepts `record` into the buffer and returns a future for its
    /// delivery. Waits (without blocking a thread) while `buffer.memory`
    /// is full or the topic's metadata is unknown, for at most
    /// `max.block.ms`.
    ///
    /// # Errors
    /// [`ProducerError::RecordTooLarge`] for a record over
    /// `max.request.size` or `buffer.memory`; [`ProducerError::BufferExhausted`]
    /// after `max.block.ms`; [`ProducerError::Closed`] after `close`; metadata
    /// errors for an unknown topic. Errors after acceptance come through the
    /// [`DeliveryFuture`].
    ///
    /// # Cancel safety
    /// Cancel safe: a cancelled call has not sent the record.
    pub async fn send(&self, record: ProducerRecord<'_>) -> Result<DeliveryFuture, ProducerError> {
        let inner = &*self.inner;
        let cfg = &inner.cfg;
        if let Some(err) = inner.gate.refusal() {
            // Accepted and failed alone, as the task would fail it.
            return Ok(crate::delivery::failed(err));
        }
        let size = record.estimated_size();
        let max = cfg.max_request_size.min(cfg.buffer_memory);
        if size > max {
            return Err(ProducerError::RecordTooLarge { size, max });
        }
        // The clock is read only when something must wait: reading it for
        // every record cost more than the rest of this fast path.
        let mut deadline = None;
        let memory = size.saturating_add(crate::record::RECORD_OVERHEAD);
        let permits = u32::try_from(memory.min(cfg.buffer_memory)).unwrap_or(u32::MAX);
        let charged = permits as usize;
        let mut waited = false;
        loop {
            let appended = {
                let mut acc = inner.accumulator();
                acc.take_credit(charged).then(|| {
                    let result = acc.append(&record, charged, &mut |b| inner.ship(b));
                    if result.is_err() {
                        acc.add_credit(charged);
                    }
                    (result, acc.arm_timer())
                })
            };
            let Some((result, opened)) = appended else {
                let got = self.reserve_memory(permits, &mut deadline).await?;
                inner.accumulator().add_credit(got);
                continue;
            };
            if opened {
                inner.linger_wake.notify_one();
            }
            let err = match result {
                Ok(delivery) => return Ok(delivery),
                Err(e) => e,
            };
            let unknown_topic = matches!(
                err,
                ProducerError::Kafka {
                    code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    ..
                }
            );
            if unknown_topic && !waited {
                // As Java's `send`, wait for the topic's metadata within
                // max.block.ms.
                waited = true;
                let d = *deadline.get_or_insert_with(|| Instant::now() + cfg.max_block);
                self.wait_for_topic(&record, d).await?;
                continue;
            }
            return match err {
                ProducerError::Closed => Err(ProducerError::Closed),
                // Accepted, then failed alone: through its delivery, as
                // errors found after acceptance are.
                other => Ok(crate::delivery::failed(other)),
            };
        }
    }

    /// Takes `buffer.memory` for a record of `permits` bytes from the
    /// semaphore: a chunk when there is room (for the records after it too),
    /// else waits for the record's own share until `max.block.ms`. Returns
    /// the bytes taken.
    async fn reserve_memory(
        &self,
        permits: u32,
        deadline: &mut Option<Instant>,
    ) -> Result<usize, ProducerError> {
        let inner = &*self.inner;
        let cfg = &inner.cfg;
        // A thirty-second of the buffer, at most 256 KiB: small against
        // buffer.memory, large against a record.
        let chunk = u32::try_from((cfg.buffer_memory / 32).min(256 << 10))
            .unwrap_or(u32::MAX)
            .max(permits);
        match inner.memory.try_acquire_many(chunk) {
            Ok(p) => {
                p.forget();
                return Ok(chunk as usize);
            }
            Err(TryAcquireError::Closed) => return Err(ProducerError::Closed),
            Err(TryAcquireError::NoPermits) => {}
        }
        let d = *deadline.get_or_insert_with(|| Instant::now() + cfg.max_block);
        match tokio::time::timeout_at(d, inner.memory.acquire_many(permits)).await {
            Ok(Ok(p)) => {
                p.forget();
                Ok(permits as usize)
            }
            Ok(Err(_)) => Err(ProducerError::Closed),
            Err(_) => Err(ProducerError::BufferExhausted {
                waited: cfg.max_block,
            }),
        }
    }

    /// Waits until the topic is in the metadata (refreshing it), as Java's
    /// `send` waits for metadata within `max.block.ms`.
    async fn wait_for_topic(
        &self,
        record: &ProducerRecord<'_>,
        deadline: Instant,
    ) -> Result<(), ProducerError> {
        // `send` found it missing just before: refresh right away.
        let client = &self.inner.client;
        let topics = [record.topic.to_string()];
        loop {
            match tokio::time::timeout_at(deadline, client.refresh_metadata(&topics)).await {
                Err(_) => break,
                Ok(Err(e)) if Instant::now() >= deadline => return Err(e.into()),
                _ => {}
            }
            if in_metadata(client, &record.topic) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(self.inner.cfg.retry_backoff).await;
        }
        Err(ProducerError::Kafka {
            topic: record.topic.to_string(),
            partition: record.partition.unwrap_or(-1),
            code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            message: Some(format!(
                "topic not in metadata after max.block.ms ({:?})",
                self.inner.cfg.max_block
            )),
        })
    }

    /// Sends every buffered record now (ignoring `linger.ms`) and waits
    /// until each record accepted before this call is complete.
    ///
    /// # Errors
    /// [`ProducerError::Closed`] when the producer is closed.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn flush(&self) -> Result<(), ProducerError> {
        let (reply, rx) = oneshot::channel();
        self.inner.ship_all_then(Msg::Flush(reply))?;
        rx.await.map_err(|_| ProducerError::Closed)
    }

    /// Stops accepting records, sends what is buffered and waits for it for
    /// at most `timeout`; records still incomplete then fail with
    /// [`ProducerError::Closed`]. Sends after this fail with
    /// [`ProducerError::Closed`].
    ///
    /// # Errors
    /// [`ProducerError::Closed`] when already closed.
    ///
    /// # Cancel safety
    /// Cancel safe: closing continues in the background.
    pub async fn close(&self, timeout: Duration) -> Result<(), ProducerError> {
        let (reply, rx) = oneshot::channel();
        {
            let mut acc = self.inner.accumulator();
            acc.close();
            self.inner.memory.add_permits(acc.drain_credit());
        }
        self.inner.ship_all_then(Msg::Close {
            deadline: Instant::now() + timeout,
            reply,
        })?;
        // The task fails what is left at the deadline, then answers.
        let _ = rx.await;
        Ok(())
    }

    /// The configuration.
    pub fn config(&self) -> &ProducerConfig {
        &self.inner.cfg
    }

    /// The core client the producer sends through.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Fails the records still in open batches with `err` (an abort drops
    /// what was never sent).
    pub(crate) fn drop_buffered(&self, err: &ProducerError) {
        let batches = self.inner.accumulator().take_all();
        for b in batches {
            self.inner.memory.add_permits(b.memory);
            b.fail(err);
        }
    }

    pub(crate) fn command(&self, msg: Msg) -> Result<(), ProducerError> {
        self.inner.tx.send(msg).map_err(|_| ProducerError::Closed)
    }
}

/// Whether the cached metadata knows `topic` with at least one partition.
fn in_metadata(client: &Client, topic: &str) -> bool {
    client
        .metadata()
        .topic(topic)
        .is_some_and(|t| !t.partitions.is_empty())
}
