//! What a caller sends, and what it learns once a record is written.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use rkafka_protocol::records::Header;

/// A record to send (Java's `ProducerRecord`).
///
/// Its topic, key and value may be borrowed: `send` copies them into the
/// batch before it returns, so a record of `&str`s and `&[u8]`s costs no
/// allocation and no reference count.
///
/// ```
/// use rkafka_client_producer::ProducerRecord;
///
/// let payload = vec![1u8, 2, 3];
/// let r = ProducerRecord::new("orders", &payload[..])
///     .with_key("customer-7")
///     .with_header("trace", Some("abc"));
/// assert_eq!(r.partition, None);
/// assert_eq!(r.value.as_deref(), Some(&[1u8, 2, 3][..]));
/// ```
#[derive(Debug, Clone)]
pub struct ProducerRecord<'a> {
    /// The topic.
    pub topic: Cow<'a, str>,
    /// The partition; `None` lets the partitioner choose.
    pub partition: Option<i32>,
    /// The key; `None` for a null key.
    pub key: Option<Payload<'a>>,
    /// The value; `None` for a null value (a tombstone).
    pub value: Option<Payload<'a>>,
    /// The headers, in order.
    pub headers: Vec<Header>,
    /// The CreateTime in milliseconds since the epoch; `None` uses the time
    /// of `send`.
    pub timestamp: Option<i64>,
}

/// The bytes of a key or value: borrowed, or owned in any of the usual
/// forms (`Vec<u8>`, `String`, [`Bytes`]). Dereferences to `[u8]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload<'a> {
    /// Borrowed for the duration of `send`.
    Borrowed(&'a [u8]),
    /// An owned buffer.
    Owned(Vec<u8>),
    /// A shared buffer.
    Shared(Bytes),
}

impl std::ops::Deref for Payload<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Borrowed(b) => b,
            Self::Owned(v) => v,
            Self::Shared(b) => b,
        }
    }
}

impl<'a> From<&'a [u8]> for Payload<'a> {
    fn from(b: &'a [u8]) -> Self {
        Self::Borrowed(b)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Payload<'a> {
    fn from(b: &'a [u8; N]) -> Self {
        Self::Borrowed(b)
    }
}

impl<'a> From<&'a str> for Payload<'a> {
    fn from(s: &'a str) -> Self {
        Self::Borrowed(s.as_bytes())
    }
}

impl<'a> From<&'a String> for Payload<'a> {
    fn from(s: &'a String) -> Self {
        Self::Borrowed(s.as_bytes())
    }
}

impl<'a> From<&'a Vec<u8>> for Payload<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Self::Borrowed(v)
    }
}

impl<'a> From<&'a Bytes> for Payload<'a> {
    fn from(b: &'a Bytes) -> Self {
        Self::Borrowed(b)
    }
}

impl From<Vec<u8>> for Payload<'_> {
    fn from(v: Vec<u8>) -> Self {
        Self::Owned(v)
    }
}

impl From<String> for Payload<'_> {
    fn from(s: String) -> Self {
        Self::Owned(s.into_bytes())
    }
}

impl From<Bytes> for Payload<'_> {
    fn from(b: Bytes) -> Self {
        Self::Shared(b)
    }
}

impl<'a> ProducerRecord<'a> {
    /// A record with a value and no key.
    pub fn new(topic: impl Into<Cow<'a, str>>, value: impl Into<Payload<'a>>) -> Self {
        Self {
            topic: topic.into(),
            partition: None,
            key: None,
            value: Some(value.into()),
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// A record with a null value (a tombstone for `key` on compacted topics).
    pub fn tombstone(topic: impl Into<Cow<'a, str>>, key: impl Into<Payload<'a>>) -> Self {
        Self {
            topic: topic.into(),
            partition: None,
            key: Some(key.into()),
            value: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// Sets the key.
    pub fn with_key(mut self, key: impl Into<Payload<'a>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sends to `partition` instead of asking the partitioner.
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Appends a header.
    pub fn with_header(mut self, key: impl Into<Bytes>, value: Option<impl Into<Bytes>>) -> Self {
        self.headers.push(Header::new(key, value));
        self
    }

    /// Sets the CreateTime.
    pub fn with_timestamp(mut self, millis: i64) -> Self {
        self.timestamp = Some(millis);
        self
    }

    /// Bytes the record is compared with `max.request.size`: its data plus
    /// the most a record's framing can add (Java's upper-bound estimate).
    pub fn estimated_size(&self) -> usize {
        let field = |b: &Option<Payload<'_>>| b.as_deref().map_or(0, <[u8]>::len);
        let headers: usize = self
            .headers
            .iter()
            .map(|h| h.key.len() + h.value.as_ref().map_or(0, Bytes::len) + 10)
            .sum();
        // length, attributes, timestamp and offset deltas, key and value
        // lengths, header count: at most 5+1+10+5+5+5+5 bytes.
        field(&self.key).saturating_add(field(&self.value)) + headers + 36
    }
}

/// What a waiting record costs beyond its encoded bytes: the record on
/// its way to the sender task, its delivery ticket and its place in the
/// batch. Charged against `buffer.memory` with the record's size, so that
/// `buffer.memory` bounds the process's memory, not only the batches (Java
/// charges batch bytes alone; with small records that understated the
/// memory used by about 2.5x).
pub(crate) const RECORD_OVERHEAD: usize = 192;

/// Where and when a record was written (Java's `RecordMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The offset; -1 when unknown (`acks=0`).
    pub offset: i64,
    /// The record's timestamp: its CreateTime, or the broker's append time
    /// on a topic with `message.timestamp.type=LogAppendTime`.
    pub timestamp: i64,
}
