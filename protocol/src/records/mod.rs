//! The record batch v2 codec (Kafka's `DefaultRecordBatch`), with gzip,
//! snappy, lz4 and zstd compression.
//!
//! - Decoding: [`RecordBatch::decode`] reads one batch; [`FetchBatches`] walks
//!   the `records` bytes of a fetch response, yielding complete batches and
//!   reporting a cut-off trailing batch as [`Incomplete`]. Decoding is
//!   zero-copy and lazy: a batch checks its CRC and keeps the input (or its
//!   one decompressed buffer); [`RecordBatch::records`] decodes each record
//!   as it is reached, into a [`RecordRef`] that reads keys, values and
//!   header values as `&[u8]`, or as [`bytes::Bytes`] slices of that buffer on
//!   demand, with no allocation per record. A malformed record is reported
//!   when the iteration reaches it, as Java's client does. The batch header
//!   is held once; offsets and timestamps are computed from it.
//! - Encoding: [`RecordBatchBuilder`] appends records one at a time, knowing
//!   the exact encoded size at each step, and fills in length and CRC at the
//!   end. [`ControlRecord::encode_batch`] writes transaction markers.
//! - Safety: every decoder returns [`RecordsError`] on bad input instead of
//!   panicking, checks lengths and counts against the bytes present before
//!   allocating by them, and bounds decompressed output
//!   ([`DecodeOptions::max_decompressed_size`]).
//!
//! Only magic 2 is read: v0/v1 message sets give
//! [`RecordsError::UnsupportedMagic`]. Brokers since 0.11 store v2, and only
//! send older formats to clients fetching with versions below 4.

mod batch;
mod builder;
mod compression;
mod control;
mod crc;
mod encode;
mod error;
mod fetch;
mod header;
mod record;
mod restamp;
mod view;

pub use batch::{
    BatchHeader, DecodeOptions, RecordBatch, TimestampType, BATCH_HEADER_SIZE,
    DEFAULT_MAX_DECOMPRESSED_SIZE, LOG_OVERHEAD, MAGIC_OFFSET, MAGIC_V2,
};
pub use builder::RecordBatchBuilder;
pub use compression::Compression;
pub use control::ControlRecord;
pub use encode::NewRecord;
pub use error::RecordsError;
pub use fetch::{FetchBatches, Incomplete, RawBatch};
pub use header::Header;
pub use record::Record;
pub use restamp::restamp;
pub use view::{HeaderRef, Headers, RecordRef, Records};
