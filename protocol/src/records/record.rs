//! One record inside a batch: its wire layout and decoder (the encoder is in `encode.rs`).
//!
//! ```text
//! length varint | attributes i8 | timestampDelta varlong | offsetDelta varint
//! keyLength varint (-1 null) | key | valueLength varint (-1 null) | value
//! headerCount varint | headers: keyLength varint | key | valueLength varint (-1 null) | value
//! ```
//!
//! Decoding is the hot path of a consumer, so it indexes into one `&[u8]` with
//! explicit bounds checks, takes one- and two-byte varints inline (the common
//! header-less record from one 16-byte window, [`decode_fast`]), and stores
//! each record as a small fixed-size entry of deltas and spans. Turning a span
//! into a `Bytes` slice costs an atomic reference-count increment (and another
//! on drop); doing that for every key and value during decode would take more
//! time than the parsing itself, so it happens only when a caller asks
//! ([`super::RecordRef::key_bytes`]) and never involves a copy.

use std::mem::MaybeUninit;

use bytes::Bytes;

use super::error::RecordsError;
use super::header::Header;
use crate::primitives::varint::{decode_varint, decode_varlong};

/// The fewest bytes a record can take: a one-byte length, then attributes,
/// timestamp delta, offset delta, key length, value length and header count
/// of one byte each. Record counts are checked against `bytes / MIN_RECORD_SIZE`
/// before anything is allocated by them.
pub(crate) const MIN_RECORD_SIZE: usize = 7;

/// An owned record: [`super::RecordRef::to_record`] makes one whose key,
/// value and header values are `Bytes` slices of the batch's buffer.
/// Offsets and timestamps are deltas from the batch's base values, which live
/// once in [`super::BatchHeader`]; [`super::RecordBatch::offset_of`] and
/// [`super::RecordBatch::timestamp_of`] turn them into absolute values.
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

/// Where a nullable field lies in the batch's record bytes: `len` is -1 for null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) len: i32,
}

impl Span {
    const NULL: Span = Span { start: 0, len: -1 };

    /// The bytes of the span, `None` for null.
    #[inline(always)]
    pub(crate) fn get(self, data: &[u8]) -> Option<&[u8]> {
        if self.len < 0 {
            None
        } else {
            let start = self.start as usize;
            data.get(start..start + self.len as usize)
        }
    }

    /// The span as a `Bytes` slice of `data`, `None` for null.
    #[inline]
    pub(crate) fn slice(self, data: &Bytes) -> Option<Bytes> {
        if self.len < 0 {
            None
        } else {
            let start = self.start as usize;
            Some(data.slice(start..start + self.len as usize))
        }
    }
}

/// One decoded record, as the batch stores it: 40 bytes of deltas and spans
/// into the record bytes, with no reference counting and no allocation. Keys
/// and values become `Bytes` only when asked for ([`super::RecordRef`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) timestamp_delta: i64,
    pub(crate) offset_delta: i32,
    pub(crate) key: Span,
    pub(crate) value: Span,
    /// Index of the record's first header in the batch's header list.
    pub(crate) headers_start: u32,
    pub(crate) headers_len: u32,
    pub(crate) attributes: i8,
}

/// One decoded header: spans into the record bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderEntry {
    pub(crate) key: Span,
    pub(crate) value: Span,
}

#[inline(always)]
fn unzigzag32(u: u32) -> i32 {
    ((u >> 1) as i32) ^ -((u & 1) as i32)
}

#[inline(always)]
fn unzigzag64(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Reads a zig-zag varint at `*pos` of `s` (which ends where the field's
/// record ends). One- and two-byte encodings, which cover lengths below 8 KiB
/// and deltas below 4096, are decoded inline; longer ones go to the shared
/// primitive.
#[inline(always)]
fn varint(s: &[u8], pos: &mut usize) -> Result<i32, Reason> {
    let p = *pos;
    if let Some(&b0) = s.get(p) {
        if b0 < 0x80 {
            *pos = p + 1;
            return Ok(unzigzag32(u32::from(b0)));
        }
        if let Some(&b1) = s.get(p + 1) {
            if b1 < 0x80 {
                *pos = p + 2;
                return Ok(unzigzag32(u32::from(b0 & 0x7f) | (u32::from(b1) << 7)));
            }
        }
    }
    varint_slow(s, pos)
}

#[cold]
#[inline(never)]
fn varint_slow(s: &[u8], pos: &mut usize) -> Result<i32, Reason> {
    let tail = s.get(*pos..).unwrap_or_default();
    let (v, n) = decode_varint(tail).map_err(|_| "malformed or truncated varint")?;
    *pos += n;
    Ok(v)
}

/// Reads a zig-zag varlong at `*pos` of `s`, like [`varint`].
#[inline(always)]
fn varlong(s: &[u8], pos: &mut usize) -> Result<i64, Reason> {
    let p = *pos;
    if let Some(&b0) = s.get(p) {
        if b0 < 0x80 {
            *pos = p + 1;
            return Ok(unzigzag64(u64::from(b0)));
        }
        if let Some(&b1) = s.get(p + 1) {
            if b1 < 0x80 {
                *pos = p + 2;
                return Ok(unzigzag64(u64::from(b0 & 0x7f) | (u64::from(b1) << 7)));
            }
        }
    }
    varlong_slow(s, pos)
}

#[cold]
#[inline(never)]
fn varlong_slow(s: &[u8], pos: &mut usize) -> Result<i64, Reason> {
    let tail = s.get(*pos..).unwrap_or_default();
    let (v, n) = decode_varlong(tail).map_err(|_| "malformed or truncated varlong")?;
    *pos += n;
    Ok(v)
}

/// Reads a length-prefixed field (-1 for null when `nullable`) as a span.
#[inline(always)]
fn span(s: &[u8], pos: &mut usize, nullable: bool, what: Reason) -> Result<Span, Reason> {
    let len = varint(s, pos)?;
    if len < 0 {
        return if len == -1 && nullable {
            Ok(Span::NULL)
        } else {
            Err(what)
        };
    }
    if len as usize > s.len() - *pos {
        return Err(what);
    }
    // Positions fit in u32: the record bytes are capped at i32::MAX.
    let sp = Span {
        start: *pos as u32,
        len,
    };
    *pos += len as usize;
    Ok(sp)
}

/// Decodes one record whose length prefix starts at `*pos`.
#[inline(always)]
fn decode_one(s: &[u8], pos: &mut usize, headers: &mut Vec<HeaderEntry>) -> Result<Entry, Reason> {
    let len = varint(s, pos)?;
    if len < 0 || len as usize > s.len() - *pos {
        return Err("record length is negative or runs past the batch");
    }
    let end = *pos + len as usize;
    // Every field read below is bounded by the record, not the batch.
    let s = &s[..end];
    let Some(&attributes) = s.get(*pos) else {
        return Err("record is empty");
    };
    *pos += 1;
    let timestamp_delta = varlong(s, pos)?;
    let offset_delta = varint(s, pos)?;
    let key = span(s, pos, true, "invalid key length")?;
    let value = span(s, pos, true, "invalid value length")?;
    let count = varint(s, pos)?;
    // Each header takes at least two bytes (two one-byte lengths): bound the
    // count by the bytes left before reserving by it.
    if count < 0 || count as usize > (end - *pos) / 2 {
        return Err("invalid header count");
    }
    let headers_start = headers.len() as u32;
    if count > 0 {
        headers.reserve(count as usize);
        for _ in 0..count {
            let key = span(s, pos, false, "invalid header key length")?;
            let value = span(s, pos, true, "invalid header value length")?;
            headers.push(HeaderEntry { key, value });
        }
    }
    if *pos != end {
        return Err("record length does not match its fields");
    }
    Ok(Entry {
        timestamp_delta,
        offset_delta,
        key,
        value,
        headers_start,
        headers_len: count as u32,
        attributes: attributes as i8,
    })
}

/// A one- or two-byte varint from the low bytes of `w`: its zig-zag value
/// and its length, or `None` for a longer (or unterminated) one.
#[inline(always)]
fn small(w: u64) -> Option<(u32, usize)> {
    let b0 = w as u32 & 0xff;
    if b0 < 0x80 {
        return Some((b0, 1));
    }
    let b1 = (w >> 8) as u32 & 0xff;
    if b1 < 0x80 {
        return Some(((b0 & 0x7f) | (b1 << 7), 2));
    }
    None
}

/// A nullable length-prefixed field whose zig-zag length is `z`, starting
/// at `at`: its span and byte length, or `None` for a negative length other
/// than -1 (null).
#[inline(always)]
fn small_span(z: u32, at: usize) -> Option<(Span, usize)> {
    if z & 1 == 0 {
        let len = (z >> 1) as usize;
        let span = Span {
            start: at as u32,
            len: len as i32,
        };
        return Some((span, len));
    }
    if z == 1 {
        return Some((Span::NULL, 0));
    }
    None
}

/// The common record: no headers, and every varint one or two bytes
/// (lengths below 8 KiB, deltas below 4096). Returns the entry and the
/// record's end, or `None` for anything else (including any malformed
/// record), which [`decode_one`] then decodes or rejects with its reason.
///
/// The length, attributes and deltas come from one 8-byte load, the key
/// length from a 2-byte one, all at offsets computed in registers; the
/// branches are never taken on valid input. The next record's position
/// depends only on this record's length prefix, not on parsing its fields,
/// so the processor overlaps consecutive records.
///
/// The entry is written straight into its slot of the batch's entry vector:
/// returning it (as `Option<(Entry, usize)>`) made the compiler build it on
/// the stack and copy it, which cost more than parsing the record.
#[inline(always)]
fn decode_fast_into(
    s: &[u8],
    start: usize,
    headers_start: u32,
    slot: &mut MaybeUninit<Entry>,
) -> Option<usize> {
    let (entry, end) = decode_fast(s, start, headers_start)?;
    slot.write(entry);
    Some(end)
}

#[inline(always)]
fn decode_fast(s: &[u8], start: usize, headers_start: u32) -> Option<(Entry, usize)> {
    // 16 bytes must remain: the first 8 hold the length (2), attributes (1)
    // and deltas (2 + 2), the key length (2) starts within the next 8.
    let window: &[u8; 16] = s.get(start..start + 16)?.try_into().ok()?;
    let w = u64::from_le_bytes(window[..8].try_into().ok()?);
    let (zlen, n) = small(w)?;
    if zlen & 1 != 0 {
        return None;
    }
    let end = start + n + (zlen >> 1) as usize;
    if end > s.len() {
        return None;
    }
    let mut p = n;
    let attributes = (w >> (8 * p)) as u8 as i8;
    p += 1;
    let (zts, n) = small(w >> (8 * p))?;
    p += n;
    let (zod, n) = small(w >> (8 * p))?;
    p += n;
    // p <= 7 here, so the key length's two bytes are inside the window.
    let (zkey, n) = small(u64::from(u16::from_le_bytes([window[p], window[p + 1]])))?;
    p += start + n;
    let (key, klen) = small_span(zkey, p)?;
    p += klen;
    // The value length, the value and the header count (one byte) must end
    // exactly at the record's end; the value length takes at least one byte
    // and the count one, so reading two bytes here stays inside the record.
    if p + 2 > end {
        return None;
    }
    let (zvalue, n) = small(u64::from(u16::from_le_bytes([s[p], s[p + 1]])))?;
    p += n;
    let (value, vlen) = small_span(zvalue, p)?;
    p += vlen;
    if p + 1 != end || s[p] != 0 {
        return None;
    }
    Some((
        Entry {
            timestamp_delta: unzigzag64(u64::from(zts)),
            offset_delta: unzigzag32(zod),
            key,
            value,
            headers_start,
            headers_len: 0,
            attributes,
        },
        end,
    ))
}

/// Decodes exactly `count` records that fill all of `s`.
///
/// `count` must already be checked against `s.len() / MIN_RECORD_SIZE`, so
/// the `Vec` is sized by bytes actually present, and `s.len()` must fit in
/// `u32`.
pub(crate) fn decode_records(
    s: &[u8],
    count: usize,
) -> Result<(Vec<Entry>, Vec<HeaderEntry>), RecordsError> {
    debug_assert!(s.len() <= i32::MAX as usize);
    let mut entries = Vec::with_capacity(count);
    let mut headers = Vec::new();
    let mut pos = 0;
    for (index, slot) in entries.spare_capacity_mut()[..count].iter_mut().enumerate() {
        if let Some(end) = decode_fast_into(s, pos, headers.len() as u32, slot) {
            pos = end;
            continue;
        }
        match decode_one(s, &mut pos, &mut headers) {
            Ok(e) => {
                slot.write(e);
            }
            Err(reason) => return Err(RecordsError::InvalidRecord { index, reason }),
        }
    }
    // SAFETY: the loop wrote each of the first `count` slots (capacity is at
    // least `count`) or returned early, dropping the vector at length 0.
    unsafe { entries.set_len(count) };
    if pos != s.len() {
        return Err(RecordsError::TrailingBytes {
            remaining: s.len() - pos,
        });
    }
    Ok((entries, headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever bytes it is given, the fast path either declines or agrees
    /// with the general decoder on the entry and on where the record ends.
    #[test]
    fn fast_path_agrees_with_general_decoder() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut taken = 0;
        for i in 0..200_000 {
            let len = 24 + (next() % 40) as usize;
            let mut s: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Steer half the inputs towards well-formed small records so the
            // fast path is exercised, with random corruption on top.
            if i % 2 == 0 {
                let klen = (next() % 8) as usize;
                let vlen = (next() % 8) as usize;
                let body = 1 + 2 + 2 + 1 + klen + 1 + vlen + 1;
                s[0] = (body << 1) as u8;
                s[1] = 0;
                s[2] = 0x80 | next() as u8;
                s[3] = next() as u8 & 0x7f;
                s[4] = 0x80 | next() as u8;
                s[5] = next() as u8 & 0x7f;
                s[6] = (klen << 1) as u8;
                s[7 + klen] = (vlen << 1) as u8;
                s[7 + klen + 1 + vlen] = 0;
                if next() % 4 == 0 {
                    let at = (next() as usize) % len;
                    s[at] = next() as u8;
                }
            }
            let fast = decode_fast(&s, 0, 0);
            let mut pos = 0;
            let mut headers = Vec::new();
            let general = decode_one(&s, &mut pos, &mut headers);
            if let Some((entry, end)) = fast {
                taken += 1;
                assert_eq!(general, Ok(entry), "input {s:?}");
                assert_eq!(pos, end, "input {s:?}");
                assert!(headers.is_empty());
            }
        }
        assert!(taken > 50_000, "fast path taken only {taken} times");
    }
}
