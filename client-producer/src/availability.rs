//! `partitioner.availability.timeout.ms`: leaders that stopped taking
//! requests, left out of the partition choice for records without a key.
//!
//! Java's built-in partitioner skips a partition whose leader has had
//! batches ready to send for longer than the timeout while the producer
//! could send it none (every request allowed in flight is unanswered, or the
//! broker cannot be reached). The sender task notes, per broker, when it
//! last had a batch ready for it and when it last sent it a request, and
//! publishes the brokers past the timeout; the handles read that set when
//! they pick a new partition. Zero (Java's default) turns it off, and then
//! nothing is tracked.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// The brokers currently left out, sorted.
pub(crate) type Unavailable = watch::Receiver<Arc<[i32]>>;

/// The sender task's side: when each broker last had a batch ready and
/// last got a request.
#[derive(Debug)]
pub(crate) struct Availability {
    timeout: Duration,
    brokers: HashMap<i32, Seen>,
    tx: watch::Sender<Arc<[i32]>>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    ready: Instant,
    drained: Instant,
}

impl Seen {
    /// Whether a batch has waited for the broker since its last request.
    fn waiting(&self) -> bool {
        self.ready > self.drained
    }
}

impl Availability {
    /// Tracking for `timeout` (zero: off), and the handles' view of it.
    pub(crate) fn new(timeout: Duration) -> (Self, Unavailable) {
        let (tx, rx) = watch::channel(Arc::from([]));
        let this = Self {
            timeout,
            brokers: HashMap::new(),
            tx,
        };
        (this, rx)
    }

    /// `broker` leads a partition whose next batch could go now.
    pub(crate) fn ready(&mut self, broker: i32, now: Instant) {
        if !self.timeout.is_zero() {
            // A broker seen for the first time counts from now.
            self.brokers
                .entry(broker)
                .or_insert(Seen {
                    ready: now,
                    drained: now,
                })
                .ready = now;
        }
    }

    /// A request went to `broker`.
    pub(crate) fn drained(&mut self, broker: i32, now: Instant) {
        if let Some(seen) = self.brokers.get_mut(&broker) {
            seen.drained = now;
        }
    }

    /// Whether `seen` is past the timeout: a batch ready that long after
    /// the broker's last request.
    fn stalled(&self, seen: &Seen) -> bool {
        seen.ready.saturating_duration_since(seen.drained) > self.timeout
    }

    /// When a broker with a batch waiting since its last request would
    /// pass the timeout, if it still waits then: the sender task looks
    /// again at that moment, so the handles learn of it without waiting for
    /// the next batch.
    pub(crate) fn wake_at(&self, now: Instant) -> Option<Instant> {
        self.brokers
            .values()
            .filter(|seen| seen.waiting())
            .map(|seen| seen.drained + self.timeout + Duration::from_millis(1))
            .filter(|at| *at > now)
            .min()
    }

    /// Publishes the brokers past the timeout, when that set changed.
    pub(crate) fn publish(&mut self) {
        if self.timeout.is_zero() {
            return;
        }
        let mut out: Vec<i32> = self
            .brokers
            .iter()
            .filter(|(_, seen)| self.stalled(seen))
            .map(|(b, _)| *b)
            .collect();
        out.sort_unstable();
        self.tx.send_if_modified(|current| {
            if **current == *out {
                return false;
            }
            *current = Arc::from(out);
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_broker_ready_without_requests_past_the_timeout_is_left_out_until_drained() {
        let (mut a, rx) = Availability::new(Duration::from_millis(100));
        let t0 = Instant::now();
        a.ready(1, t0);
        a.ready(2, t0);
        a.drained(1, t0);
        a.publish();
        assert!(rx.borrow().is_empty());
        // Broker 1 keeps taking requests; broker 2 none for 150 ms.
        let t1 = t0 + Duration::from_millis(150);
        a.ready(1, t1);
        a.drained(1, t1);
        a.ready(2, t1);
        assert_eq!(
            a.wake_at(t0 + Duration::from_millis(10)),
            Some(t0 + Duration::from_millis(101))
        );
        a.publish();
        assert_eq!(**rx.borrow(), [2]);
        assert_eq!(a.wake_at(t1), None, "already left out");
        // A request to broker 2: back in.
        a.drained(2, t1 + Duration::from_millis(1));
        a.publish();
        assert!(rx.borrow().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn zero_turns_it_off() {
        let (mut a, rx) = Availability::new(Duration::ZERO);
        let t0 = Instant::now();
        a.ready(1, t0);
        a.ready(1, t0 + Duration::from_secs(60));
        a.publish();
        assert!(rx.borrow().is_empty());
        assert!(a.brokers.is_empty());
    }
}
