//! How many batches wait per partition, for the adaptive partition choice
//! of KIP-794.
//!
//! Java's built-in partitioner, when it moves an unkeyed stream to a new
//! partition, favours partitions with short queues: a partition whose leader
//! is slow accumulates batches and gets fewer new records. A batch counts
//! from the moment it opens in the accumulator until the sender task takes
//! it into a request, and again while it waits to be resent. The counts are
//! atomics written by whoever holds the batch (a handle, the sender task)
//! and read by the handles once per partition switch.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Batches waiting in each partition of one topic.
#[derive(Debug)]
pub(crate) struct QueueLoad {
    waiting: Box<[AtomicU32]>,
}

impl QueueLoad {
    pub(crate) fn new(partitions: usize) -> Arc<Self> {
        Arc::new(Self {
            waiting: (0..partitions).map(|_| AtomicU32::new(0)).collect(),
        })
    }

    /// Batches waiting in `partition` (0 for one it does not know).
    pub(crate) fn waiting(&self, partition: usize) -> u32 {
        self.waiting
            .get(partition)
            .map_or(0, |n| n.load(Ordering::Relaxed))
    }

    /// A load for `partitions` partitions starting from this one's counts
    /// (the topic grew).
    pub(crate) fn grown(&self, partitions: usize) -> Arc<Self> {
        Arc::new(Self {
            waiting: (0..partitions)
                .map(|p| AtomicU32::new(self.waiting(p)))
                .collect(),
        })
    }
}

/// One batch's entry in its partition's count: counted while it waits.
#[derive(Debug, Default)]
pub(crate) struct Waiting {
    load: Option<Arc<QueueLoad>>,
    partition: usize,
    counted: bool,
}

impl Waiting {
    /// A batch of `partition` that starts waiting now.
    pub(crate) fn new(load: Arc<QueueLoad>, partition: usize) -> Self {
        let mut w = Self {
            load: Some(load),
            partition,
            counted: false,
        };
        w.wait();
        w
    }

    /// An entry for another batch of the same partition, not counted yet
    /// (for the halves of a split batch, counted when they are queued).
    pub(crate) fn sibling(&self) -> Self {
        Self {
            load: self.load.clone(),
            partition: self.partition,
            counted: false,
        }
    }

    /// The batch waits (again, when it must be resent).
    pub(crate) fn wait(&mut self) {
        if !self.counted {
            self.counted = true;
            self.add(1);
        }
    }

    /// The batch left the queue (it is in a request, or done).
    pub(crate) fn leave(&mut self) {
        if self.counted {
            self.counted = false;
            self.add(u32::MAX); // wrapping -1
        }
    }

    fn add(&self, n: u32) {
        if let Some(n_) = self
            .load
            .as_ref()
            .and_then(|l| l.waiting.get(self.partition))
        {
            n_.fetch_add(n, Ordering::Relaxed);
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_counts_while_it_waits_and_stops_when_sent_or_dropped() {
        let load = QueueLoad::new(2);
        let mut a = Waiting::new(load.clone(), 1);
        let b = Waiting::new(load.clone(), 1);
        assert_eq!((load.waiting(0), load.waiting(1)), (0, 2));
        a.leave();
        a.leave();
        assert_eq!(load.waiting(1), 1);
        a.wait();
        drop(b);
        assert_eq!(load.waiting(1), 1);
        drop(a);
        assert_eq!(load.waiting(1), 0);
        let grown = load.grown(3);
        assert_eq!(grown.waiting(2), 0);
        Waiting::default().leave();
        // A split half's entry counts only once it waits.
        let whole = Waiting::new(grown.clone(), 2);
        let mut half = whole.sibling();
        drop(whole);
        assert_eq!(grown.waiting(2), 0);
        half.wait();
        assert_eq!(grown.waiting(2), 1);
    }
}
