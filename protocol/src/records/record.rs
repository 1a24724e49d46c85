//! One record inside a batch: its wire layout and decoder (the encoder is in `encode.rs`).
//!
//! ```text
//! length varint | attributes i8 | timestampDelta varlong | offsetDelta varint
//! keyLength varint (-1 null) | key | valueLength varint (-1 null) | value
//! headerCount varint | headers: keyLength varint | key | valueLength varint (-1 null) | value
//! ```
//!
//! Decoding is the hot path of a consumer. Records are decoded as they are
//! iterated ([`super::Records`]), one at a time into a small entry of deltas
//! and spans that lives in registers, so decoding a batch allocates nothing
//! per record and writes nothing back to memory. The decoder indexes into one
//! `&[u8]` with explicit bounds checks; the common header-less record is read
//! from one 8-byte load ([`decode_fast`]). Turning a span into a `Bytes` slice
//! costs an atomic reference-count increment (and another on drop), more than
//! parsing the record, so it happens only when a caller asks
//! ([`super::RecordRef::key_bytes`]) and never involves a copy.

use bytes::Bytes;

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

/// Why a record failed to decode; mapped to [`super::RecordsError::InvalidRecord`]
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
}

/// One decoded record: deltas, and key and value borrowed from the record
/// bytes, with no reference counting and no allocation. Keys and values
/// become `Bytes` only when asked for ([`super::RecordRef`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    pub(crate) timestamp_delta: i64,
    pub(crate) offset_delta: i32,
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) value: Option<&'a [u8]>,
    /// Where the record's headers start in the record bytes (checked by the
    /// decoder, read again by [`super::Headers`]).
    pub(crate) headers_start: u32,
    /// How many headers the record has.
    pub(crate) headers_len: u32,
    pub(crate) attributes: i8,
}

impl Entry<'_> {
    /// A placeholder for [`decode_general`] to write over.
    pub(crate) const EMPTY: Self = Entry {
        timestamp_delta: 0,
        offset_delta: 0,
        key: None,
        value: None,
        headers_start: 0,
        headers_len: 0,
        attributes: 0,
    };
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

/// Decodes one record whose length prefix starts at `*pos`, checking every
/// field against the record's length. Headers are checked here but not kept:
/// the entry records where they start and how many there are, and
/// [`super::Headers`] reads them again when asked.
#[inline(always)]
fn decode_one<'a>(s: &'a [u8], pos: &mut usize) -> Result<Entry<'a>, Reason> {
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
    // Each header takes at least two bytes (two one-byte lengths), which
    // also bounds the loop below by the bytes left.
    if count < 0 || count as usize > (end - *pos) / 2 {
        return Err("invalid header count");
    }
    let headers_start = *pos as u32;
    for _ in 0..count {
        span(s, pos, false, "invalid header key length")?;
        span(s, pos, true, "invalid header value length")?;
    }
    if *pos != end {
        return Err("record length does not match its fields");
    }
    Ok(Entry {
        timestamp_delta,
        offset_delta,
        key: key.get(s),
        value: value.get(s),
        headers_start,
        headers_len: count as u32,
        attributes: attributes as i8,
    })
}

/// The general decoder, out of line so the iterator's loop keeps its
/// registers for the fast path. It writes the entry through `out` and returns
/// the record's end: a small return value comes back in registers, where
/// returning the entry by value made the compiler merge both paths' results
/// in memory, and the wide copies that merge made stalled every record.
#[inline(never)]
pub(crate) fn decode_general<'a>(
    s: &'a [u8],
    start: usize,
    out: &mut Entry<'a>,
) -> Result<usize, Reason> {
    let mut pos = start;
    *out = decode_one(s, &mut pos)?;
    Ok(pos)
}

/// Reads the next header of a record whose headers [`decode_one`] checked:
/// its key and value, or `None` if the bytes are not a header (which cannot
/// happen for a checked record).
#[inline]
pub(crate) fn next_header<'a>(
    s: &'a [u8],
    pos: &mut usize,
) -> Option<(&'a [u8], Option<&'a [u8]>)> {
    let key = span(s, pos, false, "").ok()?.get(s)?;
    let value = span(s, pos, true, "").ok()?;
    Some((key, value.get(s)))
}

/// A nullable length-prefixed field of `s` whose zig-zag length is `z`,
/// starting at `at`: its bytes and byte length, or `None` for a negative
/// length other than -1 (null) or one running past `s`.
#[inline(always)]
fn small_field(s: &[u8], z: u32, at: usize) -> Option<(Option<&[u8]>, usize)> {
    if z & 1 == 0 {
        let len = (z >> 1) as usize;
        return Some((Some(s.get(at..at + len)?), len));
    }
    if z == 1 {
        return Some((None, 0));
    }
    None
}

/// The value of a header-less record whose value length starts at `p` and
/// whose bytes `record` end with the header count: `None` unless the record
/// is its value length, the value and a header count of 0, with a value
/// length of one or two bytes.
///
/// Such a record leaves only one value length possible for each size of its
/// varint, so rather than parse the varint this computes the bytes it must
/// be and compares: fewer instructions and one predictable branch (on the
/// varint's size, which values in a batch share).
#[inline(always)]
fn value_to_end(record: &[u8], p: usize) -> Option<Option<&[u8]>> {
    let rest = record.get(p..)?;
    // The record's last byte is the header count.
    if record.last() != Some(&0) {
        return None;
    }
    // If the value length takes two bytes, the value is all but those and
    // the count. Lengths 63 to 8191 (those above 62 that fit 14 bits of
    // zig-zag) take two bytes; one range check picks them first, as values
    // of 64 bytes and more are the common case.
    let two = rest.len().wrapping_sub(3);
    if two.wrapping_sub(63) < 8192 - 63 {
        let z = (two as u32) << 1;
        // Low 7 bits with the continuation bit, then the high 7 bits one
        // place up: adding z's bits from 7 up to z moves them there (z < 2^14).
        let expected = z + (z & !0x7f) + 0x80;
        let &b = rest.first_chunk::<2>()?;
        return (u32::from(u16::from_le_bytes(b)) == expected).then(|| rest.get(2..2 + two));
    }
    // Else a one-byte length, all but that byte and the count; `one` wraps
    // (and fails the check) if fewer than two bytes remain.
    let one = rest.len().wrapping_sub(2);
    if one < 64 {
        // A one-byte zig-zag length: 2 * len.
        return (rest[0] == (one as u8) << 1).then(|| rest.get(1..1 + one));
    }
    None
}

/// The varint of `N` (1 or 2) bytes at the bottom of `w`, whose continuation
/// bits the caller has checked.
#[inline(always)]
fn field<const N: usize>(w: u64) -> u32 {
    if N == 1 {
        (w & 0xff) as u32
    } else {
        // Byte 0's low 7 bits, then byte 1's 7 bits (its top bit is clear).
        ((w & 0x7f) | ((w >> 1) & 0x3f80)) as u32
    }
}

/// The continuation bits (bit 7) of the eight bytes of `w`, as bit i for byte i.
///
/// On x86_64 this is SSE2's byte-sign mask (two instructions, where the
/// portable multiply-and-shift takes five and two 64-bit constants, which
/// the decode loop has no spare registers to keep).
#[inline(always)]
fn continuation_bits(w: u64) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cvtsi64_si128, _mm_movemask_epi8};
        // SAFETY: SSE2 is part of the x86_64 baseline, so these are always available.
        let bits = unsafe { _mm_movemask_epi8(_mm_cvtsi64_si128(w as i64)) };
        // Only the low eight bits can be set; saying so drops a bounds check.
        usize::from(bits as u8)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        ((w & 0x8080_8080_8080_8080).wrapping_mul(0x0002_0408_1020_4081) >> 56) as usize
    }
}

/// The layout of a record's first eight bytes, read off their continuation
/// bits: 1 + the sum of 1 (length), 2 (timestamp delta), 4 (offset delta)
/// and 8 (key length) for each of those varints that takes two bytes rather
/// than one; 0 when a varint is longer, the attributes byte has its top bit
/// set, or the key length does not end within the eight bytes (so a record
/// whose length and deltas all take two bytes needs a one-byte key length).
const fn shape_of(bits: usize) -> u8 {
    const fn set(bits: usize, i: usize) -> bool {
        i < 8 && (bits >> i) & 1 == 1
    }
    let mut p = 0;
    let mut id = 0;
    let mut field = 0;
    while field < 4 {
        if field == 1 {
            // The attributes byte, between the length and the deltas.
            if set(bits, p) {
                return 0;
            }
            p += 1;
        }
        if p >= 8 {
            return 0;
        }
        if set(bits, p) {
            if p + 1 >= 8 || set(bits, p + 1) {
                return 0;
            }
            id |= 1 << field;
            p += 2;
        } else {
            p += 1;
        }
        field += 1;
    }
    id + 1
}

/// [`shape_of`] for every value of the continuation bits.
const SHAPES: [u8; 256] = {
    let mut table = [0; 256];
    let mut bits = 0;
    while bits < 256 {
        table[bits] = shape_of(bits);
        bits += 1;
    }
    table
};

/// The common record: no headers, every varint one or two bytes (lengths
/// below 8 KiB, deltas below 4096), attributes below 0x80. Returns the entry
/// and the record's end, or `None` for anything else (including any
/// malformed record), which [`decode_one`] then decodes or rejects.
///
/// One 8-byte load holds the length, attributes, both deltas and the key
/// length. Their continuation bits pick one of 15 layouts (a jump the
/// processor predicts, as records in a batch share a layout), each of which
/// reads its fields at constant positions; this takes about half the
/// instructions of walking the fields one varint at a time. The next
/// record's position depends only on the length prefix, so consecutive
/// records overlap in the processor.
///
/// `s.len()` must fit in `u32`.
#[inline(always)]
pub(crate) fn decode_fast(s: &[u8], start: usize) -> Option<(Entry<'_>, usize)> {
    // `start` is below 2^32 (`s.len()` fits in u32), which the compiler
    // sees through the cast: `start + 8` cannot overflow, so the load needs
    // one bounds check rather than two.
    let start = start as u32 as usize;
    let w = u64::from_le_bytes(*s.get(start..start + 8)?.first_chunk::<8>()?);
    // Ids are below 16; the mask lets the compiler drop the jump table's
    // range check.
    match SHAPES[continuation_bits(w)] & 15 {
        1 => layout::<1, 1, 1, 1>(s, start, w),
        2 => layout::<2, 1, 1, 1>(s, start, w),
        3 => layout::<1, 2, 1, 1>(s, start, w),
        4 => layout::<2, 2, 1, 1>(s, start, w),
        5 => layout::<1, 1, 2, 1>(s, start, w),
        6 => layout::<2, 1, 2, 1>(s, start, w),
        7 => layout::<1, 2, 2, 1>(s, start, w),
        8 => layout::<2, 2, 2, 1>(s, start, w),
        9 => layout::<1, 1, 1, 2>(s, start, w),
        10 => layout::<2, 1, 1, 2>(s, start, w),
        11 => layout::<1, 2, 1, 2>(s, start, w),
        12 => layout::<2, 2, 1, 2>(s, start, w),
        13 => layout::<1, 1, 2, 2>(s, start, w),
        14 => layout::<2, 1, 2, 2>(s, start, w),
        15 => layout::<1, 2, 2, 2>(s, start, w),
        _ => None, // 0: not a fast-path layout
    }
}

/// The timestamp and offset deltas, of `T` and `O` bytes, at the bottom of
/// `w`. Two two-byte deltas (every record after the 64th of a batch) are
/// decoded together, one in each 16-bit half of a word.
#[inline(always)]
fn deltas<const T: usize, const O: usize>(w: u64) -> (i64, i32) {
    if T == 2 && O == 2 {
        let x = w as u32;
        // Each half: its low byte's 7 bits, then its high byte's 7 bits.
        let z = (x & 0x007f_007f) | ((x >> 1) & 0x3f80_3f80);
        // Zig-zag in each half: the value is z / 2, negated (as !) when odd.
        let negate = (z & 0x0001_0001).wrapping_mul(0xffff);
        let v = ((z >> 1) & 0x1fff_1fff) ^ negate;
        (
            i64::from(v as u16 as i16),
            i32::from((v >> 16) as u16 as i16),
        )
    } else {
        let zts = field::<T>(w);
        let zod = field::<O>(w >> (8 * T));
        (unzigzag64(u64::from(zts)), unzigzag32(zod))
    }
}

/// [`decode_fast`] for one layout: `L`, `T`, `O` and `K` are the byte sizes
/// of the length, timestamp delta, offset delta and key length varints,
/// whose bytes (all within `w`) the layout table has checked.
#[inline(always)]
fn layout<const L: usize, const T: usize, const O: usize, const K: usize>(
    s: &[u8],
    start: usize,
    w: u64,
) -> Option<(Entry<'_>, usize)> {
    let zlen = field::<L>(w);
    if zlen & 1 != 0 {
        return None;
    }
    let end = start + L + (zlen >> 1) as usize;
    // Reads below index `record`, whose length is the record's end, so the
    // compiler can drop bounds checks the field checks already imply.
    let record = s.get(..end)?;
    let attributes = (w >> (8 * L)) as u8 as i8;
    let (timestamp_delta, offset_delta) = deltas::<T, O>(w >> (8 * (L + 1)));
    let zkey = field::<K>(w >> (8 * (L + 1 + T + O)));
    let mut p = start + L + 1 + T + O + K;
    let (key, klen) = small_field(record, zkey, p)?;
    p += klen;
    let value = value_to_end(record, p)?;
    let entry = Entry {
        timestamp_delta,
        offset_delta,
        key,
        value,
        headers_start: end as u32,
        headers_len: 0,
        attributes,
    };
    Some((entry, end))
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
        // A varint of one or two bytes (the fast path's sizes), rarely three.
        let varint = |out: &mut Vec<u8>, z: u32| {
            let mut z = z;
            while z >= 0x80 {
                out.push(z as u8 | 0x80);
                z >>= 7;
            }
            out.push(z as u8);
        };
        let mut taken = 0;
        let (mut boundary, mut long) = (0, 0);
        let mut layouts = [0u32; 17];
        for i in 0..300_000 {
            let len = 24 + (next() % 200) as usize;
            let mut s: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Steer most inputs towards well-formed header-less records of
            // every layout, so each fast-path layout is exercised, with
            // random corruption on top.
            if i % 4 != 0 {
                let size = |r: u64| match r % 8 {
                    0 => 1 << 14,
                    1..=3 => 1 << 7,
                    _ => 1 << 13,
                };
                let key = (next() % 3 != 0).then(|| (next() % 70) as usize);
                // Mostly short values, sometimes at the one/two-byte length
                // boundary or as long as a two-byte record length allows.
                let value = (next() % 4 != 0).then(|| match next() % 8 {
                    0 => 62 + (next() % 4) as usize,
                    1 => 8_100 + (next() % 90) as usize,
                    _ => (next() % 90) as usize,
                });
                let mut body = vec![0u8];
                varint(&mut body, (next() % size(next())) as u32);
                varint(&mut body, (next() % size(next())) as u32);
                for field in [key, value] {
                    match field {
                        None => body.push(0x01),
                        Some(n) => {
                            varint(&mut body, (n << 1) as u32);
                            body.extend((0..n).map(|_| next() as u8));
                        }
                    }
                }
                body.push(0);
                let mut rec = Vec::new();
                varint(&mut rec, (body.len() << 1) as u32);
                rec.extend_from_slice(&body);
                // Long records are mostly kept whole, sometimes truncated.
                if rec.len() > s.len() && next() % 4 != 0 {
                    s.resize(rec.len() + (next() % 8) as usize, 0);
                }
                let n = rec.len().min(s.len());
                s[..n].copy_from_slice(&rec[..n]);
                if next() % 4 == 0 {
                    let at = (next() as usize) % s.len();
                    s[at] = next() as u8;
                }
            }
            if let Some(w) = s.first_chunk::<8>() {
                layouts[usize::from(SHAPES[continuation_bits(u64::from_le_bytes(*w))])] += 1;
            }
            let fast = decode_fast(&s, 0);
            let mut entry = Entry::EMPTY;
            let general = decode_general(&s, 0, &mut entry).map(|end| (entry, end));
            if let Some(decoded) = fast {
                taken += 1;
                match decoded.0.value.map(<[u8]>::len) {
                    Some(62..=65) => boundary += 1,
                    Some(8_100..) => long += 1,
                    _ => {}
                }
                assert_eq!(general, Ok(decoded), "input {s:?}");
            }
        }
        assert!(taken > 100_000, "fast path taken only {taken} times");
        // Values at the one/two-byte length boundary and long ones were decoded too.
        assert!(boundary > 3_000 && long > 3_000, "{boundary} {long}");
        // Every layout was tried many times (a two-byte key length after
        // two-byte length and deltas starts at byte 7, so it has none).
        assert!(layouts[1..16].iter().all(|&n| n > 300), "{layouts:?}");
    }
}
