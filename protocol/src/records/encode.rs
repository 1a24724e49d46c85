//! Encoding records into a batch buffer, for [`super::RecordBatchBuilder`].
//!
//! Sizes are computed before writing so the builder knows each record's exact
//! encoded size; the common small record takes a fast path that skips the
//! general size computation.

use bytes::Bytes;

use super::error::RecordsError;
use super::header::Header;
use crate::primitives::varint::{uvarlong_size, varint_size, varlong_size};

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

/// Bytes of a nullable field: its zig-zag length, then its bytes. Lengths
/// past `i32::MAX` still give a (too large) size, which the caller rejects.
#[inline(always)]
fn field_size(len: Option<usize>) -> usize {
    match len {
        None => 1,
        Some(n) => uvarlong_size((n as u64) << 1).saturating_add(n),
    }
}

/// Bytes of a record body (everything after its length prefix).
///
/// Sums without checking each field: the body only fits when the total is
/// at most `i32::MAX`, and then so does every field, so one check at the end
/// covers them all.
#[inline]
pub(crate) fn body_size(
    r: &NewRecord<'_>,
    timestamp_delta: i64,
    offset_delta: i32,
) -> Result<usize, RecordsError> {
    let mut size = 1 + varlong_size(timestamp_delta) + varint_size(offset_delta);
    size = size
        .saturating_add(field_size(r.key.map(<[u8]>::len)))
        .saturating_add(field_size(r.value.map(<[u8]>::len)))
        .saturating_add(field_size(Some(r.headers.len())) - r.headers.len());
    for h in r.headers {
        size = size
            .saturating_add(field_size(Some(h.key.len())))
            .saturating_add(field_size(h.value.as_ref().map(Bytes::len)));
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

/// Writes into a record's bytes, already sized and zeroed in the batch
/// buffer. Writing in place keeps the varints as single-byte stores (no
/// per-byte capacity check) and leaves one `memmove` per key and value.
struct Cursor<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Cursor<'_> {
    #[inline(always)]
    fn uvarlong(&mut self, mut v: u64) {
        // One- and two-byte values (most lengths and deltas) as one store.
        if v < 0x80 {
            self.buf[self.pos] = v as u8;
            self.pos += 1;
            return;
        }
        if v < 0x4000 {
            self.buf[self.pos..self.pos + 2].copy_from_slice(&[(v as u8) | 0x80, (v >> 7) as u8]);
            self.pos += 2;
            return;
        }
        while v >= 0x80 {
            self.buf[self.pos] = (v as u8) | 0x80;
            self.pos += 1;
            v >>= 7;
        }
        self.buf[self.pos] = v as u8;
        self.pos += 1;
    }

    #[inline(always)]
    fn varint(&mut self, v: i32) {
        self.uvarlong(u64::from(((v << 1) ^ (v >> 31)) as u32));
    }

    #[inline(always)]
    fn varlong(&mut self, v: i64) {
        self.uvarlong(((v << 1) ^ (v >> 63)) as u64);
    }

    #[inline(always)]
    fn field(&mut self, b: Option<&[u8]>) {
        match b {
            None => self.varint(-1),
            Some(b) => {
                self.varint(b.len() as i32);
                self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
                self.pos += b.len();
            }
        }
    }
}

/// Writes one or two varint bytes of `v` (which must be below 2^14) at
/// `base + at` and returns the position after them.
///
/// # Safety
/// `base + at` must be valid for writing 2 bytes when `v >= 0x80`, else 1.
#[inline(always)]
unsafe fn put_small_raw(base: *mut u8, at: usize, v: u64) -> usize {
    if v < 0x80 {
        *base.add(at) = v as u8;
        at + 1
    } else {
        *base.add(at) = (v as u8) | 0x80;
        *base.add(at + 1) = (v >> 7) as u8;
        at + 2
    }
}

/// The common record shape, encoded without the general size computation:
/// no headers, and every length and delta small enough for a one- or
/// two-byte varint (keys and values under 4 KiB, deltas under 8192). Returns
/// the bytes appended, or `None` (having appended nothing) for any other
/// record, which then takes the general path.
///
/// A producer pushes millions of these; the general path's per-field size
/// checks and varint loops were most of the encoding time.
#[inline(always)]
pub(crate) fn write_simple(
    out: &mut Vec<u8>,
    r: &NewRecord<'_>,
    timestamp_delta: i64,
    offset_delta: i32,
) -> Option<usize> {
    const SMALL: u64 = 1 << 14;
    if !r.headers.is_empty() {
        return None;
    }
    let zts = ((timestamp_delta << 1) ^ (timestamp_delta >> 63)) as u64;
    let zod = u64::from(((offset_delta << 1) ^ (offset_delta >> 31)) as u32);
    // Zig-zag lengths; -1 (null) is 1.
    let zkey = r.key.map_or(1, |k| (k.len() as u64) << 1);
    let zvalue = r.value.map_or(1, |v| (v.len() as u64) << 1);
    if zts >= SMALL || zod >= SMALL || zkey >= SMALL || zvalue >= SMALL {
        return None;
    }
    let size = |v: u64| 1 + usize::from(v >= 0x80);
    let body = 1
        + size(zts)
        + size(zod)
        + size(zkey)
        + r.key.map_or(0, <[u8]>::len)
        + size(zvalue)
        + r.value.map_or(0, <[u8]>::len)
        + 1;
    let zbody = (body as u64) << 1;
    if zbody >= SMALL {
        return None;
    }
    let total = size(zbody) + body;
    out.reserve(total);
    let len = out.len();
    // SAFETY: `reserve` made room for `total` more bytes after `len`. The
    // writes below fill exactly `total` bytes from there (each small varint
    // is the 1 or 2 bytes `size` counted, the key and value are copied whole,
    // and the last byte is the header count), so every byte up to
    // `len + total` is initialised before `set_len`. Keys and values are
    // borrowed from the caller and cannot overlap the vector's spare capacity.
    // This path writes every record a producer sends; without the per-field
    // capacity checks and length updates of `push`/`extend_from_slice` it
    // runs about twice as fast.
    unsafe {
        let base = out.as_mut_ptr().add(len);
        let mut at = put_small_raw(base, 0, zbody);
        *base.add(at) = 0; // attributes: none defined yet
        at += 1;
        at = put_small_raw(base, at, zts);
        at = put_small_raw(base, at, zod);
        at = put_small_raw(base, at, zkey);
        if let Some(k) = r.key {
            std::ptr::copy_nonoverlapping(k.as_ptr(), base.add(at), k.len());
            at += k.len();
        }
        at = put_small_raw(base, at, zvalue);
        if let Some(v) = r.value {
            std::ptr::copy_nonoverlapping(v.as_ptr(), base.add(at), v.len());
            at += v.len();
        }
        *base.add(at) = 0; // no headers
        debug_assert_eq!(at + 1, total);
        out.set_len(len + total);
    }
    Some(total)
}

/// Appends a record whose body size [`body_size`] computed (and checked).
#[inline]
pub(crate) fn write_record(
    out: &mut Vec<u8>,
    r: &NewRecord<'_>,
    body: usize,
    timestamp_delta: i64,
    offset_delta: i32,
) {
    let at = out.len();
    let total = framed_size(body);
    out.resize(at + total, 0);
    let mut c = Cursor {
        buf: &mut out[at..],
        pos: 0,
    };
    c.varint(body as i32);
    c.pos += 1; // attributes: none defined yet, left 0
    c.varlong(timestamp_delta);
    c.varint(offset_delta);
    c.field(r.key);
    c.field(r.value);
    c.varint(r.headers.len() as i32);
    for h in r.headers {
        c.field(Some(&h.key));
        c.field(h.value.as_deref());
    }
    debug_assert_eq!(c.pos, total);
}
