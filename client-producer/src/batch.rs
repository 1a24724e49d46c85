//! A batch of one partition's records: filled by the handle's accumulator,
//! then encoded, sent, retried or split by the sender task.

use std::sync::Arc;

use bytes::Bytes;
use rkafka_protocol::records::{
    Compression, DecodeOptions, Header, NewRecord, RecordBatch, RecordBatchBuilder, RecordsError,
};
use tokio::time::Instant;

use crate::delivery::{Completion, Outcome};
use crate::error::ProducerError;

/// The batching settings a batch is built with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchSettings {
    pub(crate) batch_size: usize,
    pub(crate) compression: Compression,
    pub(crate) level: Option<i32>,
}

impl BatchSettings {
    pub(crate) fn of(cfg: &crate::config::ProducerConfig) -> Self {
        Self {
            batch_size: cfg.batch_size,
            compression: cfg.compression,
            level: cfg.compression_level,
        }
    }
}

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
    /// Its entry in the partition's count of waiting batches (KIP-794).
    pub(crate) waiting: crate::load::Waiting,
}

impl Batch {
    pub(crate) fn new(now: Instant, s: BatchSettings, deliveries: Completion) -> Self {
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
            waiting: Default::default(),
        }
    }

    /// Number of records.
    pub(crate) fn count(&self) -> usize {
        self.deliveries.len()
    }

    /// The topic its records go to.
    pub(crate) fn topic(&self) -> &Arc<str> {
        self.deliveries.topic()
    }

    /// The partition its records go to.
    pub(crate) fn partition(&self) -> i32 {
        self.deliveries.partition()
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
            // We encoded this batch ourselves; a record that does not decode
            // means the split cannot be trusted.
            let Ok(r) = r else {
                return Err(Box::new(self));
            };
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
            h.attempts = self.attempts;
            // Counted in the partition's load once queued.
            h.waiting = self.waiting.sibling();
        }
        Ok((first, second))
    }

    /// Fails every record of the batch with `err`.
    pub(crate) fn fail(self, err: &ProducerError) {
        self.deliveries.complete(Outcome::Failed(err.clone()));
    }
}
