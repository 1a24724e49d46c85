//! The [`ShareConsumer`] handle.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rkafka_client_core::Client;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::acks::AcknowledgeType;
use super::config::{AcknowledgementMode, ShareConsumerConfig};
use super::error::ShareError;
use super::record::{AckOutcome, ShareRecord, TopicPartition};
use super::task::{Ack, Command, CommitResult, Task};

/// The acknowledgement commit callback: called on the caller's task inside
/// `poll`, `commit_sync`, `commit_async` and `close` with the outcome of every
/// acknowledgement request that completed since the last call.
pub type AckCallback = Box<dyn FnMut(&AckOutcome) + Send>;

/// A record delivered but not yet acknowledged.
#[derive(Debug, Clone)]
struct Delivered {
    node: i32,
    topic: Arc<str>,
    /// RENEW was sent for it: still to be settled, but no longer blocking
    /// the next poll.
    renewed: bool,
}

/// A share-group consumer (KIP-932): Kafka as a queue. Members of one group
/// share partitions; every record is delivered to one member at a time and
/// settled with an acknowledgement.
///
/// A background task owns the group membership, one share session per
/// broker and the acknowledgement queue; this handle talks to it through a
/// channel. Dropping the handle without [`ShareConsumer::close`] stops the
/// task and closes its connections: the brokers then release this member's
/// records to the others (without the acknowledgements not yet sent).
///
/// ```no_run
/// # async fn run() -> Result<(), rkafka_client_consumer::ShareError> {
/// use std::time::Duration;
/// use rkafka_client_consumer::{AcknowledgeType, AcknowledgementMode, ShareConsumer, ShareConsumerConfig};
///
/// let cfg = ShareConsumerConfig::builder()
///     .bootstrap("localhost:9092")
///     .group_id("jobs")
///     .topics(vec!["work".into()])
///     .acknowledgement_mode(AcknowledgementMode::Explicit)
///     .build();
/// let mut consumer = ShareConsumer::connect(cfg).await?;
/// for record in consumer.poll(Duration::from_secs(1)).await? {
///     consumer.acknowledge(&record, AcknowledgeType::Accept)?;
/// }
/// consumer.commit_sync(Duration::from_secs(5)).await?;
/// consumer.close(Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
pub struct ShareConsumer {
    commands: mpsc::UnboundedSender<Command>,
    outcomes: mpsc::UnboundedReceiver<AckOutcome>,
    callback: Option<AckCallback>,
    mode: AcknowledgementMode,
    max_poll_records: usize,
    /// Records of earlier polls awaiting an acknowledgement.
    delivered: HashMap<(Uuid, i32, i64), Delivered>,
    /// Acknowledgements made since the last command.
    acks: Vec<Ack>,
    /// Records with a RENEW in flight, by (topic, partition, offset).
    renewing: HashMap<(Arc<str>, i32, i64), ShareRecord>,
    /// Records whose RENEW succeeded: the next poll returns them again
    /// (KIP-1222, as the Java client does).
    renewed: Vec<ShareRecord>,
    lock_timeout: Option<Duration>,
}

impl std::fmt::Debug for ShareConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareConsumer")
            .field("mode", &self.mode)
            .field("delivered", &self.delivered.len())
            .field("acks", &self.acks.len())
            .finish_non_exhaustive()
    }
}

impl ShareConsumer {
    /// A config builder.
    pub fn builder() -> super::config::ShareConsumerConfigBuilder {
        ShareConsumerConfig::builder()
    }

    /// Connects to the cluster and starts the background task, which joins
    /// the group if topics were given.
    ///
    /// # Errors
    /// [`ShareError::Client`] for an invalid config or an unreachable cluster.
    ///
    /// # Cancel safety
    /// Cancel safe: nothing is started until it returns.
    pub async fn connect(cfg: ShareConsumerConfig) -> Result<Self, ShareError> {
        let client = Client::connect(cfg.client_config()).await?;
        let (commands, rx) = mpsc::unbounded_channel();
        let (out_tx, outcomes) = mpsc::unbounded_channel();
        let mode = cfg.acknowledgement_mode;
        let max_poll_records = cfg.max_poll_records.max(1);
        tokio::spawn(Task::new(cfg, client, out_tx).run(rx));
        Ok(Self {
            commands,
            outcomes,
            callback: None,
            mode,
            max_poll_records,
            delivered: HashMap::new(),
            acks: Vec::new(),
            renewing: HashMap::new(),
            renewed: Vec::new(),
            lock_timeout: None,
        })
    }

    /// Sets the acknowledgement commit callback (see [`AckCallback`]).
    pub fn set_acknowledgement_commit_callback(
        &mut self,
        callback: impl FnMut(&AckOutcome) + Send + 'static,
    ) {
        self.callback = Some(Box::new(callback));
    }

    /// Subscribes to `topics` (replacing the subscription); an empty list
    /// leaves the group.
    ///
    /// # Errors
    /// [`ShareError::Closed`] when the task has ended.
    pub fn subscribe(&mut self, topics: &[&str]) -> Result<(), ShareError> {
        let set: BTreeSet<String> = topics.iter().map(|t| (*t).to_owned()).collect();
        self.send(Command::Subscribe(set))
    }

    /// Leaves the group (the heartbeat at epoch -1); records already
    /// delivered can still be acknowledged.
    ///
    /// # Errors
    /// [`ShareError::Closed`] when the task has ended.
    pub fn unsubscribe(&mut self) -> Result<(), ShareError> {
        self.send(Command::Subscribe(BTreeSet::new()))
    }

    /// Returns up to `max.poll.records` records, waiting up to `timeout` for
    /// some. In implicit mode it first accepts the previous poll's records;
    /// in explicit mode it refuses to run while any are unacknowledged.
    /// Acknowledgements made since the last call are sent (on the next
    /// ShareFetch to their broker, or in a ShareAcknowledge).
    ///
    /// # Errors
    /// [`ShareError::UnacknowledgedRecords`] (explicit mode);
    /// [`ShareError::Group`] when the group refused the member;
    /// [`ShareError::Unsupported`], [`ShareError::Corrupt`] once, for
    /// problems met in the background; [`ShareError::Closed`].
    ///
    /// # Cancel safety
    /// Cancel safe: records the task had picked for a cancelled poll go back
    /// to its buffer for the next one. The acknowledgements are already
    /// handed to the task.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ShareRecord>, ShareError> {
        self.run_callback();
        let blocking = self.delivered.values().filter(|d| !d.renewed).count();
        match self.mode {
            AcknowledgementMode::Explicit if blocking > 0 => {
                return Err(ShareError::UnacknowledgedRecords { count: blocking });
            }
            AcknowledgementMode::Implicit => self.accept_all(),
            AcknowledgementMode::Explicit => {}
        }
        if !self.renewed.is_empty() {
            // Renewed records come back first, within max.poll.records;
            // the acks made so far go out on their own meanwhile.
            let acks = std::mem::take(&mut self.acks);
            if !acks.is_empty() {
                self.send(Command::Commit { acks, wait: None })?;
            }
            let n = self.max_poll_records.min(self.renewed.len());
            let records: Vec<ShareRecord> = self.renewed.drain(..n).collect();
            self.mark_delivered(&records);
            return Ok(records);
        }
        let (reply, rx) = oneshot::channel();
        let acks = std::mem::take(&mut self.acks);
        self.send(Command::Poll {
            acks,
            max: self.max_poll_records,
            timeout,
            reply,
        })?;
        let answer = rx.await.map_err(|_| ShareError::Closed)?;
        if answer.lock_timeout.is_some() {
            self.lock_timeout = answer.lock_timeout;
        }
        let records = answer.records?;
        self.mark_delivered(&records);
        self.run_callback();
        Ok(records)
    }

    fn mark_delivered(&mut self, records: &[ShareRecord]) {
        for r in records {
            self.delivered.insert(
                (r.topic_id, r.partition, r.offset),
                Delivered {
                    node: r.node,
                    topic: r.topic.clone(),
                    renewed: false,
                },
            );
        }
    }

    /// Settles one delivered record (explicit mode). A later acknowledgement
    /// of the same record replaces an earlier unsent one. RENEW extends the
    /// record's lock (KIP-1222): once the broker confirms, a later poll
    /// returns the record again, still awaiting its final
    /// Accept/Release/Reject (which may also be given before that).
    ///
    /// # Errors
    /// [`ShareError::ImplicitMode`], [`ShareError::RenewNeedsExplicitMode`],
    /// [`ShareError::NotDelivered`].
    pub fn acknowledge(
        &mut self,
        record: &ShareRecord,
        kind: AcknowledgeType,
    ) -> Result<(), ShareError> {
        if self.mode == AcknowledgementMode::Implicit {
            return Err(if kind == AcknowledgeType::Renew {
                ShareError::RenewNeedsExplicitMode
            } else {
                ShareError::ImplicitMode
            });
        }
        let key = (record.topic_id, record.partition, record.offset);
        let Some(d) = self.delivered.get_mut(&key) else {
            return Err(ShareError::NotDelivered {
                partition: TopicPartition {
                    topic: record.topic.to_string(),
                    partition: record.partition,
                },
                offset: record.offset,
            });
        };
        let ack = Ack {
            node: d.node,
            topic_id: record.topic_id,
            topic: d.topic.clone(),
            partition: record.partition,
            offset: record.offset,
            code: kind.code(),
        };
        let rkey = (record.topic.clone(), record.partition, record.offset);
        if kind == AcknowledgeType::Renew {
            d.renewed = true;
            self.renewing.insert(rkey, record.clone());
        } else {
            self.delivered.remove(&key);
            // Settled: a pending or finished renew no longer returns it.
            self.renewing.remove(&rkey);
            self.renewed
                .retain(|r| (r.topic_id, r.partition, r.offset) != key);
        }
        self.acks.push(ack);
        Ok(())
    }

    /// Sends the acknowledgements made so far (in implicit mode, first
    /// accepting the last poll's records) and waits up to `timeout` for
    /// their outcomes, per partition. Failed acknowledgements are retried
    /// until `timeout` when the error allows it.
    ///
    /// # Errors
    /// [`ShareError::Closed`].
    ///
    /// # Cancel safety
    /// Cancel safe: the acknowledgements are handed to the task first and
    /// are sent whether or not the result is awaited.
    pub async fn commit_sync(&mut self, timeout: Duration) -> Result<CommitResult, ShareError> {
        if self.mode == AcknowledgementMode::Implicit {
            self.accept_all();
        }
        let (reply, rx) = oneshot::channel();
        let acks = std::mem::take(&mut self.acks);
        self.send(Command::Commit {
            acks,
            wait: Some((timeout, reply)),
        })?;
        let (result, lock_timeout) = rx.await.map_err(|_| ShareError::Closed)?;
        if lock_timeout.is_some() {
            self.lock_timeout = lock_timeout;
        }
        self.run_callback();
        Ok(result)
    }

    /// Sends the acknowledgements made so far without waiting; outcomes
    /// reach the callback (retries are bounded by `default.api.timeout.ms`).
    ///
    /// # Errors
    /// [`ShareError::Closed`].
    pub fn commit_async(&mut self) -> Result<(), ShareError> {
        if self.mode == AcknowledgementMode::Implicit {
            self.accept_all();
        }
        let acks = std::mem::take(&mut self.acks);
        self.send(Command::Commit { acks, wait: None })?;
        self.run_callback();
        Ok(())
    }

    /// The record acquisition lock timeout the brokers last reported
    /// (`AcquisitionLockTimeoutMs`), if any: how long a delivered record
    /// stays locked to this member.
    pub fn acquisition_lock_timeout(&self) -> Option<Duration> {
        self.lock_timeout
    }

    /// Closes the consumer within `timeout`: sends the acknowledgements made
    /// so far in a ShareAcknowledge at epoch -1 to every broker holding a
    /// session (which releases everything else this member holds there),
    /// then leaves the group. Implicit mode does not accept the last poll's
    /// records on close: they are released.
    ///
    /// # Cancel safety
    /// Not cancel safe: a cancelled close stops the task mid-way (the
    /// brokers still release the locks when the connections close).
    pub async fn close(mut self, timeout: Duration) {
        let (reply, rx) = oneshot::channel();
        let acks = std::mem::take(&mut self.acks);
        if self
            .send(Command::Close {
                acks,
                timeout,
                reply,
            })
            .is_ok()
        {
            let _ = tokio::time::timeout(timeout + Duration::from_millis(100), rx).await;
        }
        self.run_callback();
    }

    fn accept_all(&mut self) {
        for ((topic_id, partition, offset), d) in self.delivered.drain() {
            self.acks.push(Ack {
                node: d.node,
                topic_id,
                topic: d.topic,
                partition,
                offset,
                code: AcknowledgeType::Accept.code(),
            });
        }
    }

    fn send(&self, cmd: Command) -> Result<(), ShareError> {
        self.commands.send(cmd).map_err(|_| ShareError::Closed)
    }

    fn run_callback(&mut self) {
        while let Ok(outcome) = self.outcomes.try_recv() {
            if !self.renewing.is_empty() {
                let topic: Arc<str> = Arc::from(outcome.partition.topic.as_str());
                for &o in &outcome.offsets {
                    let k = (topic.clone(), outcome.partition.partition, o);
                    if let Some(r) = self.renewing.remove(&k) {
                        // A failed renew does not return the record.
                        if outcome.error.is_none() {
                            self.renewed.push(r);
                        }
                    }
                }
            }
            if let Some(cb) = &mut self.callback {
                cb(&outcome);
            }
        }
    }
}
