//! Deciding which batches go out now, and packing them into requests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rkafka_client_core::broker::ConnPurpose;
use rkafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use rkafka_protocol::messages::ProduceRequest;
use tokio::time::Instant;

use super::queue::increment_sequence;
use super::{io, Bump, Event, Sender, Sent};
use crate::error::ProducerError;

/// How far ahead to sleep when nothing is due.
const IDLE: Duration = Duration::from_secs(3600);

/// Per-partition batches in flight an idempotent producer allows (Java's
/// bound: the broker remembers a producer's last five batches per
/// partition); `max.in.flight.requests.per.connection` may lower it.
///
/// Pipelining keeps records in order only because the broker refuses a
/// batch whose predecessor was not written (OUT_OF_ORDER_SEQUENCE_NUMBER,
/// retried by `response::classify`), as Java relies on too. Once a batch of
/// a partition comes back without an acknowledgement, the partition sends
/// one batch at a time, resent batches first and in sequence order, until
/// one sent that way is acknowledged with no resent batch left
/// (`PartitionQueue::may_send_front`): pipelining behind a resent batch only
/// buys refusals if it fails again.
/// librdkafka's mock cluster does not check sequences of non-transactional
/// producers at all (`tests/produce_mock.rs` pins that), so there a batch
/// pipelined behind a failed first attempt is written before it; that, not
/// this producer, is why the idempotent fault test runs with one request in
/// flight and the transactional one checks order with five.
const MAX_IDEMPOTENT_IN_FLIGHT: usize = 5;

impl Sender {
    /// Expires, routes and sends what is ready; returns when to look again.
    pub(super) fn drain(&mut self, now: Instant) -> Instant {
        let mut wake = now + IDLE;
        if let Some(d) = self.close_deadline {
            if now >= d {
                self.abort_all(&ProducerError::Closed);
            } else {
                wake = wake.min(d);
            }
        }
        self.expire(now, &mut wake);
        if self.bump == Bump::Wanted && self.produce_in_flight == 0 {
            self.start_bump();
        }
        let blocked = self.bump != Bump::No || (self.idempotent && self.producer.is_none());
        if !blocked {
            while self.drain_round(now, &mut wake) {}
        }
        self.availability.publish();
        if let Some(at) = self.availability.wake_at(now) {
            wake = wake.min(at);
        }
        wake
    }

    /// Fails batches waiting longer than `delivery.timeout.ms`.
    fn expire(&mut self, now: Instant, wake: &mut Instant) {
        let limit = self.cfg.delivery_timeout;
        let mut expired = Vec::new();
        for t in self.topics.values_mut() {
            for q in &mut t.queues {
                // Batches are in age order, retried ones (oldest) in front.
                while let Some(b) = q.batches.front() {
                    if now < b.created + limit {
                        *wake = (*wake).min(b.created + limit);
                        break;
                    }
                    expired.extend(q.batches.pop_front());
                }
            }
        }
        let err = ProducerError::DeliveryTimeout { after: limit };
        for b in expired {
            if b.base_sequence.is_some() && self.txn.is_none() {
                // The broker saw (or may have seen) this sequence: later
                // batches would be out of order. Start over with a new epoch.
                self.bump = Bump::Wanted;
            }
            if let Some(t) = &mut self.txn {
                t.sequence_gap |= b.base_sequence.is_some();
                t.abortable(err.clone());
            }
            self.fail_batch(b, &err);
        }
    }

    fn abort_all(&mut self, err: &ProducerError) {
        let mut all = Vec::new();
        for t in self.topics.values_mut() {
            for q in &mut t.queues {
                all.extend(q.batches.drain(..));
            }
        }
        for b in all {
            self.fail_batch(b, err);
        }
    }

    /// One pass over the partitions: at most one batch per partition and
    /// one request per broker. Returns whether anything was sent.
    fn drain_round(&mut self, now: Instant, wake: &mut Instant) -> bool {
        let max_in_flight = self.cfg.max_in_flight_requests_per_connection;
        let partition_max = max_in_flight.min(MAX_IDEMPOTENT_IN_FLIGHT);
        let max_request = self.cfg.max_request_size;
        let transactional = self.txn.is_some();
        let implicit_add = self.txn.as_ref().is_some_and(|t| t.tv2);
        let mut implicitly_added = false;
        let mut requests: HashMap<i32, (usize, Vec<Sent>)> = HashMap::new();
        let mut need_refresh = false;
        let mut to_add: Vec<(String, i32)> = Vec::new();
        let metadata = Arc::clone(&self.metadata);
        let view = self.client.view();
        // Until a broker's connection is up, one request at a time: requests
        // waiting for the same connect could otherwise be written in either
        // order, and an idempotent producer's sequences must arrive in order.
        let limit = |id: i32| {
            let connected = view
                .connections
                .get(&id)
                .is_some_and(|c| c.get(ConnPurpose::Produce).is_connected());
            if connected {
                max_in_flight
            } else {
                1
            }
        };
        for (name, t) in self.topics.iter_mut() {
            let meta = metadata.topic(name);
            for (p, q) in t.queues.iter_mut().enumerate() {
                // Batches arrive complete (linger is the accumulator's).
                let Some(front) = q.batches.front() else {
                    continue;
                };
                if let Some(at) = front.retry_at.filter(|at| *at > now) {
                    *wake = (*wake).min(at);
                    continue;
                }
                let leader = meta
                    .and_then(|m| m.partitions.get(&(p as i32)))
                    .and_then(|pm| pm.leader)
                    .filter(|id| metadata.brokers.contains_key(id));
                if let Some(leader) = leader {
                    // Ready whether or not the limits below let it go now.
                    self.availability.ready(leader, now);
                }
                if self.idempotent && !q.may_send_front(partition_max) {
                    continue;
                }
                if transactional && !q.in_txn {
                    if implicit_add {
                        // Transactions v2: the Produce itself adds it.
                        q.in_txn = true;
                        implicitly_added = true;
                    } else {
                        if !q.adding {
                            to_add.push((name.to_string(), p as i32));
                        }
                        continue;
                    }
                }
                let Some(leader) = leader else {
                    need_refresh = true;
                    continue;
                };
                let in_flight = self.broker_in_flight.get(&leader).copied().unwrap_or(0);
                if in_flight >= limit(leader) {
                    continue;
                }
                let entry = requests.entry(leader).or_insert((0, Vec::new()));
                let size = front
                    .encoded
                    .as_ref()
                    .map(|e| e.len())
                    .or_else(|| front.builder.as_ref().map(|b| b.encoded_size()))
                    .unwrap_or(0);
                if !entry.1.is_empty() && entry.0 + size > max_request {
                    continue;
                }
                let mut batch = q.batches.pop_front().expect("checked");
                batch.waiting.leave();
                let stamp = match self.producer {
                    Some((id, epoch)) if self.idempotent => {
                        let count = batch.count() as i32;
                        let seq = *batch.base_sequence.get_or_insert_with(|| {
                            let s = q.next_sequence;
                            q.next_sequence = increment_sequence(s, count);
                            s
                        });
                        Some((id, epoch, seq))
                    }
                    _ => None,
                };
                if let Err(e) = batch.encode(stamp, transactional) {
                    // Cannot happen for records the builder accepted; fail
                    // the batch rather than the producer.
                    let err = ProducerError::Config(format!("batch encoding failed: {e}"));
                    self.outstanding -= batch.count();
                    self.memory.add_permits(batch.memory);
                    batch.fail(&err);
                    continue;
                }
                q.sent();
                entry.0 += size;
                entry.1.push(Sent {
                    topic: name.clone(),
                    partition: p as i32,
                    batch,
                });
            }
        }
        if implicitly_added {
            if let Some(t) = &mut self.txn {
                t.started = true;
            }
        }
        if need_refresh {
            self.refresh();
        }
        if !to_add.is_empty() {
            self.add_partitions(to_add, now, wake);
        }
        let sent = !requests.is_empty();
        for (broker, (_, batches)) in requests {
            self.availability.drained(broker, now);
            self.send_request(broker, batches, &metadata);
        }
        sent
    }

    fn send_request(
        &mut self,
        broker: i32,
        batches: Vec<Sent>,
        metadata: &rkafka_client_core::metadata::ClusterMetadata,
    ) {
        let mut topics: Vec<TopicProduceData> = Vec::new();
        for s in &batches {
            let data = PartitionProduceData::default()
                .with_index(s.partition)
                .with_records(s.batch.encoded.clone());
            match topics.iter_mut().find(|t| *t.name == *s.topic) {
                Some(t) => t.partition_data.push(data),
                None => {
                    let id = metadata.topic(&s.topic).map(|t| t.id).unwrap_or_default();
                    topics.push(
                        TopicProduceData::default()
                            .with_name(s.topic.to_string())
                            .with_topic_id(id)
                            .with_partition_data(vec![data]),
                    );
                }
            }
        }
        let req = ProduceRequest::default()
            .with_transactional_id(self.txn.as_ref().map(|t| t.id.clone()))
            .with_acks(self.cfg.acks.wire())
            .with_timeout_ms(self.cfg.request_timeout.as_millis().min(i32::MAX as u128) as i32)
            .with_topic_data(topics);
        *self.broker_in_flight.entry(broker).or_insert(0) += 1;
        self.produce_in_flight += 1;
        let client = self.client.clone();
        let deadline = Instant::now() + self.cfg.request_timeout;
        let max_version = crate::txn::produce_max_version(self.txn.as_ref().is_some_and(|t| t.tv2));
        self.futures.push(Box::pin(async move {
            let result = io::produce(client, broker, req, max_version, deadline).await;
            Event::Produced {
                broker,
                batches,
                result,
            }
        }));
    }

    fn start_bump(&mut self) {
        self.bump = Bump::InProgress;
        let client = self.client.clone();
        // Bump the epoch of the current id first (KIP-360); when the broker
        // refuses (too old, or a mock without bumps for idempotent
        // producers) ask for a fresh id instead, as the Java client falls
        // back to, after a backoff.
        let (current, delay) = match self.bump_failures {
            0 => (self.producer, Duration::ZERO),
            n => (None, self.backoff(n)),
        };
        let timeout = self
            .cfg
            .transaction_timeout
            .as_millis()
            .min(i32::MAX as u128) as i32;
        self.futures.push(Box::pin(async move {
            tokio::time::sleep(delay).await;
            Event::Bumped(io::init_producer_id(&client, None, timeout, current).await)
        }));
    }

    fn add_partitions(&mut self, partitions: Vec<(String, i32)>, now: Instant, wake: &mut Instant) {
        if self.adding {
            return;
        }
        if let Some(at) = self.add_retry_at.filter(|at| *at > now) {
            *wake = (*wake).min(at);
            return;
        }
        let (Some(txn), Some(producer)) = (&self.txn, self.producer) else {
            return;
        };
        for (t, p) in &partitions {
            if let Some(q) = self
                .topics
                .get_mut(t.as_str())
                .and_then(|ts| ts.queues.get_mut(*p as usize))
            {
                q.adding = true;
            }
        }
        self.adding = true;
        let client = self.client.clone();
        let id = txn.id.clone();
        self.futures.push(Box::pin(async move {
            Event::PartitionsAdded(io::add_partitions(client, id, producer, partitions).await)
        }));
    }
}
