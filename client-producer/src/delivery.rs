//! The future a `send` returns, and how the sender task completes it.
//!
//! Delivery is completed per batch, not per record: a batch owns one
//! [`BatchDone`], filled once with the batch's outcome (base offset and
//! append time, or an error), and each record's [`Ticket`] only says which
//! batch it joined and at what index (offset = base offset + index). A
//! per-record oneshot built and sent a `RecordMetadata` for every record,
//! which was one of the two largest per-record costs. Records that fail
//! before they join a batch (unknown topic, invalid partition, ...) get their
//! error directly in their ticket.
//!
//! Shared state is only what the task writes once (`OnceLock`) and the
//! futures read; no lock is shared between the handle and the task.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

use crate::error::ProducerError;
use crate::record::RecordMetadata;

/// Resolves to where the record was written, or why it was not. Dropping it
/// does not cancel the send.
#[derive(Debug)]
#[must_use = "the record is sent either way; await this to learn the outcome"]
pub struct DeliveryFuture {
    ticket: Arc<Ticket>,
}

/// One record's delivery state, shared by its future and the sender task.
#[derive(Debug, Default)]
pub(crate) struct Ticket {
    place: OnceLock<Place>,
    waker: AtomicWaker,
}

#[derive(Debug)]
enum Place {
    /// Failed before joining a batch.
    Failed(ProducerError),
    /// In `batch` at `index`, with its CreateTime.
    InBatch {
        batch: Arc<BatchDone>,
        index: u32,
        timestamp: i64,
    },
}

/// A batch's outcome, written once for all of its records.
#[derive(Debug)]
pub(crate) struct BatchDone {
    topic: Arc<str>,
    partition: i32,
    outcome: OnceLock<Outcome>,
}

#[derive(Debug)]
pub(crate) enum Outcome {
    /// `base_offset` is -1 with `acks=0`; `append_time` -1 for CreateTime.
    Written {
        base_offset: i64,
        append_time: i64,
    },
    Failed(ProducerError),
    /// The batch was split in two (after MESSAGE_TOO_LARGE): records from
    /// index `mid` on are in the second half, at `index - mid`.
    Split {
        mid: u32,
        halves: [Arc<BatchDone>; 2],
    },
}

/// A new delivery: the task's side and the caller's future.
pub(crate) fn pair() -> (Reply, DeliveryFuture) {
    let ticket = Arc::new(Ticket::default());
    (Reply(Some(ticket.clone())), DeliveryFuture { ticket })
}

/// The task's side of one record not yet in a batch. Dropped without being
/// used (the task went away), it fails the record with
/// [`ProducerError::Closed`], as a dropped oneshot did.
#[derive(Debug)]
pub(crate) struct Reply(Option<Arc<Ticket>>);

impl Reply {
    /// Fails the record alone.
    pub(crate) fn fail(mut self, err: ProducerError) {
        if let Some(t) = self.0.take() {
            let _ = t.place.set(Place::Failed(err));
            t.waker.wake();
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            let _ = t.place.set(Place::Failed(ProducerError::Closed));
            t.waker.wake();
        }
    }
}

/// The task's side of a batch's deliveries. Dropped without an outcome (the
/// task went away), its records fail with [`ProducerError::Closed`].
#[derive(Debug)]
pub(crate) struct Completion {
    done: Arc<BatchDone>,
    /// Kept only to wake the futures that wait; one atomic each.
    tickets: Vec<Arc<Ticket>>,
}

impl Completion {
    pub(crate) fn new(topic: Arc<str>, partition: i32) -> Self {
        Self {
            done: Arc::new(BatchDone {
                topic,
                partition,
                outcome: OnceLock::new(),
            }),
            tickets: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.tickets.len()
    }

    /// Adds a record at the next index.
    pub(crate) fn join(&mut self, mut reply: Reply, timestamp: i64) {
        let Some(ticket) = reply.0.take() else { return };
        let index = u32::try_from(self.tickets.len()).unwrap_or(u32::MAX);
        let _ = ticket.place.set(Place::InBatch {
            batch: self.done.clone(),
            index,
            timestamp,
        });
        self.tickets.push(ticket);
    }

    /// Completes every record of the batch at once.
    pub(crate) fn complete(self, outcome: Outcome) {
        let _ = self.done.outcome.set(outcome);
        // Drop wakes the waiting futures.
    }

    /// Splits the records at `mid` into two new batches' completions.
    pub(crate) fn split(mut self, mid: usize) -> (Completion, Completion) {
        let mut first = Completion::new(self.done.topic.clone(), self.done.partition);
        let mut second = Completion::new(self.done.topic.clone(), self.done.partition);
        second.tickets = self.tickets.split_off(mid);
        first.tickets = std::mem::take(&mut self.tickets);
        let _ = self.done.outcome.set(Outcome::Split {
            mid: u32::try_from(mid).unwrap_or(u32::MAX),
            halves: [first.done.clone(), second.done.clone()],
        });
        (first, second)
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if self.done.outcome.get().is_none() {
            let _ = self
                .done
                .outcome
                .set(Outcome::Failed(ProducerError::Closed));
        }
        for t in &self.tickets {
            t.waker.wake();
        }
    }
}

impl DeliveryFuture {
    fn check(&self) -> Poll<Result<RecordMetadata, ProducerError>> {
        let (mut batch, mut index, timestamp) = match self.ticket.place.get() {
            None => return Poll::Pending,
            Some(Place::Failed(e)) => return Poll::Ready(Err(e.clone())),
            Some(Place::InBatch {
                batch,
                index,
                timestamp,
            }) => (batch, *index, *timestamp),
        };
        loop {
            match batch.outcome.get() {
                None => return Poll::Pending,
                Some(Outcome::Failed(e)) => return Poll::Ready(Err(e.clone())),
                Some(Outcome::Written {
                    base_offset,
                    append_time,
                }) => {
                    return Poll::Ready(Ok(RecordMetadata {
                        topic: batch.topic.clone(),
                        partition: batch.partition,
                        offset: if *base_offset >= 0 {
                            base_offset + i64::from(index)
                        } else {
                            -1
                        },
                        timestamp: if *append_time >= 0 {
                            *append_time
                        } else {
                            timestamp
                        },
                    }))
                }
                Some(Outcome::Split { mid, halves }) => {
                    if index < *mid {
                        batch = &halves[0];
                    } else {
                        index -= mid;
                        batch = &halves[1];
                    }
                }
            }
        }
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata, ProducerError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(r) = self.check() {
            return Poll::Ready(r);
        }
        // Registered before the second look, so a completion in between
        // is not missed (the task writes, then wakes).
        self.ticket.waker.register(cx.waker());
        self.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize, t0: i64) -> (Completion, Vec<DeliveryFuture>) {
        let mut c = Completion::new("t".into(), 3);
        let futures = (0..n)
            .map(|i| {
                let (reply, f) = pair();
                c.join(reply, t0 + i as i64);
                f
            })
            .collect();
        (c, futures)
    }

    #[tokio::test]
    async fn records_resolve_from_the_batch_outcome_and_their_index() {
        let (c, futures) = batch(3, 100);
        c.complete(Outcome::Written {
            base_offset: 40,
            append_time: -1,
        });
        for (i, f) in futures.into_iter().enumerate() {
            let m = f.await.unwrap();
            assert_eq!(
                (m.partition, m.offset, m.timestamp),
                (3, 40 + i as i64, 100 + i as i64)
            );
        }
    }

    #[tokio::test]
    async fn split_halves_complete_their_own_records() {
        let (c, mut futures) = batch(5, 0);
        let (first, second) = c.split(2);
        second.complete(Outcome::Written {
            base_offset: 10,
            append_time: 7,
        });
        first.complete(Outcome::Failed(ProducerError::Closed));
        let late = futures.split_off(2);
        for f in futures {
            assert!(matches!(f.await, Err(ProducerError::Closed)));
        }
        for (i, f) in late.into_iter().enumerate() {
            let m = f.await.unwrap();
            assert_eq!((m.offset, m.timestamp), (10 + i as i64, 7));
        }
    }

    #[tokio::test]
    async fn a_waiting_future_is_woken_and_a_dropped_batch_fails_closed() {
        let (c, mut futures) = batch(1, 0);
        let f = futures.pop().unwrap();
        let waiter = tokio::spawn(f);
        tokio::task::yield_now().await;
        drop(c);
        assert!(matches!(waiter.await.unwrap(), Err(ProducerError::Closed)));
        let (reply, f) = pair();
        reply.fail(ProducerError::Closed);
        assert!(matches!(f.await, Err(ProducerError::Closed)));
    }
}
