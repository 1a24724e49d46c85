//! Building a batch record by record, knowing its exact size as it grows.
//!
//! Records are encoded straight into the batch buffer when pushed, so the
//! size a producer compares against `batch.size` is the real one and nothing
//! is encoded twice; `finish` only fills in the header and CRC (and, for a
//! compressed batch, compresses the records once).

use bytes::Bytes;

use super::batch::{
    TimestampType, BATCH_HEADER_SIZE, CONTROL_BIT, LOG_OVERHEAD, MAGIC_V2, TIMESTAMP_TYPE_BIT,
    TRANSACTIONAL_BIT,
};
use super::compression::{compress, Compression};
use super::crc::fill_batch_crc;
use super::encode::{body_size, framed_size, write_record, write_simple, NewRecord};
use super::error::RecordsError;

/// Builds one record batch v2.
///
/// ```
/// use rkafka_protocol::records::{Compression, NewRecord, RecordBatchBuilder};
///
/// let mut b = RecordBatchBuilder::new().compression(Compression::Lz4);
/// b.push(&NewRecord { timestamp: 1_700_000_000_000, key: Some(b"k"), value: Some(b"v"), headers: &[] })
///     .unwrap();
/// let batch = b.finish().unwrap();
/// # assert!(!batch.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct RecordBatchBuilder {
    /// Header placeholder, then the uncompressed records.
    buf: Vec<u8>,
    base_offset: i64,
    partition_leader_epoch: i32,
    attributes: i16,
    compression: Compression,
    compression_level: Option<i32>,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    base_timestamp: Option<i64>,
    max_timestamp: i64,
    count: i32,
}

impl Default for RecordBatchBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordBatchBuilder {
    /// An empty, uncompressed, non-idempotent batch at base offset 0.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// Like [`RecordBatchBuilder::new`], reserving room for `bytes` of records
    /// (a producer passes its `batch.size`).
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(BATCH_HEADER_SIZE + bytes);
        buf.resize(BATCH_HEADER_SIZE, 0);
        Self {
            buf,
            base_offset: 0,
            partition_leader_epoch: -1,
            attributes: 0,
            compression: Compression::None,
            compression_level: None,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            base_timestamp: None,
            max_timestamp: -1,
            count: 0,
        }
    }

    /// Sets the base offset (producers leave it 0; the broker assigns offsets).
    pub fn base_offset(mut self, offset: i64) -> Self {
        self.base_offset = offset;
        self
    }

    /// Sets the partition leader epoch (-1 by default, as producers send it).
    pub fn partition_leader_epoch(mut self, epoch: i32) -> Self {
        self.partition_leader_epoch = epoch;
        self
    }

    /// Sets the compression codec.
    pub fn compression(mut self, codec: Compression) -> Self {
        self.compression = codec;
        self
    }

    /// Sets the codec level for gzip (0-9) and zstd (1-22); `None` uses the
    /// Java producer's defaults (6 and 3). Snappy and lz4 ignore it.
    pub fn compression_level(mut self, level: Option<i32>) -> Self {
        self.compression_level = level;
        self
    }

    /// Sets the idempotent producer's id, epoch and the first record's sequence.
    pub fn producer(mut self, id: i64, epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = id;
        self.producer_epoch = epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Marks the batch as part of a transaction.
    pub fn transactional(mut self, on: bool) -> Self {
        self.set_bit(TRANSACTIONAL_BIT, on);
        self
    }

    /// Marks the batch as holding control records; see
    /// [`super::ControlRecord::encode_batch`] for the usual way to write one.
    pub fn control(mut self, on: bool) -> Self {
        self.set_bit(CONTROL_BIT, on);
        self
    }

    /// Sets the timestamp type. For [`TimestampType::LogAppendTime`] the max
    /// timestamp is still the largest pushed timestamp; set the append time as
    /// the records' timestamp.
    pub fn timestamp_type(mut self, t: TimestampType) -> Self {
        self.set_bit(TIMESTAMP_TYPE_BIT, t == TimestampType::LogAppendTime);
        self
    }

    fn set_bit(&mut self, bit: i16, on: bool) {
        if on {
            self.attributes |= bit;
        } else {
            self.attributes &= !bit;
        }
    }

    /// Number of records pushed so far.
    #[inline]
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no record was pushed yet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the batch so far, header included. Exact for an uncompressed
    /// batch; for a compressed one it is the size before compression, which
    /// the compressed batch only exceeds for incompressible data (by a few
    /// bytes per block).
    #[inline]
    pub fn encoded_size(&self) -> usize {
        self.buf.len()
    }

    #[inline]
    fn deltas(&self, timestamp: i64) -> Result<(i64, i32), RecordsError> {
        let base = self.base_timestamp.unwrap_or(timestamp);
        let ts = timestamp.wrapping_sub(base);
        if self.count == i32::MAX {
            return Err(RecordsError::TooLarge {
                what: "record count",
                size: self.len(),
            });
        }
        Ok((ts, self.count))
    }

    /// Bytes that pushing `record` would add to [`RecordBatchBuilder::encoded_size`],
    /// without encoding it: lets a producer decide to start a new batch first.
    pub fn size_of(&self, record: &NewRecord<'_>) -> Result<usize, RecordsError> {
        let (ts, od) = self.deltas(record.timestamp)?;
        Ok(framed_size(body_size(record, ts, od)?))
    }

    /// Appends `record` with the next offset delta and returns the bytes it
    /// added. Fails only when the record is too large for its length fields or
    /// the batch is full; the builder is unchanged then.
    #[inline(always)]
    pub fn push(&mut self, record: &NewRecord<'_>) -> Result<usize, RecordsError> {
        self.push_within(record, usize::MAX)
            .map(|added| added.expect("no limit"))
    }

    /// Like [`RecordBatchBuilder::push`], but only when the batch stays within
    /// `limit` bytes ([`RecordBatchBuilder::encoded_size`] after the push) or
    /// is empty (a batch holds at least one record). Returns `Ok(None)`, with
    /// the builder unchanged, when the record would take it past `limit`.
    ///
    /// A producer cutting batches at `batch.size` calls this once per record
    /// instead of [`RecordBatchBuilder::size_of`] and then `push`, which
    /// computed the record's size twice.
    #[inline(always)]
    pub fn push_within(
        &mut self,
        record: &NewRecord<'_>,
        limit: usize,
    ) -> Result<Option<usize>, RecordsError> {
        // A simple record is at most 16 KiB, so the batch-size check of the
        // general path only matters once the batch is within that of 2 GiB.
        if self.count < i32::MAX && self.buf.len() < (i32::MAX as usize) >> 1 {
            let base = self.base_timestamp.unwrap_or(record.timestamp);
            let ts = record.timestamp.wrapping_sub(base);
            let before = self.buf.len();
            if let Some(size) = write_simple(&mut self.buf, record, ts, self.count) {
                // Written, then taken back if over the limit: cheaper than
                // sizing the record first on the path nearly every record takes.
                if self.buf.len() > limit && self.count > 0 {
                    self.buf.truncate(before);
                    return Ok(None);
                }
                self.base_timestamp = Some(base);
                self.max_timestamp = self.max_timestamp.max(record.timestamp);
                self.count += 1;
                return Ok(Some(size));
            }
        }
        self.push_general(record, limit)
    }

    /// [`RecordBatchBuilder::push`] for records with headers or large fields.
    /// Kept out of line so the fast path above stays small enough to inline
    /// into a producer's loop.
    #[inline(never)]
    fn push_general(
        &mut self,
        record: &NewRecord<'_>,
        limit: usize,
    ) -> Result<Option<usize>, RecordsError> {
        let (ts, od) = self.deltas(record.timestamp)?;
        let body = body_size(record, ts, od)?;
        let size = framed_size(body);
        if self.buf.len().saturating_add(size) > limit && self.count > 0 {
            return Ok(None);
        }
        if self.buf.len() - LOG_OVERHEAD + size > i32::MAX as usize {
            return Err(RecordsError::TooLarge {
                what: "batch",
                size: self.buf.len() + size,
            });
        }
        write_record(&mut self.buf, record, body, ts, od);
        self.base_timestamp.get_or_insert(record.timestamp);
        self.max_timestamp = self.max_timestamp.max(record.timestamp);
        self.count += 1;
        Ok(Some(size))
    }

    /// Compresses the records if asked, fills in the header (length, last
    /// offset delta, timestamps, count) and the CRC, and returns the batch.
    ///
    /// An empty builder gives a valid batch with no records and a last offset
    /// delta of -1 (Kafka never sends those, but they decode).
    pub fn finish(self) -> Result<Bytes, RecordsError> {
        let mut out = match self.compression {
            Compression::None => self.buf,
            codec => {
                let records = &self.buf[BATCH_HEADER_SIZE..];
                let mut out = Vec::with_capacity(BATCH_HEADER_SIZE + records.len() / 2 + 64);
                out.resize(BATCH_HEADER_SIZE, 0);
                compress(codec, records, self.compression_level, &mut out)?;
                out
            }
        };
        let batch_length = out.len() - LOG_OVERHEAD;
        if batch_length > i32::MAX as usize {
            return Err(RecordsError::TooLarge {
                what: "batch",
                size: out.len(),
            });
        }
        let base_ts = self.base_timestamp.unwrap_or(-1);
        let h = &mut out[..BATCH_HEADER_SIZE];
        h[0..8].copy_from_slice(&self.base_offset.to_be_bytes());
        h[8..12].copy_from_slice(&(batch_length as i32).to_be_bytes());
        h[12..16].copy_from_slice(&self.partition_leader_epoch.to_be_bytes());
        h[16] = MAGIC_V2 as u8;
        let attributes = self.attributes | i16::from(self.compression.id());
        h[21..23].copy_from_slice(&attributes.to_be_bytes());
        h[23..27].copy_from_slice(&(self.count - 1).to_be_bytes());
        h[27..35].copy_from_slice(&base_ts.to_be_bytes());
        h[35..43].copy_from_slice(&self.max_timestamp.to_be_bytes());
        h[43..51].copy_from_slice(&self.producer_id.to_be_bytes());
        h[51..53].copy_from_slice(&self.producer_epoch.to_be_bytes());
        h[53..57].copy_from_slice(&self.base_sequence.to_be_bytes());
        h[57..61].copy_from_slice(&self.count.to_be_bytes());
        fill_batch_crc(&mut out);
        Ok(Bytes::from(out))
    }
}
