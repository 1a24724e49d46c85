//! Borrowed views of decoded records: read keys, values and headers as
//! `&[u8]` for free, or as `Bytes` slices of the batch buffer on demand.

use std::iter::FusedIterator;

use bytes::Bytes;

use super::batch::{RecordBatch, TimestampType};
use super::header::Header;
use super::record::{Entry, HeaderEntry, Record};

/// One record of a [`RecordBatch`], borrowed from it.
///
/// Offsets and timestamps are computed from the batch header on access (one
/// addition each), so nothing of the batch is copied per record.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    batch: &'a RecordBatch,
    entry: &'a Entry,
}

impl<'a> RecordRef<'a> {
    #[inline]
    pub(crate) fn new(batch: &'a RecordBatch, entry: &'a Entry) -> Self {
        Self { batch, entry }
    }

    /// Absolute offset: base offset plus the record's offset delta.
    #[inline]
    pub fn offset(&self) -> i64 {
        self.batch
            .header
            .base_offset
            .wrapping_add(i64::from(self.entry.offset_delta))
    }

    /// Timestamp: the log append time for [`TimestampType::LogAppendTime`]
    /// batches (as the Java client reports it), else base timestamp plus delta.
    #[inline]
    pub fn timestamp(&self) -> i64 {
        let h = &self.batch.header;
        match h.timestamp_type() {
            TimestampType::LogAppendTime => h.max_timestamp,
            TimestampType::CreateTime => h.base_timestamp.wrapping_add(self.entry.timestamp_delta),
        }
    }

    /// Offset minus the batch's base offset.
    #[inline]
    pub fn offset_delta(&self) -> i32 {
        self.entry.offset_delta
    }

    /// Timestamp minus the batch's base timestamp, as stored.
    #[inline]
    pub fn timestamp_delta(&self) -> i64 {
        self.entry.timestamp_delta
    }

    /// Record attributes (unused by Kafka so far).
    #[inline]
    pub fn attributes(&self) -> i8 {
        self.entry.attributes
    }

    /// The key, `None` when null.
    #[inline]
    pub fn key(&self) -> Option<&'a [u8]> {
        self.entry.key.get(&self.batch.data)
    }

    /// The value, `None` when null (a tombstone).
    #[inline]
    pub fn value(&self) -> Option<&'a [u8]> {
        self.entry.value.get(&self.batch.data)
    }

    /// The key as a `Bytes` slice of the batch buffer (no copy).
    #[inline]
    pub fn key_bytes(&self) -> Option<Bytes> {
        self.entry.key.slice(&self.batch.data)
    }

    /// The value as a `Bytes` slice of the batch buffer (no copy).
    #[inline]
    pub fn value_bytes(&self) -> Option<Bytes> {
        self.entry.value.slice(&self.batch.data)
    }

    /// The headers, in wire order.
    #[inline]
    pub fn headers(&self) -> Headers<'a> {
        let start = self.entry.headers_start as usize;
        let end = start + self.entry.headers_len as usize;
        Headers {
            batch: self.batch,
            iter: self.batch.headers[start..end].iter(),
        }
    }

    /// An owned record whose key, value and headers are `Bytes` slices of
    /// the batch buffer (reference-counted, not copied).
    pub fn to_record(&self) -> Record {
        Record {
            attributes: self.entry.attributes,
            timestamp_delta: self.entry.timestamp_delta,
            offset_delta: self.entry.offset_delta,
            key: self.key_bytes(),
            value: self.value_bytes(),
            headers: self.headers().map(|h| h.to_header()).collect(),
        }
    }
}

/// One record header, borrowed from its batch.
#[derive(Debug, Clone, Copy)]
pub struct HeaderRef<'a> {
    batch: &'a RecordBatch,
    entry: &'a HeaderEntry,
}

impl<'a> HeaderRef<'a> {
    /// The header name as bytes (not validated as UTF-8, see [`Header`]).
    #[inline]
    pub fn key(&self) -> &'a [u8] {
        self.entry.key.get(&self.batch.data).unwrap_or_default()
    }

    /// The header name, or `None` when it is not valid UTF-8.
    #[inline]
    pub fn key_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.key()).ok()
    }

    /// The header value, `None` when null.
    #[inline]
    pub fn value(&self) -> Option<&'a [u8]> {
        self.entry.value.get(&self.batch.data)
    }

    /// The header value as a `Bytes` slice of the batch buffer (no copy).
    #[inline]
    pub fn value_bytes(&self) -> Option<Bytes> {
        self.entry.value.slice(&self.batch.data)
    }

    /// An owned header sliced from the batch buffer (no copy).
    pub fn to_header(&self) -> Header {
        Header {
            key: self.entry.key.slice(&self.batch.data).unwrap_or_default(),
            value: self.value_bytes(),
        }
    }
}

/// The headers of one record.
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    batch: &'a RecordBatch,
    iter: std::slice::Iter<'a, HeaderEntry>,
}

impl<'a> Iterator for Headers<'a> {
    type Item = HeaderRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.batch;
        self.iter.next().map(|entry| HeaderRef { batch, entry })
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.size_hint()
    }
}

impl ExactSizeIterator for Headers<'_> {}
impl FusedIterator for Headers<'_> {}

/// The records of a batch, in order.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    batch: &'a RecordBatch,
    iter: std::slice::Iter<'a, Entry>,
}

impl<'a> Records<'a> {
    pub(crate) fn new(batch: &'a RecordBatch, entries: &'a [Entry]) -> Self {
        Self {
            batch,
            iter: entries.iter(),
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = RecordRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.batch;
        self.iter.next().map(|entry| RecordRef { batch, entry })
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.size_hint()
    }
}

impl DoubleEndedIterator for Records<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        let batch = self.batch;
        self.iter
            .next_back()
            .map(|entry| RecordRef { batch, entry })
    }
}

impl ExactSizeIterator for Records<'_> {}
impl FusedIterator for Records<'_> {}

impl<'a> IntoIterator for &'a RecordBatch {
    type Item = RecordRef<'a>;
    type IntoIter = Records<'a>;

    fn into_iter(self) -> Records<'a> {
        self.records()
    }
}
