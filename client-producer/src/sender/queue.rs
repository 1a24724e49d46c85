//! A partition's batches in the sender task: complete batches waiting to be
//! sent or sent again, in order, with the partition's idempotence
//! bookkeeping. Plain state, no I/O, tested without a broker.
//!
//! Batches arrive here complete (the handle's accumulator closes them when
//! full or when `linger.ms` is up), so every batch in the queue may go as
//! soon as routing and the in-flight limits allow. Batches that must be
//! retried go back to the front, ordered by sequence number, so an
//! idempotent producer resends them in their original order.

use std::collections::VecDeque;

use crate::batch::Batch;

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

impl PartitionQueue {
    /// Puts a batch that must be sent again back in the queue: ahead of
    /// every batch not yet sent, after retried batches with lower
    /// sequences (Java's `reenqueue`).
    pub(crate) fn requeue(&mut self, mut batch: Batch) {
        batch.waiting.wait();
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
    use bytes::Bytes;
    use rkafka_protocol::records::Compression;
    use tokio::time::Instant;

    use super::*;
    use crate::batch::BatchSettings;
    use crate::delivery::Completion;

    fn batch(seq: Option<i32>) -> Batch {
        let s = BatchSettings {
            batch_size: 10,
            compression: Compression::None,
            level: None,
        };
        let mut b = Batch::new(Instant::now(), s, Completion::new("t".into(), 0));
        b.base_sequence = seq;
        b.encoded = seq.map(|_| Bytes::new());
        b
    }

    #[tokio::test]
    async fn requeued_batches_go_first_in_sequence_order() {
        let mut q = PartitionQueue::default();
        q.batches.push_back(batch(None));
        q.requeue(batch(Some(10)));
        q.requeue(batch(Some(5)));
        q.requeue(batch(Some(20)));
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
        fn with_batches(n: usize) -> Self {
            let mut p = Self::default();
            for _ in 0..n {
                p.q.batches.push_back(batch(None));
            }
            p
        }

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
        let mut p = Partition::with_batches(7);
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
        let mut p = Partition::with_batches(3);
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
