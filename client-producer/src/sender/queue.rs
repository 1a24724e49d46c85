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

    #[test]
    fn sequences_wrap_like_java() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
    }
}
