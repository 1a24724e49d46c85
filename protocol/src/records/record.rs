//! One record inside a batch: its wire layout, decoder and encoder.
//!
//! ```text
//! length varint | attributes i8 | timestampDelta varlong | offsetDelta varint
//! keyLength varint (-1 null) | key | valueLength varint (-1 null) | value
//! headerCount varint | headers: keyLength varint | key | valueLength varint (-1 null) | value
//! ```
//!
//! Decoding is the hot path of a consumer, so it indexes into one `&[u8]` with
//! explicit bounds checks, takes the one-byte varint case inline, and turns
//! each key, value and header value into a `Bytes` slice of the input once
//! (a reference-count increment, never a copy).

use bytes::Bytes;

use super::error::RecordsError;
use super::header::Header;
use crate::primitives::varint::{
    decode_varint, decode_varlong, put_varint, put_varlong, varint_size, varlong_size,
};

/// The fewest bytes a record can take: a one-byte length, then attributes,
/// timestamp delta, offset delta, key length, value length and header count
/// of one byte each. Record counts are checked against `bytes / MIN_RECORD_SIZE`
/// before anything is allocated by them.
pub(crate) const MIN_RECORD_SIZE: usize = 7;

/// A decoded record. Offsets and timestamps are deltas from the batch's base
/// values, which live once in [`super::BatchHeader`];
/// [`super::RecordBatch::offset_of`] and [`super::RecordBatch::timestamp_of`]
/// turn them into absolute values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// Record attributes: unused by Kafka so far, kept for fidelity.
    pub attributes: i8,
    /// Timestamp minus the batch's base timestamp.
    pub timestamp_delta: i64,
    /// Offset minus the batch's base offset.
    pub offset_delta: i32,
    /// The key; `None` is a null key, distinct from an empty one.
    pub key: Option<Bytes>,
    /// The value; `None` is a null value (a tombstone in a compacted topic).
    pub value: Option<Bytes>,
    /// The headers, in wire order. Empty (and unallocated) when there are none.
    pub headers: Vec<Header>,
}

/// Why a record failed to decode; mapped to [`RecordsError::InvalidRecord`]
/// with the record's index by the caller, which keeps the hot loop small.
type Reason = &'static str;

/// Reads a zig-zag varint at `*pos`, never past `end`.
#[inline(always)]
fn varint(s: &[u8], pos: &mut usize, end: usize) -> Result<i32, Reason> {
    if *pos < end {
        let b = s[*pos];
        if b < 0x80 {
            *pos += 1;
            return Ok(i32::from(b >> 1) ^ -i32::from(b & 1));
        }
    }
    let tail = s.get(*pos..end).ok_or("record ends inside a varint")?;
    let (v, n) = decode_varint(tail).map_err(|_| "malformed or truncated varint")?;
    *pos += n;
    Ok(v)
}

/// Reads a zig-zag varlong at `*pos`, never past `end`.
#[inline(always)]
fn varlong(s: &[u8], pos: &mut usize, end: usize) -> Result<i64, Reason> {
    if *pos < end {
        let b = s[*pos];
        if b < 0x80 {
            *pos += 1;
            return Ok(i64::from(b >> 1) ^ -i64::from(b & 1));
        }
    }
    let tail = s.get(*pos..end).ok_or("record ends inside a varlong")?;
    let (v, n) = decode_varlong(tail).map_err(|_| "malformed or truncated varlong")?;
    *pos += n;
    Ok(v)
}

/// Reads a length-prefixed, nullable byte field as a slice of `data`.
#[inline(always)]
fn nullable_bytes(
    data: &Bytes,
    s: &[u8],
    pos: &mut usize,
    end: usize,
    what: Reason,
) -> Result<Option<Bytes>, Reason> {
    let len = varint(s, pos, end)?;
    if len < 0 {
        return if len == -1 { Ok(None) } else { Err(what) };
    }
    let len = len as usize;
    if len > end - *pos {
        return Err(what);
    }
    let start = *pos;
    *pos += len;
    // `Bytes::slice` of an empty range returns a static empty `Bytes` with no
    // reference-count traffic.
    Ok(Some(data.slice(start..*pos)))
}

/// Decodes one record whose length prefix starts at `*pos`.
#[inline(always)]
fn decode_one(data: &Bytes, s: &[u8], pos: &mut usize) -> Result<Record, Reason> {
    let limit = s.len();
    let len = varint(s, pos, limit)?;
    if len < 0 || len as usize > limit - *pos {
        return Err("record length is negative or runs past the batch");
    }
    let end = *pos + len as usize;
    if *pos >= end {
        return Err("record is empty");
    }
    let attributes = s[*pos] as i8;
    *pos += 1;
    let timestamp_delta = varlong(s, pos, end)?;
    let offset_delta = varint(s, pos, end)?;
    let key = nullable_bytes(data, s, pos, end, "invalid key length")?;
    let value = nullable_bytes(data, s, pos, end, "invalid value length")?;
    let count = varint(s, pos, end)?;
    // Each header takes at least two bytes (two one-byte lengths): bound the
    // count by the bytes left before allocating by it.
    if count < 0 || count as usize > (end - *pos) / 2 {
        return Err("invalid header count");
    }
    let headers = if count == 0 {
        Vec::new()
    } else {
        let mut headers = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let klen = varint(s, pos, end)?;
            if klen < 0 || klen as usize > end - *pos {
                return Err("invalid header key length");
            }
            let kstart = *pos;
            *pos += klen as usize;
            let key = data.slice(kstart..*pos);
            let value = nullable_bytes(data, s, pos, end, "invalid header value length")?;
            headers.push(Header { key, value });
        }
        headers
    };
    if *pos != end {
        return Err("record length does not match its fields");
    }
    Ok(Record {
        attributes,
        timestamp_delta,
        offset_delta,
        key,
        value,
        headers,
    })
}

/// Decodes exactly `count` records that fill all of `data`.
///
/// `count` must already be checked against `data.len() / MIN_RECORD_SIZE`,
/// so the `Vec` is sized by bytes actually present.
pub(crate) fn decode_records(data: &Bytes, count: usize) -> Result<Vec<Record>, RecordsError> {
    let s: &[u8] = data;
    let mut records = Vec::with_capacity(count);
    let mut pos = 0;
    for index in 0..count {
        match decode_one(data, s, &mut pos) {
            Ok(r) => records.push(r),
            Err(reason) => return Err(RecordsError::InvalidRecord { index, reason }),
        }
    }
    if pos != s.len() {
        return Err(RecordsError::TrailingBytes {
            remaining: s.len() - pos,
        });
    }
    Ok(records)
}

/// A record to append to a [`super::RecordBatchBuilder`], borrowing its data:
/// the builder copies it straight into the batch buffer.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewRecord<'a> {
    /// Absolute timestamp in milliseconds since the epoch.
    pub timestamp: i64,
    /// The key; `None` for a null key.
    pub key: Option<&'a [u8]>,
    /// The value; `None` for a null value (a tombstone).
    pub value: Option<&'a [u8]>,
    /// The headers, in order.
    pub headers: &'a [Header],
}

/// Largest length a record field may have: lengths are `int32` varints.
const MAX_FIELD: usize = i32::MAX as usize;

fn field_size(len: Option<usize>, what: &'static str) -> Result<usize, RecordsError> {
    match len {
        None => Ok(1),
        Some(n) if n > MAX_FIELD => Err(RecordsError::TooLarge { what, size: n }),
        Some(n) => Ok(varint_size(n as i32) + n),
    }
}

/// Bytes of a record body (everything after its length prefix).
pub(crate) fn body_size(
    r: &NewRecord<'_>,
    timestamp_delta: i64,
    offset_delta: i32,
) -> Result<usize, RecordsError> {
    let mut size = 1 + varlong_size(timestamp_delta) + varint_size(offset_delta);
    size += field_size(r.key.map(<[u8]>::len), "record key")?;
    size += field_size(r.value.map(<[u8]>::len), "record value")?;
    if r.headers.len() > MAX_FIELD {
        return Err(RecordsError::TooLarge {
            what: "header count",
            size: r.headers.len(),
        });
    }
    size += varint_size(r.headers.len() as i32);
    for h in r.headers {
        size += field_size(Some(h.key.len()), "header key")?;
        size += field_size(h.value.as_ref().map(Bytes::len), "header value")?;
    }
    if size > MAX_FIELD {
        return Err(RecordsError::TooLarge {
            what: "record",
            size,
        });
    }
    Ok(size)
}

/// Bytes a record takes in the batch, length prefix included, given its body size.
#[inline]
pub(crate) fn framed_size(body: usize) -> usize {
    varint_size(body as i32) + body
}

#[inline]
fn put_nullable(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i32);
            out.extend_from_slice(b);
        }
    }
}

/// Appends a record whose body size [`body_size`] computed (and checked).
pub(crate) fn write_record(
    out: &mut Vec<u8>,
    r: &NewRecord<'_>,
    body: usize,
    timestamp_delta: i64,
    offset_delta: i32,
) {
    out.reserve(framed_size(body));
    put_varint(out, body as i32);
    out.push(0); // attributes: none defined yet
    put_varlong(out, timestamp_delta);
    put_varint(out, offset_delta);
    put_nullable(out, r.key);
    put_nullable(out, r.value);
    put_varint(out, r.headers.len() as i32);
    for h in r.headers {
        put_nullable(out, Some(&h.key));
        put_nullable(out, h.value.as_deref());
    }
}
