//! What can go wrong reading or writing record batches.

use std::fmt;

/// A record batch could not be decoded or encoded.
///
/// Every decoder in [`crate::records`] returns this instead of panicking; each
/// variant says which part of the batch failed so a consumer can log something
/// useful and decide whether to skip the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordsError {
    /// The input ended inside a batch. The fetch iterator reports this case as
    /// [`super::Incomplete`] instead; single-batch decoding returns it.
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// The batch is a v0/v1 message set (or an unknown future format), which
    /// this crate does not read. Brokers only send those to clients that ask
    /// for fetch versions below 4, or for data written by very old clients.
    UnsupportedMagic(i8),
    /// The stored CRC32C does not match the bytes.
    CrcMismatch {
        /// The CRC stored in the batch header.
        expected: u32,
        /// The CRC computed over the batch.
        computed: u32,
    },
    /// The batch length field is below the header size or above what the
    /// decoder accepts.
    InvalidBatchLength(i32),
    /// The compression bits name a codec that does not exist (5, 6 or 7).
    UnknownCompression(u8),
    /// A compressed payload could not be decompressed.
    Decompression {
        /// The codec.
        codec: &'static str,
        /// What the codec reported.
        message: String,
    },
    /// Decompressed records would exceed the configured limit
    /// ([`super::DecodeOptions::max_decompressed_size`]): a decompression bomb
    /// or a batch larger than this consumer is willing to hold in memory.
    DecompressedTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The record count is negative or larger than the bytes could hold.
    InvalidRecordCount {
        /// The count from the batch header.
        count: i32,
        /// Bytes that hold the records (decompressed, for compressed batches).
        available: usize,
    },
    /// A record, key, value or header field is malformed.
    InvalidRecord {
        /// Index of the record within the batch.
        index: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// Bytes were left after the last record the header announced.
    TrailingBytes {
        /// How many.
        remaining: usize,
    },
    /// A control record's key or value is malformed.
    InvalidControlRecord(&'static str),
    /// A record, key, value, header or batch is too large for its length field.
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        size: usize,
    },
    /// Compressing the records failed.
    Compression {
        /// The codec.
        codec: &'static str,
        /// What the codec reported.
        message: String,
    },
}

impl fmt::Display for RecordsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated {
                what,
                needed,
                remaining,
            } => write!(
                f,
                "record batch truncated in {what}: needed {needed} bytes, {remaining} left"
            ),
            Self::UnsupportedMagic(m) => write!(
                f,
                "unsupported record format: magic {m} (only record batch v2 is supported)"
            ),
            Self::CrcMismatch { expected, computed } => write!(
                f,
                "record batch CRC mismatch: stored {expected:#010x}, computed {computed:#010x}"
            ),
            Self::InvalidBatchLength(l) => write!(f, "invalid record batch length {l}"),
            Self::UnknownCompression(c) => write!(f, "unknown compression codec {c}"),
            Self::Decompression { codec, message } => {
                write!(f, "{codec} decompression failed: {message}")
            }
            Self::DecompressedTooLarge { limit } => {
                write!(f, "decompressed records exceed the {limit}-byte limit")
            }
            Self::InvalidRecordCount { count, available } => write!(
                f,
                "invalid record count {count} for {available} bytes of records"
            ),
            Self::InvalidRecord { index, reason } => write!(f, "invalid record {index}: {reason}"),
            Self::TrailingBytes { remaining } => {
                write!(f, "{remaining} bytes left after the last record")
            }
            Self::InvalidControlRecord(why) => write!(f, "invalid control record: {why}"),
            Self::TooLarge { what, size } => write!(f, "{what} of {size} bytes is too large"),
            Self::Compression { codec, message } => {
                write!(f, "{codec} compression failed: {message}")
            }
        }
    }
}

impl std::error::Error for RecordsError {}
