//! The reader's queue of requests awaiting a response.
//!
//! Kafka answers the requests of one connection in the order they were sent,
//! so the queue is FIFO and every response must carry the correlation id at
//! its front; anything else means the stream is out of step and the
//! connection is poisoned.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{oneshot, OwnedSemaphorePermit};

use crate::error::Error;

/// A request that reached the wire and awaits its response.
///
/// Dropping it (when answered, when the caller is gone, or when the
/// connection fails) releases its in-flight slot: the permit lives here, not
/// with the caller, so a cancelled caller cannot free a slot whose request
/// the broker is still working on.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) correlation_id: i32,
    pub(crate) api_key: i16,
    pub(crate) reply: oneshot::Sender<Result<Bytes, Error>>,
    pub(crate) sent_at: Instant,
    /// When the broker is considered unresponsive (`request.timeout.ms`
    /// after the request was written).
    pub(crate) deadline: Option<Instant>,
    pub(crate) _permit: Option<OwnedSemaphorePermit>,
}

/// FIFO of [`Pending`] requests.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    queue: VecDeque<Pending>,
}

impl InFlight {
    pub(crate) fn push(&mut self, p: Pending) {
        self.queue.push_back(p);
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Routes a response frame (response header + body; at least 4 bytes, the
    /// framing guarantees it) to the oldest request.
    ///
    /// A response whose caller has gone away (cancelled, timed out) is
    /// dropped here: the orphan is consumed, the stream stays in step.
    pub(crate) fn complete(&mut self, frame: Bytes) -> Result<(), Error> {
        let corr = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
        let Some(p) = self.queue.pop_front() else {
            return Err(Error::Protocol {
                reason: format!("response with correlation id {corr} but no request in flight"),
            });
        };
        if p.correlation_id != corr {
            let expected = p.correlation_id;
            // Put it back so fail_all tells its caller what happened.
            self.queue.push_front(p);
            return Err(Error::Protocol {
                reason: format!("response correlation id {corr} where {expected} was expected"),
            });
        }
        if p.reply.send(Ok(frame)).is_err() {
            tracing::debug!(
                correlation_id = corr,
                api_key = p.api_key,
                elapsed_ms = p.sent_at.elapsed().as_millis() as u64,
                "discarded response of a cancelled request"
            );
        }
        Ok(())
    }

    /// The earliest deadline among the waiting requests.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.queue.iter().filter_map(|p| p.deadline).min()
    }

    /// The first request whose deadline has passed at `now`, as a timeout
    /// error: the broker has not answered it in time.
    pub(crate) fn expired(&self, now: Instant, broker: &str) -> Option<Error> {
        self.queue
            .iter()
            .find(|p| p.deadline.is_some_and(|d| d <= now))
            .map(|p| Error::Timeout {
                what: format!(
                    "request (api key {}, correlation id {}) to broker {broker}",
                    p.api_key, p.correlation_id
                ),
                after: p
                    .deadline
                    .unwrap_or(now)
                    .saturating_duration_since(p.sent_at),
            })
    }

    /// Fails every waiting request with `cause`.
    pub(crate) fn fail_all(&mut self, cause: &Error) {
        for p in self.queue.drain(..) {
            let _ = p.reply.send(Err(cause.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(corr: i32) -> (Pending, oneshot::Receiver<Result<Bytes, Error>>) {
        let (tx, rx) = oneshot::channel();
        (
            Pending {
                correlation_id: corr,
                api_key: 3,
                reply: tx,
                sent_at: Instant::now(),
                deadline: None,
                _permit: None,
            },
            rx,
        )
    }

    fn frame(corr: i32) -> Bytes {
        let mut v = corr.to_be_bytes().to_vec();
        v.extend_from_slice(b"body");
        v.into()
    }

    #[test]
    fn routes_in_order_and_discards_orphans() {
        let mut f = InFlight::default();
        let (a, ra) = pending(1);
        let (b, mut rb) = pending(2);
        f.push(a);
        f.push(b);
        drop(ra); // cancelled caller
        f.complete(frame(1)).unwrap();
        f.complete(frame(2)).unwrap();
        assert_eq!(rb.try_recv().unwrap().unwrap(), frame(2));
        assert_eq!(f.len(), 0);
    }

    #[test]
    fn mismatch_and_unsolicited_are_protocol_errors() {
        let mut f = InFlight::default();
        assert!(matches!(f.complete(frame(9)), Err(Error::Protocol { .. })));
        let (a, mut ra) = pending(1);
        f.push(a);
        let e = f.complete(frame(7)).unwrap_err();
        f.fail_all(&e);
        assert!(matches!(
            ra.try_recv().unwrap(),
            Err(Error::Protocol { .. })
        ));
    }

    #[test]
    fn deadlines() {
        let mut f = InFlight::default();
        let now = Instant::now();
        let (mut a, _ra) = pending(1);
        a.deadline = Some(now + std::time::Duration::from_secs(5));
        let (mut b, _rb) = pending(2);
        b.deadline = Some(now + std::time::Duration::from_secs(1));
        f.push(a);
        f.push(b);
        assert_eq!(
            f.next_deadline(),
            Some(now + std::time::Duration::from_secs(1))
        );
        assert!(f.expired(now, "b").is_none());
        let e = f
            .expired(now + std::time::Duration::from_secs(2), "b")
            .unwrap();
        assert!(e.to_string().contains("correlation id 2"), "{e}");
    }

    #[test]
    fn dropping_pending_releases_slot() {
        let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(1));
        let (mut a, _ra) = pending(1);
        a._permit = Some(sem.clone().try_acquire_owned().unwrap());
        let mut f = InFlight::default();
        f.push(a);
        assert_eq!(sem.available_permits(), 0);
        f.complete(frame(1)).unwrap();
        assert_eq!(sem.available_permits(), 1);
    }
}
