//! The helpers generated message code calls, gathered in one place so each
//! generated module needs a single import.

use bytes::{Buf, BufMut, Bytes, BytesMut};

pub use super::tagged::{
    read_tag_count, read_tagged_header, read_tagged_value, tagged_size, unknown_tags_size,
    write_tagged, write_unknown_tags_before, RawTaggedField,
};
use super::varint::{put_uvarint, uvarint_size};
use super::{ensure, Wire};
use crate::error::{DecodeError, EncodeError};

/// Writes an optional value in a version where it may not be null.
pub fn write_non_null<T: Wire>(
    value: &Option<T>,
    buf: &mut BytesMut,
    version: i16,
    flexible: bool,
    message: &'static str,
    field: &'static str,
) -> Result<(), EncodeError> {
    match value {
        Some(v) => v.write(buf, version, flexible),
        None => Err(EncodeError::NullNotAllowed {
            message,
            field,
            version,
        }),
    }
}

/// Bytes taken by an optional value written with [`write_non_null`].
pub fn non_null_size<T: Wire>(value: &Option<T>, version: i16, flexible: bool) -> usize {
    value.as_ref().map_or(0, |v| v.wire_size(version, flexible))
}

/// Writes a nullable struct: an `int8` marker (-1 null, 1 present), then the struct.
pub fn write_nullable_struct<T: Wire>(
    value: Option<&T>,
    buf: &mut BytesMut,
    version: i16,
    flexible: bool,
) -> Result<(), EncodeError> {
    match value {
        Some(v) => {
            buf.put_i8(1);
            v.write(buf, version, flexible)
        }
        None => {
            buf.put_i8(-1);
            Ok(())
        }
    }
}

/// Bytes taken by a nullable struct.
pub fn nullable_struct_size<T: Wire>(value: Option<&T>, version: i16, flexible: bool) -> usize {
    1 + value.map_or(0, |v| v.wire_size(version, flexible))
}

/// Reads a nullable struct written by [`write_nullable_struct`].
pub fn read_nullable_struct<T: Wire>(
    buf: &mut Bytes,
    version: i16,
    flexible: bool,
) -> Result<Option<T>, DecodeError> {
    ensure(buf, 1)?;
    if buf.get_i8() < 0 {
        Ok(None)
    } else {
        T::read(buf, version, flexible).map(Some)
    }
}

/// Writes the number of tagged fields that follow.
#[inline]
pub fn put_tag_count(buf: &mut BytesMut, n: usize) {
    put_uvarint(buf, n as u32);
}

/// Bytes taken by a tagged-field count.
#[inline]
pub fn tag_count_size(n: usize) -> usize {
    uvarint_size(n as u32)
}

/// Writes a tag section that holds only unknown fields (the common case).
pub fn write_unknown_tags(
    buf: &mut BytesMut,
    unknown: &[RawTaggedField],
) -> Result<(), EncodeError> {
    put_tag_count(buf, unknown.len());
    for f in unknown {
        put_uvarint(buf, f.tag);
        put_uvarint(buf, f.data.len() as u32);
        buf.put_slice(&f.data);
    }
    Ok(())
}

/// Bytes taken by [`write_unknown_tags`].
pub fn unknown_tags_section_size(unknown: &[RawTaggedField]) -> usize {
    tag_count_size(unknown.len()) + unknown_tags_size(unknown)
}

/// Reads a tag section whose fields are all unknown to this struct.
pub fn read_unknown_tags(buf: &mut Bytes) -> Result<Vec<RawTaggedField>, DecodeError> {
    let n = read_tag_count(buf)?;
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let (tag, data) = read_tagged_header(buf)?;
        out.push(RawTaggedField { tag, data });
    }
    Ok(out)
}
