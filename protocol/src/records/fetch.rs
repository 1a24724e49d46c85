//! Splitting the `records` bytes of a fetch response into batches.
//!
//! A broker fills a fetch response up to the byte limit the consumer asked
//! for, so the last batch is often cut short. That is expected, not an error:
//! [`FetchBatches`] yields every complete batch and then reports the cut-off
//! tail as [`Incomplete`], so the consumer fetches again from the next offset.

use bytes::Bytes;

use super::batch::{
    BatchHeader, DecodeOptions, RecordBatch, BATCH_HEADER_SIZE, LOG_OVERHEAD, MAGIC_OFFSET,
    MAGIC_V2,
};
use super::error::RecordsError;

/// The partial batch at the end of a fetch payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incomplete {
    /// Bytes of it that were present.
    pub available: usize,
    /// Its full size, when enough of it was present to read its length. A
    /// consumer that sees an incomplete batch and no complete one should fetch
    /// at least this many bytes.
    pub needed: Option<usize>,
}

/// A complete batch split off a fetch payload but not decoded: a
/// `read_committed` consumer can look at the header (producer id, control
/// and transactional bits, offsets) and skip an aborted batch without
/// checking its CRC or decompressing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBatch {
    /// The parsed header.
    pub header: BatchHeader,
    /// The whole batch, header included.
    pub bytes: Bytes,
}

impl RawBatch {
    /// Decodes the batch: checks the CRC if the options say so and
    /// decompresses; the records decode as [`RecordBatch::records`] reaches
    /// them.
    pub fn decode(&self, options: &DecodeOptions) -> Result<RecordBatch, RecordsError> {
        RecordBatch::decode(&mut self.bytes.clone(), options)
    }
}

/// Iterates the complete batches in a fetch payload.
///
/// Yields `Ok(batch)` for each complete batch and stops at the first error
/// (after yielding it) or at a partial trailing batch, which
/// [`FetchBatches::incomplete`] then describes. Each step consumes at least one
/// whole batch, so iteration ends after at most `len / 61` steps.
#[derive(Debug, Clone)]
pub struct FetchBatches {
    rest: Bytes,
    options: DecodeOptions,
    failed: bool,
}

impl FetchBatches {
    /// Iterates `records` with the default [`DecodeOptions`].
    pub fn new(records: Bytes) -> Self {
        Self::with_options(records, DecodeOptions::default())
    }

    /// Iterates `records` with the given options.
    pub fn with_options(records: Bytes, options: DecodeOptions) -> Self {
        Self {
            rest: records,
            options,
            failed: false,
        }
    }

    /// The bytes not yet consumed: after iteration ends without error, the
    /// partial trailing batch (empty when there is none).
    pub fn remaining(&self) -> &Bytes {
        &self.rest
    }

    /// The partial trailing batch, once iteration has stopped at it; `None`
    /// while complete batches remain, after an error, or when the payload
    /// ended on a batch boundary.
    pub fn incomplete(&self) -> Option<Incomplete> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match tail_state(&self.rest) {
            Tail::Incomplete(i) => Some(i),
            Tail::Batch => None,
        }
    }
}

enum Tail {
    /// A whole batch (or something that is not a v2 batch, which decoding
    /// reports) is at the front.
    Batch,
    Incomplete(Incomplete),
}

/// Whether the front of `rest` is a whole batch or a cut-off one.
fn tail_state(rest: &[u8]) -> Tail {
    let available = rest.len();
    if available < LOG_OVERHEAD {
        return Tail::Incomplete(Incomplete {
            available,
            needed: None,
        });
    }
    // A v0/v1 message set, or a batch length too small to be v2, is an error
    // for the decoder to report, not a partial batch.
    if available > MAGIC_OFFSET && rest[MAGIC_OFFSET] as i8 != MAGIC_V2 {
        return Tail::Batch;
    }
    let length = i32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]);
    if length < (BATCH_HEADER_SIZE - LOG_OVERHEAD) as i32 {
        return Tail::Batch;
    }
    let needed = LOG_OVERHEAD + length as usize;
    if needed > available {
        Tail::Incomplete(Incomplete {
            available,
            needed: Some(needed),
        })
    } else {
        Tail::Batch
    }
}

impl FetchBatches {
    /// Splits off the next complete batch without decoding it; `None` at the
    /// end or at a partial trailing batch, like the iterator. May be mixed
    /// with [`Iterator::next`].
    pub fn next_raw(&mut self) -> Option<Result<RawBatch, RecordsError>> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        if let Tail::Incomplete(_) = tail_state(&self.rest) {
            return None;
        }
        match BatchHeader::parse(&self.rest) {
            Ok(header) => Some(Ok(RawBatch {
                header,
                bytes: self.rest.split_to(header.size()),
            })),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl Iterator for FetchBatches {
    type Item = Result<RecordBatch, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        if let Tail::Incomplete(_) = tail_state(&self.rest) {
            return None;
        }
        match RecordBatch::decode(&mut self.rest, &self.options) {
            Ok(batch) => Some(Ok(batch)),
            Err(e) => {
                // After a bad batch the framing of what follows cannot be
                // trusted, so stop rather than guess.
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for FetchBatches {}
