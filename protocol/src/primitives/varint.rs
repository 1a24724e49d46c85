//! Variable-length integers: unsigned (flexible-version lengths and tags) and
//! zig-zag signed (record fields), as in Protocol Buffers.

use bytes::{BufMut, Bytes};

use crate::error::DecodeError;

/// Bytes taken by `v` as an unsigned varint.
#[inline]
pub const fn uvarint_size(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

/// Bytes taken by `v` as an unsigned 64-bit varint.
#[inline]
pub const fn uvarlong_size(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Bytes taken by `v` as a zig-zag varint.
#[inline]
pub const fn varint_size(v: i32) -> usize {
    uvarint_size(((v << 1) ^ (v >> 31)) as u32)
}

/// Bytes taken by `v` as a zig-zag varlong.
#[inline]
pub const fn varlong_size(v: i64) -> usize {
    uvarlong_size(((v << 1) ^ (v >> 63)) as u64)
}

/// Appends `v` as an unsigned varint.
#[inline]
pub fn put_uvarint(buf: &mut impl BufMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Appends `v` as an unsigned 64-bit varint.
#[inline]
pub fn put_uvarlong(buf: &mut impl BufMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Appends `v` as a zig-zag varint.
#[inline]
pub fn put_varint(buf: &mut impl BufMut, v: i32) {
    put_uvarint(buf, ((v << 1) ^ (v >> 31)) as u32)
}

/// Appends `v` as a zig-zag varlong.
#[inline]
pub fn put_varlong(buf: &mut impl BufMut, v: i64) {
    put_uvarlong(buf, ((v << 1) ^ (v >> 63)) as u64)
}

/// Reads an unsigned varint from the front of `s`; returns it and the bytes it took.
///
/// At most five bytes are read; a longer encoding is [`DecodeError::VarintTooLong`].
#[inline]
pub fn decode_uvarint(s: &[u8]) -> Result<(u32, usize), DecodeError> {
    let mut v: u32 = 0;
    for i in 0..5 {
        let Some(&b) = s.get(i) else {
            return Err(DecodeError::Truncated {
                needed: i + 1,
                remaining: s.len(),
            });
        };
        if i == 4 && b > 0x0f {
            return Err(DecodeError::VarintTooLong);
        }
        v |= u32::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Ok((v, i + 1));
        }
    }
    Err(DecodeError::VarintTooLong)
}

/// Reads an unsigned 64-bit varint from the front of `s`; returns it and the bytes it took.
#[inline]
pub fn decode_uvarlong(s: &[u8]) -> Result<(u64, usize), DecodeError> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let Some(&b) = s.get(i) else {
            return Err(DecodeError::Truncated {
                needed: i + 1,
                remaining: s.len(),
            });
        };
        if i == 9 && b > 0x01 {
            return Err(DecodeError::VarintTooLong);
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Ok((v, i + 1));
        }
    }
    Err(DecodeError::VarintTooLong)
}

/// Reads a zig-zag varint from the front of `s`; returns it and the bytes it took.
#[inline]
pub fn decode_varint(s: &[u8]) -> Result<(i32, usize), DecodeError> {
    let (u, n) = decode_uvarint(s)?;
    Ok((((u >> 1) as i32) ^ -((u & 1) as i32), n))
}

/// Reads a zig-zag varlong from the front of `s`; returns it and the bytes it took.
#[inline]
pub fn decode_varlong(s: &[u8]) -> Result<(i64, usize), DecodeError> {
    let (u, n) = decode_uvarlong(s)?;
    Ok((((u >> 1) as i64) ^ -((u & 1) as i64), n))
}

/// Reads an unsigned varint from `buf`, advancing it.
#[inline]
pub fn get_uvarint(buf: &mut Bytes) -> Result<u32, DecodeError> {
    let (v, n) = decode_uvarint(buf)?;
    bytes::Buf::advance(buf, n);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sizes() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            300,
            -300,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ] {
            let mut b = Vec::new();
            put_varlong(&mut b, v);
            assert_eq!(b.len(), varlong_size(v));
            assert_eq!(decode_varlong(&b).unwrap(), (v, b.len()));
            if let Ok(v32) = i32::try_from(v) {
                let mut b = Vec::new();
                put_varint(&mut b, v32);
                assert_eq!(b.len(), varint_size(v32));
                assert_eq!(decode_varint(&b).unwrap(), (v32, b.len()));
            }
        }
        for v in [0u32, 127, 128, 16383, 16384, u32::MAX] {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            assert_eq!(b.len(), uvarint_size(v));
            assert_eq!(decode_uvarint(&b).unwrap(), (v, b.len()));
        }
    }

    #[test]
    fn rejects_overlong_and_truncated() {
        assert_eq!(decode_uvarint(&[0xff; 6]), Err(DecodeError::VarintTooLong));
        assert_eq!(
            decode_uvarlong(&[0xff; 11]),
            Err(DecodeError::VarintTooLong)
        );
        assert!(matches!(
            decode_uvarint(&[0x80]),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(matches!(
            decode_uvarint(&[]),
            Err(DecodeError::Truncated { .. })
        ));
    }
}
