//! The record batch header and the batch decoder.
//!
//! ```text
//! offset  field                 type
//!      0  baseOffset            int64
//!      8  batchLength           int32   bytes after this field
//!     12  partitionLeaderEpoch  int32
//!     16  magic                 int8    2
//!     17  crc                   uint32  CRC32C of bytes 21..end
//!     21  attributes            int16
//!     23  lastOffsetDelta       int32
//!     27  baseTimestamp         int64
//!     35  maxTimestamp          int64
//!     43  producerId            int64
//!     51  producerEpoch         int16
//!     53  baseSequence          int32
//!     57  recordCount           int32
//!     61  records (compressed as a whole when the codec is not none)
//! ```

use bytes::{Buf, Bytes};

use super::compression::{decompress, Compression};
use super::crc::batch_crc;
use super::error::RecordsError;
use super::record::{Record, MIN_RECORD_SIZE};
use super::view::Records;

/// Size of the batch header, up to and including the record count.
pub const BATCH_HEADER_SIZE: usize = 61;
/// The magic byte of record batch v2, the only format this crate reads.
pub const MAGIC_V2: i8 = 2;
/// Byte offset of the magic byte; the same in v0/v1 message sets, which is how
/// those are recognised.
pub const MAGIC_OFFSET: usize = 16;
/// Bytes before the batch length field counts from (base offset + length).
pub const LOG_OVERHEAD: usize = 12;
pub(crate) const CRC_OFFSET: usize = 17;
pub(crate) const ATTRIBUTES_OFFSET: usize = 21;

/// Attribute bits, as in Kafka's `DefaultRecordBatch`.
pub(crate) const COMPRESSION_MASK: i16 = 0x07;
pub(crate) const TIMESTAMP_TYPE_BIT: i16 = 0x08;
pub(crate) const TRANSACTIONAL_BIT: i16 = 0x10;
pub(crate) const CONTROL_BIT: i16 = 0x20;
pub(crate) const DELETE_HORIZON_BIT: i16 = 0x40;

/// The default for [`DecodeOptions::max_decompressed_size`]: 256 MiB.
///
/// Far above any batch a producer writes (brokers cap a compressed batch at
/// `message.max.bytes`, 1 MiB by default, and real data rarely compresses
/// beyond 10-50x), but low enough that a decompression bomb cannot exhaust a
/// client's memory.
pub const DEFAULT_MAX_DECOMPRESSED_SIZE: usize = 256 << 20;

/// How batches are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Check each batch's CRC32C (default `true`). Turn off only for sources
    /// known to write no CRC, such as the control batches of librdkafka's mock
    /// cluster, which carry a CRC of 0.
    pub verify_crc: bool,
    /// The most bytes one batch's records may decompress to (default
    /// [`DEFAULT_MAX_DECOMPRESSED_SIZE`]); beyond it decoding fails with
    /// [`RecordsError::DecompressedTooLarge`]. A decoded batch holds nothing
    /// per record beyond these bytes: records are decoded as they are read.
    /// Values above `i32::MAX` act as `i32::MAX`.
    pub max_decompressed_size: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            verify_crc: true,
            max_decompressed_size: DEFAULT_MAX_DECOMPRESSED_SIZE,
        }
    }
}

/// How a batch's timestamps were set (attributes bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// The producer's timestamps.
    #[default]
    CreateTime,
    /// The broker's append time, stored as the batch's max timestamp
    /// (topics with `message.timestamp.type=LogAppendTime`).
    LogAppendTime,
}

/// The fields of a batch header, held once per batch rather than per record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes of the batch after the length field.
    pub batch_length: i32,
    /// Leader epoch of the partition leader that appended the batch.
    pub partition_leader_epoch: i32,
    /// The format version; always 2 for a decoded batch.
    pub magic: i8,
    /// The stored CRC32C.
    pub crc: u32,
    /// Raw attributes; see the accessor methods.
    pub attributes: i16,
    /// Offset of the last record minus the base offset. Kept even when
    /// compaction removed the last records, so it can exceed the records' deltas.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (or the delete horizon, see
    /// [`BatchHeader::has_delete_horizon`]).
    pub base_timestamp: i64,
    /// Largest record timestamp, or the log append time.
    pub max_timestamp: i64,
    /// Producer id, -1 for a non-idempotent producer.
    pub producer_id: i64,
    /// Producer epoch, -1 for a non-idempotent producer.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 for a non-idempotent producer.
    pub base_sequence: i32,
    /// Number of records that follow.
    pub record_count: i32,
}

#[inline(always)]
fn be<const N: usize>(s: &[u8], at: usize) -> [u8; N] {
    let mut a = [0; N];
    a.copy_from_slice(&s[at..at + N]);
    a
}

impl BatchHeader {
    /// Parses the header at the front of `input` and checks that the whole
    /// batch it announces is present. Does not check the CRC.
    pub fn parse(input: &[u8]) -> Result<Self, RecordsError> {
        if input.len() <= MAGIC_OFFSET {
            return Err(RecordsError::Truncated {
                what: "batch header",
                needed: BATCH_HEADER_SIZE,
                remaining: input.len(),
            });
        }
        let magic = input[MAGIC_OFFSET] as i8;
        if magic != MAGIC_V2 {
            return Err(RecordsError::UnsupportedMagic(magic));
        }
        let batch_length = i32::from_be_bytes(be(input, 8));
        if batch_length < (BATCH_HEADER_SIZE - LOG_OVERHEAD) as i32 {
            return Err(RecordsError::InvalidBatchLength(batch_length));
        }
        let total = LOG_OVERHEAD + batch_length as usize;
        if total > input.len() {
            return Err(RecordsError::Truncated {
                what: "batch",
                needed: total,
                remaining: input.len(),
            });
        }
        Ok(Self {
            base_offset: i64::from_be_bytes(be(input, 0)),
            batch_length,
            partition_leader_epoch: i32::from_be_bytes(be(input, 12)),
            magic,
            crc: u32::from_be_bytes(be(input, CRC_OFFSET)),
            attributes: i16::from_be_bytes(be(input, ATTRIBUTES_OFFSET)),
            last_offset_delta: i32::from_be_bytes(be(input, 23)),
            base_timestamp: i64::from_be_bytes(be(input, 27)),
            max_timestamp: i64::from_be_bytes(be(input, 35)),
            producer_id: i64::from_be_bytes(be(input, 43)),
            producer_epoch: i16::from_be_bytes(be(input, 51)),
            base_sequence: i32::from_be_bytes(be(input, 53)),
            record_count: i32::from_be_bytes(be(input, 57)),
        })
    }

    /// Size of the whole encoded batch, header included.
    #[inline]
    pub fn size(&self) -> usize {
        LOG_OVERHEAD + self.batch_length as usize
    }

    /// The compression codec.
    #[inline]
    pub fn compression(&self) -> Result<Compression, RecordsError> {
        Compression::from_id((self.attributes & COMPRESSION_MASK) as u8)
    }

    /// Whether timestamps are the producer's or the broker's.
    #[inline]
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Whether the batch was written inside a transaction.
    #[inline]
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// Whether the batch holds control records (transaction markers).
    #[inline]
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// Whether `base_timestamp` holds the compaction delete horizon (KIP-534).
    #[inline]
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & DELETE_HORIZON_BIT != 0
    }

    /// Offset of the last record the batch was written with.
    #[inline]
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .wrapping_add(i64::from(self.last_offset_delta))
    }

    /// The offset after the batch: where the next fetch continues.
    #[inline]
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }
}

/// A decoded batch: its header once and the record bytes (a slice of the
/// input, or the decompressed buffer).
///
/// Records are decoded as [`RecordBatch::records`] reaches them, as
/// [`RecordRef`](super::RecordRef)s that give keys, values and headers as `&[u8]` or as `Bytes`
/// slices of the buffer, and compute absolute offsets and timestamps from the
/// header. Decoding a batch therefore costs its CRC check (and decompression)
/// and allocates nothing per record; like Java's `DefaultRecordBatch`, a
/// malformed record inside a batch whose CRC holds is reported when the
/// iteration reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBatch {
    /// The header fields.
    pub header: BatchHeader,
    pub(crate) data: Bytes,
}

impl RecordBatch {
    /// Decodes the batch at the front of `input` and advances `input` past it.
    /// On error `input` is left where it was.
    pub fn decode(input: &mut Bytes, options: &DecodeOptions) -> Result<Self, RecordsError> {
        let header = BatchHeader::parse(input)?;
        let total = header.size();
        if options.verify_crc {
            let computed = batch_crc(&input[..total]);
            if computed != header.crc {
                return Err(RecordsError::CrcMismatch {
                    expected: header.crc,
                    computed,
                });
            }
        }
        if header.record_count < 0 {
            return Err(RecordsError::InvalidRecordCount {
                count: header.record_count,
                available: total - BATCH_HEADER_SIZE,
            });
        }
        let data = match header.compression()? {
            Compression::None => input.slice(BATCH_HEADER_SIZE..total),
            codec => Bytes::from(decompress(
                codec,
                &input[BATCH_HEADER_SIZE..total],
                // Spans into the records are u32, and no Kafka batch holds
                // more than i32::MAX bytes anyway.
                options.max_decompressed_size.min(i32::MAX as usize),
            )?),
        };
        let count = header.record_count as usize;
        if count > data.len() / MIN_RECORD_SIZE {
            return Err(RecordsError::InvalidRecordCount {
                count: header.record_count,
                available: data.len(),
            });
        }
        input.advance(total);
        Ok(Self { header, data })
    }

    /// Number of records, as the header counts them (checked against the
    /// bytes present: each record takes at least 7).
    #[inline]
    pub fn len(&self) -> usize {
        self.header.record_count as usize
    }

    /// Whether the header counts no records.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.header.record_count == 0
    }

    /// The records, in order, each decoded as it is reached; see [`Records`]
    /// for how a malformed record is reported.
    #[inline]
    pub fn records(&self) -> Records<'_> {
        Records::new(self, self.len())
    }

    /// The records as owned values sharing the batch buffer, or the first
    /// record error.
    pub fn to_records(&self) -> Result<Vec<Record>, RecordsError> {
        self.records().map(|r| r.map(|r| r.to_record())).collect()
    }

    /// The record bytes the records point into (decompressed when the batch
    /// was compressed).
    #[inline]
    pub fn record_bytes(&self) -> &Bytes {
        &self.data
    }

    /// Absolute offset of an owned `record` taken from this batch.
    #[inline]
    pub fn offset_of(&self, record: &Record) -> i64 {
        self.header
            .base_offset
            .wrapping_add(i64::from(record.offset_delta))
    }

    /// Timestamp of an owned `record` taken from this batch; see
    /// [`RecordRef::timestamp`](super::RecordRef::timestamp).
    #[inline]
    pub fn timestamp_of(&self, record: &Record) -> i64 {
        match self.header.timestamp_type() {
            TimestampType::LogAppendTime => self.header.max_timestamp,
            TimestampType::CreateTime => self
                .header
                .base_timestamp
                .wrapping_add(record.timestamp_delta),
        }
    }
}
