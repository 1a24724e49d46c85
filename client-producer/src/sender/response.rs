//! Acting on Produce responses: completing, retrying or failing batches,
//! and the idempotence rules that decide between them.

use rkafka_client_core::retry::classify_error;
use rkafka_client_core::Error;
use rkafka_protocol::messages::produce_response::PartitionProduceResponse;
use rkafka_protocol::messages::ProduceResponse;
use rkafka_protocol::records::restamp;
use rkafka_protocol::ErrorCode;
use tokio::time::Instant;

use super::queue::increment_sequence;
use super::{Bump, Sender, Sent};
use crate::batch::Batch;
use crate::delivery::Outcome::Written;
use crate::error::ProducerError;

/// What to do with one batch after its partition's answer.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// Written (or a duplicate of a written batch) at this base offset.
    Done { base_offset: i64, append_time: i64 },
    /// Send again; `refresh` when leadership may have moved.
    Retry { refresh: bool },
    /// Send again after bumping the producer epoch (KIP-360).
    BumpAndRetry,
    /// Too large for the broker: split in two and resend, or fail a
    /// single record with this error.
    Split(ProducerError),
    /// Give up with this error.
    Fail(ProducerError),
}

/// Classifies one partition's answer for a batch (pure: the rules in one
/// place, tested without a broker). `expected` is the sequence the broker
/// should expect next for the partition, when idempotent.
pub(crate) fn classify(
    topic: &str,
    partition: i32,
    batch_sequence: Option<i32>,
    expected: Option<i32>,
    transactional: bool,
    resp: &PartitionProduceResponse,
) -> Outcome {
    let code = ErrorCode(resp.error_code);
    let idempotent = batch_sequence.is_some();
    match code {
        ErrorCode::NONE => Outcome::Done {
            base_offset: resp.base_offset,
            append_time: resp.log_append_time_ms,
        },
        // The broker already has this batch: an earlier attempt got through.
        ErrorCode::DUPLICATE_SEQUENCE_NUMBER if idempotent => Outcome::Done {
            base_offset: resp.base_offset,
            append_time: resp.log_append_time_ms,
        },
        // A batch before this one failed or is still in flight: this one
        // is retried after it, in order.
        ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER if idempotent && batch_sequence != expected => {
            Outcome::Retry { refresh: false }
        }
        ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER | ErrorCode::UNKNOWN_PRODUCER_ID
            if idempotent && !transactional =>
        {
            Outcome::BumpAndRetry
        }
        // In a transaction, a leader refusing the epoch means the
        // coordinator bumped it: it aborted the transaction on timeout
        // (KIP-588), or a newer producer took over, which the abort finds.
        ErrorCode::INVALID_PRODUCER_EPOCH if transactional => {
            Outcome::Fail(ProducerError::TransactionTimedOut {
                what: format!("Produce to {topic}-{partition} answered {code:?}"),
            })
        }
        ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED => {
            Outcome::Fail(ProducerError::Fenced {
                what: format!("Produce to {topic}-{partition} answered {code:?}"),
            })
        }
        ErrorCode::TRANSACTION_ABORTABLE if transactional => {
            Outcome::Fail(ProducerError::TransactionAbortable {
                reason: format!("Produce to {topic}-{partition} answered {code:?}"),
            })
        }
        c if c.is_retriable() => Outcome::Retry {
            refresh: matches!(
                c,
                ErrorCode::NOT_LEADER_OR_FOLLOWER
                    | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                    | ErrorCode::LEADER_NOT_AVAILABLE
                    | ErrorCode::NOT_ENOUGH_REPLICAS
                    | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
                    | ErrorCode::REPLICA_NOT_AVAILABLE
            ) || c == ErrorCode(74)
                || c == ErrorCode(75),
        },
        code @ (ErrorCode::MESSAGE_TOO_LARGE | ErrorCode::RECORD_LIST_TOO_LARGE) => {
            Outcome::Split(ProducerError::Kafka {
                topic: topic.to_owned(),
                partition,
                code,
                message: resp.error_message.clone(),
            })
        }
        code => {
            let mut message = resp.error_message.clone();
            if message.is_none() {
                message = resp
                    .record_errors
                    .first()
                    .and_then(|e| e.batch_index_error_message.clone());
            }
            Outcome::Fail(ProducerError::Kafka {
                topic: topic.to_owned(),
                partition,
                code,
                message,
            })
        }
    }
}

impl Sender {
    pub(super) fn on_produced(
        &mut self,
        batches: Vec<Sent>,
        result: Result<Option<ProduceResponse>, Error>,
    ) {
        let transactional = self.txn.is_some();
        match result {
            Ok(Some(resp)) => {
                for sent in batches {
                    let found = resp
                        .responses
                        .iter()
                        .filter(|t| *t.name == *sent.topic || t.name.is_empty())
                        .flat_map(|t| t.partition_responses.iter())
                        .find(|p| p.index == sent.partition);
                    let outcome = match found {
                        Some(p) => {
                            let expected = self
                                .queue(&sent.topic, sent.partition)
                                .map(|q| q.acked_sequence);
                            classify(
                                &sent.topic,
                                sent.partition,
                                sent.batch.base_sequence,
                                expected.filter(|_| self.idempotent),
                                transactional,
                                p,
                            )
                        }
                        // A broker that leaves a partition out did not write it.
                        None => Outcome::Retry { refresh: true },
                    };
                    self.settle(sent, outcome);
                }
            }
            Ok(None) => {
                for sent in batches {
                    self.settle(
                        sent,
                        Outcome::Done {
                            base_offset: -1,
                            append_time: -1,
                        },
                    );
                }
            }
            Err(e) => {
                let retry = classify_error(&e).is_retry()
                    || matches!(
                        e,
                        Error::Timeout { .. }
                            | Error::Io { .. }
                            | Error::ConnectionClosed { .. }
                            | Error::NotSent { .. }
                    );
                for sent in batches {
                    let outcome = if retry {
                        Outcome::Retry { refresh: true }
                    } else {
                        Outcome::Fail(ProducerError::Client(e.clone()))
                    };
                    self.settle(sent, outcome);
                }
            }
        }
    }

    fn queue(&mut self, topic: &str, partition: i32) -> Option<&mut super::PartitionQueue> {
        self.topics
            .get_mut(topic)
            .and_then(|t| t.queues.get_mut(usize::try_from(partition).ok()?))
    }

    fn settle(&mut self, sent: Sent, outcome: Outcome) {
        if let Some(q) = self.queue(&sent.topic, sent.partition) {
            q.answered(matches!(outcome, Outcome::Done { .. }));
        }
        self.act_on(sent, outcome);
    }

    /// What `settle` does once the batch no longer counts as in flight.
    fn act_on(&mut self, sent: Sent, outcome: Outcome) {
        let Sent {
            topic,
            partition,
            batch,
        } = sent;
        let idempotent = self.idempotent;
        let retry = matches!(outcome, Outcome::Retry { .. } | Outcome::BumpAndRetry);
        if retry && self.txn.as_ref().is_some_and(|t| t.aborting()) {
            // The transaction can only be aborted: its abort marker covers
            // whatever of this batch was written.
            return self.act_on(
                Sent {
                    topic,
                    partition,
                    batch,
                },
                Outcome::Fail(ProducerError::TransactionAborted),
            );
        }
        match outcome {
            Outcome::Done {
                base_offset,
                append_time,
            } => {
                if let (true, Some(seq), Some(q)) = (
                    idempotent,
                    batch.base_sequence,
                    self.queue(&topic, partition),
                ) {
                    // A late duplicate of an older batch must not move the
                    // broker's expected sequence backwards.
                    let next = increment_sequence(seq, batch.count() as i32);
                    if next.wrapping_sub(q.acked_sequence) > 0 {
                        q.acked_sequence = next;
                    }
                }
                self.release(&batch);
                batch.deliveries.complete(Written {
                    base_offset,
                    append_time,
                });
            }
            Outcome::Retry { refresh } => {
                if refresh {
                    self.refresh();
                }
                self.retry(&topic, partition, batch);
            }
            Outcome::BumpAndRetry => {
                if self.bump == Bump::No {
                    self.bump = Bump::Wanted;
                }
                self.retry(&topic, partition, batch);
            }
            Outcome::Split(err) => match self.split(&topic, partition, batch) {
                Ok(()) => {}
                // Already counted out of flight: `settle` again would
                // count it twice.
                Err(batch) => self.act_on(
                    Sent {
                        topic,
                        partition,
                        batch: *batch,
                    },
                    Outcome::Fail(err),
                ),
            },
            Outcome::Fail(err) => {
                if batch.base_sequence.is_some() {
                    // The broker may now expect this batch's sequence, which
                    // later batches have moved past: start over with a new
                    // epoch (at the abort, in a transaction).
                    match &mut self.txn {
                        Some(t) => t.sequence_gap = true,
                        None if self.bump == Bump::No => self.bump = Bump::Wanted,
                        None => {}
                    }
                }
                if let ProducerError::Fenced { .. } = err {
                    if let Some(t) = &mut self.txn {
                        t.fatal(err.clone());
                    }
                } else if let Some(t) = &mut self.txn {
                    t.abortable(err.clone());
                }
                self.fail_batch(batch, &err);
            }
        }
    }

    /// Splits a batch refused as too large and puts both halves back in
    /// its queue ahead of every later batch (Java's `splitAndReenqueue`).
    /// Gives the batch back when it cannot be split.
    ///
    /// A numbered batch's halves share its sequence range: the first half
    /// takes its base sequence, the second the rest. The broker refused the
    /// whole batch, so it still expects that base sequence; batches sent
    /// after it keep their numbers, are refused as out of order meanwhile
    /// (`classify` retries them) and go again after the halves, in sequence
    /// order. The halves go one at a time (`may_send_front`), so a half
    /// that is still too large is split again before anything follows it.
    fn split(&mut self, topic: &str, partition: i32, batch: Batch) -> Result<(), Box<Batch>> {
        let settings = self.settings;
        let Some(q) = self.queue(topic, partition) else {
            return Err(Box::new(batch));
        };
        let seq = batch.base_sequence;
        let (mut first, mut second) = batch.split(settings)?;
        match seq {
            Some(seq) => {
                first.base_sequence = Some(seq);
                second.base_sequence = Some(increment_sequence(seq, first.count() as i32));
                q.requeue(second);
                q.requeue(first);
            }
            None => {
                q.batches.push_front(second);
                q.batches.push_front(first);
            }
        }
        Ok(())
    }

    fn retry(&mut self, topic: &str, partition: i32, mut batch: Batch) {
        let now = Instant::now();
        if now >= batch.created + self.cfg.delivery_timeout {
            let err = ProducerError::DeliveryTimeout {
                after: self.cfg.delivery_timeout,
            };
            match &mut self.txn {
                None if batch.base_sequence.is_some() => self.bump = Bump::Wanted,
                None => {}
                Some(t) => {
                    t.sequence_gap |= batch.base_sequence.is_some();
                    t.abortable(err.clone());
                }
            }
            self.fail_batch(batch, &err);
            return;
        }
        batch.attempts += 1;
        batch.retry_at = Some(now + self.backoff(batch.attempts));
        match self.queue(topic, partition) {
            Some(q) => q.requeue(batch),
            None => self.fail_batch(batch, &ProducerError::Closed),
        }
    }

    /// A new epoch (or producer id): every batch still queued is renumbered
    /// from sequence 0, in order, per partition.
    pub(super) fn on_bumped(&mut self, result: Result<(i64, i16), ProducerError>) {
        let (id, epoch) = match result {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "could not bump the producer epoch; retrying");
                self.bump_failures = self.bump_failures.saturating_add(1);
                self.bump = Bump::Wanted;
                return;
            }
        };
        self.bump_failures = 0;
        tracing::info!(producer_id = id, epoch, "producer epoch bumped (KIP-360)");
        self.producer = Some((id, epoch));
        self.bump = Bump::No;
        let mut failed = Vec::new();
        for t in self.topics.values_mut() {
            for q in &mut t.queues {
                let mut seq = 0i32;
                for b in q.batches.iter_mut() {
                    if b.base_sequence.is_none() {
                        continue;
                    }
                    if let Some(enc) = &b.encoded {
                        let mut bytes = enc.to_vec();
                        if restamp(&mut bytes, id, epoch, seq).is_err() {
                            failed.push(b.base_sequence);
                            continue;
                        }
                        b.encoded = Some(bytes.into());
                    }
                    b.base_sequence = Some(seq);
                    b.retry_at = None;
                    seq = increment_sequence(seq, b.count() as i32);
                }
                q.next_sequence = seq;
                q.acked_sequence = 0;
            }
        }
        debug_assert!(failed.is_empty(), "our own batches always restamp");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How an answer with `code` for partition t-0 (base offset 42) is
    /// classified, for a batch at `sequence` when `expected` is next.
    fn outcome(
        sequence: Option<i32>,
        expected: Option<i32>,
        transactional: bool,
        code: ErrorCode,
    ) -> Outcome {
        let resp = PartitionProduceResponse::default()
            .with_error_code(code.0)
            .with_base_offset(42)
            .with_log_append_time_ms(-1);
        classify("t", 0, sequence, expected, transactional, &resp)
    }

    #[test]
    fn duplicates_are_success_when_idempotent() {
        let duplicate = ErrorCode::DUPLICATE_SEQUENCE_NUMBER;
        assert!(matches!(
            outcome(Some(5), Some(10), false, duplicate),
            Outcome::Done {
                base_offset: 42,
                ..
            }
        ));
        assert!(matches!(
            outcome(None, None, false, duplicate),
            Outcome::Fail(_)
        ));
    }

    #[test]
    fn out_of_order_behind_a_failed_batch_is_retried_else_epoch_bump() {
        let ooo = ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER;
        assert!(matches!(
            outcome(Some(10), Some(5), false, ooo),
            Outcome::Retry { refresh: false }
        ));
        assert!(matches!(
            outcome(Some(5), Some(5), false, ooo),
            Outcome::BumpAndRetry
        ));
        assert!(matches!(
            outcome(Some(5), Some(5), true, ooo),
            Outcome::Fail(ProducerError::Kafka { .. })
        ));
        assert!(matches!(
            outcome(Some(5), Some(5), false, ErrorCode::UNKNOWN_PRODUCER_ID),
            Outcome::BumpAndRetry
        ));
    }

    #[test]
    fn a_refused_epoch_in_a_transaction_is_a_timeout_not_fencing() {
        let epoch = ErrorCode::INVALID_PRODUCER_EPOCH;
        assert!(matches!(
            outcome(Some(1), Some(1), true, epoch),
            Outcome::Fail(ProducerError::TransactionTimedOut { .. })
        ));
        assert!(matches!(
            outcome(Some(1), Some(1), false, epoch),
            Outcome::Fail(ProducerError::Fenced { .. })
        ));
        assert!(matches!(
            outcome(Some(1), Some(1), true, ErrorCode::TRANSACTION_ABORTABLE),
            Outcome::Fail(ProducerError::TransactionAbortable { .. })
        ));
    }

    #[test]
    fn leadership_errors_refresh_and_fencing_is_typed() {
        assert!(matches!(
            outcome(None, None, false, ErrorCode::NOT_LEADER_OR_FOLLOWER),
            Outcome::Retry { refresh: true }
        ));
        assert!(matches!(
            outcome(Some(1), Some(1), true, ErrorCode::PRODUCER_FENCED),
            Outcome::Fail(ProducerError::Fenced { .. })
        ));
        assert!(matches!(
            outcome(None, None, false, ErrorCode::MESSAGE_TOO_LARGE),
            Outcome::Split(ProducerError::Kafka {
                code: ErrorCode::MESSAGE_TOO_LARGE,
                ..
            })
        ));
    }
}
