//! Record headers: an ordered list of key/value pairs carried by each record.

use bytes::Bytes;

/// One record header.
///
/// Keys are meant to be UTF-8 but are kept as bytes: decoding does not
/// validate them, like the Java client (which replaces bad sequences rather
/// than failing) and librdkafka (which does not look). [`Header::key_str`]
/// validates on access, so consumers that never read a key pay nothing.
/// Duplicate keys are allowed and order is kept, as in Kafka.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Header {
    /// The header name. A slice of the fetched (or decompressed) buffer when decoded.
    pub key: Bytes,
    /// The header value; `None` is a null value, distinct from an empty one.
    pub value: Option<Bytes>,
}

impl Header {
    /// A header from any byte-like key and optional value.
    pub fn new(key: impl Into<Bytes>, value: Option<impl Into<Bytes>>) -> Self {
        Self {
            key: key.into(),
            value: value.map(Into::into),
        }
    }

    /// The key as a string, or `None` when it is not valid UTF-8.
    #[inline]
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.key).ok()
    }
}
