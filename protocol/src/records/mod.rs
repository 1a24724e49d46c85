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
//!
//! # Example: write a batch, read a fetch response's records
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use rkafka_protocol::records::{Compression, FetchBatches, NewRecord, RecordBatchBuilder};
//!
//! let mut builder = RecordBatchBuilder::new().base_offset(100).compression(Compression::Zstd);
//! for i in 0..3u8 {
//!     let value = [b'v', b'0' + i];
//!     builder
//!         .push(&NewRecord {
//!             timestamp: 1_700_000_000_000 + i64::from(i),
//!             key: None,
//!             value: Some(&value),
//!             headers: &[],
//!         })
//!         .unwrap();
//! }
//! let batch = builder.finish().unwrap();
//!
//! // A fetch response's `records` field: two batches and the start of a
//! // third that the broker cut off at the size limit.
//! let mut records = BytesMut::new();
//! records.extend_from_slice(&batch);
//! records.extend_from_slice(&batch);
//! records.extend_from_slice(&batch[..20]);
//! let mut batches = FetchBatches::new(records.freeze());
//! let mut values = Vec::new();
//! for batch in batches.by_ref() {
//!     for record in batch.unwrap().records() {
//!         let record = record.unwrap();
//!         values.push((record.offset(), Bytes::copy_from_slice(record.value().unwrap())));
//!     }
//! }
//! assert_eq!(values.len(), 6);
//! assert_eq!(values[0], (100, Bytes::from_static(b"v0")));
//! // The cut-off batch is reported, not an error: fetch again from its offset.
//! assert_eq!(batches.incomplete().unwrap().available, 20);
//! ```

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
