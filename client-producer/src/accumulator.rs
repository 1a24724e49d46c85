//! Per-partition queues of batches: where records wait to be sent.
//!
//! Plain state, owned by the sender task and changed only by it; no I/O, so
//! the batching rules are tested without a broker. A partition's queue
//! holds closed batches in order and at most one open batch at its back;
//! batches that must be retried go back to the front, ordered by sequence
//! number, so an idempotent producer resends them in their original order.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rkafka_protocol::records::{
    Compression, DecodeOptions, Header, NewRecord, RecordBatch, RecordBatchBuilder, RecordsError,
};
use tokio::time::Instant;

use crate::delivery::{Completion, Outcome, Reply};
use crate::error::ProducerError;
use crate::record::ProducerRecord;

/// A batch for one partition: being filled, or encoded and (re)sendable.
#[derive(Debug)]
pub(crate) struct Batch {
    /// The builder while the batch is open or waiting for its first send.
    pub(crate) builder: Option<RecordBatchBuilder>,
    /// The encoded batch once it was sent (kept for retries).
    pub(crate) encoded: Option<Bytes>,
    /// Its records' deliveries, completed together.
    pub(crate) deliveries: Completion,
    pub(crate) created: Instant,
    /// `buffer.memory` charged for its records, given back on completion.
    pub(crate) memory: usize,
    /// Set when the batch was first drained by an idempotent producer.
    pub(crate) base_sequence: Option<i32>,
    pub(crate) attempts: u32,
    pub(crate) retry_at: Option<Instant>,
    /// No more records go in (full, or a later batch was opened).
    pub(crate) closed: bool,
}

impl Batch {
    fn new(now: Instant, s: BatchSettings, deliveries: Completion) -> Self {
        let (batch_size, compression, level) = (s.batch_size, s.compression, s.level);
        Self {
            builder: Some(
                RecordBatchBuilder::with_capacity(batch_size)
                    .compression(compression)
                    .compression_level(level),
            ),
            encoded: None,
            deliveries,
            created: now,
            memory: 0,
            base_sequence: None,
            attempts: 0,
            retry_at: None,
            closed: false,
        }
    }

    /// Number of records.
    pub(crate) fn count(&self) -> usize {
        self.deliveries.len()
    }

    /// Encodes the batch for its first send, stamping the producer fields.
    pub(crate) fn encode(
        &mut self,
        producer: Option<(i64, i16, i32)>,
        transactional: bool,
    ) -> Result<Bytes, RecordsError> {
        if let Some(b) = &self.encoded {
            return Ok(b.clone());
        }
        // Once encoded it takes no more records, wherever it sits in the
        // queue (a retried batch may be requeued at the back).
        self.closed = true;
        let mut builder = self.builder.take().unwrap_or_default();
        if let Some((id, epoch, seq)) = producer {
            builder = builder.producer(id, epoch, seq);
        }
        let bytes = builder.transactional(transactional).finish()?;
        self.encoded = Some(bytes.clone());
        Ok(bytes)
    }

    /// Splits a sent batch the broker refused as too large into two halves
    /// (Java's `splitAndReenqueue`), re-encoding its records; each half
    /// keeps its records' delivery slots and age. `Err` gives the batch
    /// back when it cannot be split (one record, or not encoded yet).
    pub(crate) fn split(self, s: BatchSettings) -> Result<(Batch, Batch), Box<Batch>> {
        let Some(encoded) = self.encoded.clone() else {
            return Err(Box::new(self));
        };
        if self.count() < 2 {
            return Err(Box::new(self));
        }
        let Ok(decoded) = RecordBatch::decode(&mut encoded.clone(), &DecodeOptions::default())
        else {
            return Err(Box::new(self));
        };
        if decoded.len() != self.count() {
            return Err(Box::new(self));
        }
        let mid = self.count() / 2;
        // Placeholders: the real completions come from splitting this
        // batch's, once re-encoding cannot fail any more.
        let placeholder = || Completion::new(Arc::from(""), -1);
        let mut halves = [
            Batch::new(self.created, s, placeholder()),
            Batch::new(self.created, s, placeholder()),
        ];
        for (i, r) in decoded.records().enumerate() {
            let headers: Vec<Header> = r
                .headers()
                .map(|h| Header::new(h.key().to_vec(), h.value().map(<[u8]>::to_vec)))
                .collect();
            let new = NewRecord {
                timestamp: r.timestamp(),
                key: r.key(),
                value: r.value(),
                headers: &headers,
            };
            let half = &mut halves[usize::from(i >= mid)];
            let Some(builder) = half.builder.as_mut() else {
                return Err(Box::new(self));
            };
            if builder.push(&new).is_err() {
                return Err(Box::new(self));
            }
        }
        let [mut first, mut second] = halves;
        (first.deliveries, second.deliveries) = self.deliveries.split(mid);
        first.memory = self.memory / 2;
        second.memory = self.memory - first.memory;
        for h in [&mut first, &mut second] {
            h.closed = true;
            h.attempts = self.attempts;
        }
        Ok((first, second))
    }

    /// Fails every record of the batch with `err`.
    pub(crate) fn fail(self, err: &ProducerError) {
        self.deliveries.complete(Outcome::Failed(err.clone()));
    }
}

/// The batches of one partition and its idempotence bookkeeping.
#[derive(Debug, Default)]
pub(crate) struct PartitionQueue {
    pub(crate) batches: VecDeque<Batch>,
    /// Batches of this partition in flight.
    pub(crate) in_flight: usize,
    /// A batch of this partition came back unwritten (refused, or its
    /// request failed) and the partition has not caught up since: batches
    /// go one at a time until one sent in this state is acknowledged with
    /// no resent batch left waiting (see [`Self::may_send_front`]).
    pub(crate) recovering: bool,
    /// The batch in flight was sent while `recovering`.
    probe_in_flight: bool,
    /// The sequence the next new batch gets.
    pub(crate) next_sequence: i32,
    /// The sequence the broker expects next: one past the last acknowledged.
    pub(crate) acked_sequence: i32,
    /// Added to the current transaction (AddPartitionsToTxn answered).
    pub(crate) in_txn: bool,
    /// An AddPartitionsToTxn for it is under way.
    pub(crate) adding: bool,
}

/// The batching settings the accumulator needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchSettings {
    pub(crate) batch_size: usize,
    pub(crate) compression: Compression,
    pub(crate) level: Option<i32>,
}

impl PartitionQueue {
    /// Appends a record to the open batch, opening a new one when it would
    /// pass `batch.size`. A record too large for the format fails alone.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append(
        &mut self,
        record: &ProducerRecord,
        partition: i32,
        timestamp: i64,
        reply: Reply,
        memory: usize,
        now: Instant,
        s: BatchSettings,
    ) -> Result<(), (Reply, ProducerError)> {
        let new = NewRecord {
            timestamp,
            key: record.key.as_deref(),
            value: record.value.as_deref(),
            headers: &record.headers,
        };
        let needs_new = match self.batches.back() {
            Some(Batch {
                closed: false,
                builder: Some(builder),
                ..
            }) => match builder.size_of(&new) {
                Ok(size) => !builder.is_empty() && builder.encoded_size() + size > s.batch_size,
                Err(_) => true,
            },
            _ => true,
        };
        if needs_new {
            if let Some(b) = self.batches.back_mut() {
                b.closed = true;
            }
            let deliveries = Completion::new(record.topic.clone(), partition);
            self.batches.push_back(Batch::new(now, s, deliveries));
        }
        let batch = self.batches.back_mut().expect("just ensured");
        let builder = batch
            .builder
            .as_mut()
            .expect("an open batch has its builder");
        if let Err(e) = builder.push(&new) {
            let size = record.estimated_size();
            let empty = builder.is_empty();
            if empty {
                self.batches.pop_back();
            }
            let _ = e;
            return Err((
                reply,
                ProducerError::RecordTooLarge {
                    size,
                    max: i32::MAX as usize,
                },
            ));
        }
        batch.deliveries.join(reply, timestamp);
        batch.memory += memory;
        if builder.encoded_size() >= s.batch_size {
            batch.closed = true;
        }
        Ok(())
    }

    /// Puts a batch that must be sent again back in the queue: ahead of
    /// every batch not yet sent, after retried batches with lower
    /// sequences (Java's `reenqueue`).
    pub(crate) fn requeue(&mut self, batch: Batch) {
        let pos = match batch.base_sequence {
            Some(seq) => self
                .batches
                .iter()
                .position(|b| b.base_sequence.is_none_or(|s| s > seq))
                .unwrap_or(self.batches.len()),
            None => self
                .batches
                .iter()
                .position(|b| b.encoded.is_none())
                .unwrap_or(self.batches.len()),
        };
        self.batches.insert(pos, batch);
    }

    /// Whether an idempotent producer may send the front batch now, as far
    /// as sequence order goes, with at most `max_in_flight` batches of the
    /// partition in flight.
    ///
    /// Batches pipeline only while the partition is in step. A resent batch
    /// (it has a sequence already), and any batch while `recovering`, goes
    /// only when nothing of the partition is in flight, and nothing follows
    /// it until it is answered: a batch pipelined behind one that fails
    /// again is written before it by a broker that does not check
    /// sequences, and is refused (and must be resent) by one that does.
    pub(crate) fn may_send_front(&self, max_in_flight: usize) -> bool {
        let Some(front) = self.batches.front() else {
            return false;
        };
        if self.recovering || front.base_sequence.is_some() {
            self.in_flight == 0
        } else {
            self.in_flight < max_in_flight
        }
    }

    /// The front batch was taken and sent.
    pub(crate) fn sent(&mut self) {
        self.probe_in_flight = self.recovering;
        self.in_flight += 1;
    }

    /// A batch's answer came: `acked` when it was written (or was a
    /// duplicate of a written batch), else it is being resent, split or
    /// failed. Call before putting the batch back in the queue.
    pub(crate) fn answered(&mut self, acked: bool) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let probe = std::mem::take(&mut self.probe_in_flight);
        if !acked {
            self.recovering = true;
        } else if probe
            && self
                .batches
                .front()
                .is_none_or(|b| b.base_sequence.is_none())
        {
            // The batch sent alone got through and no resent batch waits:
            // the broker's next expected sequence is the next new batch's.
            self.recovering = false;
        }
    }

    /// Whether the front batch may be sent at `now` (ignoring routing).
    pub(crate) fn front_ready(&self, now: Instant, linger: Duration, flushing: bool) -> bool {
        match self.batches.front() {
            None => false,
            Some(b) => {
                b.closed
                    || b.encoded.is_some()
                    || flushing
                    || self.batches.len() > 1
                    || now >= b.created + linger
            }
        }
    }
}

/// Java's `DefaultRecordBatch.incrementSequence`: sequences wrap to 0 after
/// `i32::MAX`.
pub(crate) fn increment_sequence(seq: i32, by: i32) -> i32 {
    if seq > i32::MAX - by {
        by - (i32::MAX - seq) - 1
    } else {
        seq + by
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(batch_size: usize) -> BatchSettings {
        BatchSettings {
            batch_size,
            compression: Compression::None,
            level: None,
        }
    }

    fn add(q: &mut PartitionQueue, value: &[u8], s: BatchSettings) {
        let (tx, _rx) = crate::delivery::pair();
        let r = ProducerRecord::new("t", value.to_vec());
        q.append(&r, 0, 1, tx, 10, Instant::now(), s).unwrap();
    }

    #[tokio::test]
    async fn batches_close_at_batch_size() {
        let mut q = PartitionQueue::default();
        for _ in 0..30 {
            add(&mut q, &[0u8; 100], settings(1000));
        }
        assert!(q.batches.len() >= 3);
        for b in q.batches.iter().take(q.batches.len() - 1) {
            assert!(b.closed);
            assert!(b.builder.as_ref().unwrap().encoded_size() <= 1000);
        }
        assert_eq!(q.batches.iter().map(Batch::count).sum::<usize>(), 30);
    }

    #[tokio::test]
    async fn a_record_over_batch_size_gets_its_own_batch() {
        let mut q = PartitionQueue::default();
        add(&mut q, &[0u8; 10], settings(100));
        add(&mut q, &[0u8; 500], settings(100));
        add(&mut q, &[0u8; 10], settings(100));
        assert_eq!(q.batches.len(), 3);
        assert_eq!(q.batches[1].count(), 1);
    }

    #[tokio::test]
    async fn linger_and_flush_decide_readiness() {
        let mut q = PartitionQueue::default();
        add(&mut q, b"x", settings(1000));
        let now = Instant::now();
        let linger = Duration::from_secs(60);
        assert!(!q.front_ready(now, linger, false));
        assert!(q.front_ready(now, linger, true));
        assert!(q.front_ready(now + linger, linger, false));
    }

    #[tokio::test]
    async fn requeued_batches_go_first_in_sequence_order() {
        let mut q = PartitionQueue::default();
        add(&mut q, b"new", settings(1000));
        let mk = |seq| {
            let mut b = Batch::new(Instant::now(), settings(10), Completion::new("t".into(), 0));
            b.base_sequence = Some(seq);
            b.encoded = Some(Bytes::new());
            b
        };
        q.requeue(mk(10));
        q.requeue(mk(5));
        q.requeue(mk(20));
        let seqs: Vec<_> = q.batches.iter().map(|b| b.base_sequence).collect();
        assert_eq!(seqs, vec![Some(5), Some(10), Some(20), None]);
    }

    /// A partition queue and its batches in flight, driven as the sender
    /// drives them.
    #[derive(Default)]
    struct Partition {
        q: PartitionQueue,
        flight: Vec<Batch>,
    }

    impl Partition {
        /// Sends the front batch (numbering it on its first send) if
        /// `may_send_front` allows; returns its sequence.
        fn send(&mut self) -> Option<i32> {
            if !self.q.may_send_front(5) {
                return None;
            }
            let mut b = self.q.batches.pop_front()?;
            let q = &mut self.q;
            let seq = *b.base_sequence.get_or_insert_with(|| {
                let s = q.next_sequence;
                q.next_sequence = increment_sequence(s, 1);
                s
            });
            b.encoded = Some(Bytes::new());
            q.sent();
            self.flight.push(b);
            Some(seq)
        }

        /// The batch with sequence `seq` is answered: acknowledged, or
        /// unwritten and requeued for a resend.
        fn answer(&mut self, seq: i32, acked: bool) {
            let i = self
                .flight
                .iter()
                .position(|b| b.base_sequence == Some(seq))
                .expect("in flight");
            let b = self.flight.remove(i);
            self.q.answered(acked);
            if !acked {
                self.q.requeue(b);
            }
        }
    }

    #[tokio::test]
    async fn after_a_failure_a_partition_sends_one_batch_at_a_time_until_back_in_step() {
        let mut p = Partition::default();
        for _ in 0..7 {
            let mut b = Batch::new(Instant::now(), settings(10), Completion::new("t".into(), 0));
            b.closed = true;
            p.q.batches.push_back(b);
        }
        // In step: five pipelined, the sixth waits for room.
        let first: Vec<_> = (0..6).map(|_| p.send()).collect();
        assert_eq!(first, [Some(0), Some(1), Some(2), Some(3), Some(4), None]);
        // 0 fails and 1-4 are refused behind it (OUT_OF_ORDER_SEQUENCE_NUMBER).
        // Until all are back nothing goes: 0 must not overtake them.
        p.answer(0, false);
        assert_eq!(p.send(), None);
        for seq in 1..5 {
            p.answer(seq, false);
        }
        // 0 goes alone and nothing follows it while it is in flight, not
        // even a new batch (which a broker without sequence checks would
        // write before 0 if 0 failed again).
        assert_eq!(p.send(), Some(0));
        assert_eq!(p.send(), None);
        p.answer(0, false);
        assert_eq!(p.send(), Some(0));
        assert_eq!(p.send(), None);
        // Acknowledged: the resent batches follow, one at a time, in order.
        p.answer(0, true);
        for seq in 1..5 {
            assert_eq!(p.send(), Some(seq));
            assert_eq!(p.send(), None, "nothing pipelines behind {seq}");
            p.answer(seq, true);
        }
        // Back in step once the last resent batch is through: new batches
        // pipeline again.
        assert!(!p.q.recovering);
        assert_eq!((p.send(), p.send()), (Some(5), Some(6)));
        assert_eq!(p.q.in_flight, 2);
    }

    #[tokio::test]
    async fn a_batch_pipelined_before_the_failure_does_not_end_recovery() {
        let mut p = Partition::default();
        for _ in 0..3 {
            let mut b = Batch::new(Instant::now(), settings(10), Completion::new("t".into(), 0));
            b.closed = true;
            p.q.batches.push_back(b);
        }
        assert_eq!((p.send(), p.send()), (Some(0), Some(1)));
        // 0's request timed out though the broker wrote it, so 1 is
        // acknowledged: 0 is still to be resent (a duplicate) alone.
        p.answer(0, false);
        p.answer(1, true);
        assert!(p.q.recovering);
        assert_eq!((p.send(), p.send()), (Some(0), None));
        p.answer(0, true);
        assert!(!p.q.recovering);
        assert_eq!(p.send(), Some(2));
    }

    #[test]
    fn sequences_wrap_like_java() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
    }
}
