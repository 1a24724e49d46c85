//! Tagged fields of flexible versions: a varint count, then for each field a
//! varint tag, a varint size and the value. Known tags are decoded into their
//! fields; unknown ones are kept as [`RawTaggedField`] and written back.

use std::iter::Peekable;
use std::slice::Iter;

use bytes::{BufMut, Bytes, BytesMut};

use super::varint::{get_uvarint, put_uvarint, uvarint_size};
use super::Wire;
use crate::error::{DecodeError, EncodeError};

/// A tagged field this version of the crate does not know, kept verbatim so
/// that re-encoding a decoded message loses nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTaggedField {
    /// The field's tag.
    pub tag: u32,
    /// The field's encoded value.
    pub data: Bytes,
}

/// Reads the number of tagged fields that follow, bounded by the input (each
/// field takes at least two bytes).
pub fn read_tag_count(buf: &mut Bytes) -> Result<u32, DecodeError> {
    let n = get_uvarint(buf)?;
    if u64::from(n) * 2 > buf.len() as u64 {
        return Err(DecodeError::InvalidLength {
            what: "tagged fields",
            length: i64::from(n),
            remaining: buf.len(),
        });
    }
    Ok(n)
}

/// Reads one tagged field's tag and its value bytes.
pub fn read_tagged_header(buf: &mut Bytes) -> Result<(u32, Bytes), DecodeError> {
    let tag = get_uvarint(buf)?;
    let size = get_uvarint(buf)? as usize;
    if size > buf.len() {
        return Err(DecodeError::InvalidLength {
            what: "tagged field",
            length: size as i64,
            remaining: buf.len(),
        });
    }
    Ok((tag, buf.split_to(size)))
}

/// Decodes a known tagged field's value; it must use all of its bytes.
pub fn read_tagged_value<T: Wire>(mut data: Bytes, version: i16) -> Result<T, DecodeError> {
    let v = T::read(&mut data, version, true)?;
    if !data.is_empty() {
        return Err(DecodeError::TrailingBytes {
            what: "tagged field",
            remaining: data.len(),
        });
    }
    Ok(v)
}

/// Writes a known tagged field.
pub fn write_tagged<T: Wire>(
    buf: &mut BytesMut,
    tag: u32,
    value: &T,
    version: i16,
) -> Result<(), EncodeError> {
    put_uvarint(buf, tag);
    put_uvarint(buf, value.wire_size(version, true) as u32);
    value.write(buf, version, true)
}

/// Bytes taken by a known tagged field.
pub fn tagged_size<T: Wire>(tag: u32, value: &T, version: i16) -> usize {
    let size = value.wire_size(version, true);
    uvarint_size(tag) + uvarint_size(size as u32) + size
}

/// Writes the unknown tagged fields whose tag is below `before`, keeping the
/// section in ascending tag order; a collision with a known tag is an error.
pub fn write_unknown_tags_before(
    buf: &mut BytesMut,
    unknown: &mut Peekable<Iter<'_, RawTaggedField>>,
    before: u32,
    message: &'static str,
) -> Result<(), EncodeError> {
    while let Some(field) = unknown.next_if(|f| f.tag <= before) {
        if field.tag == before && before != u32::MAX {
            return Err(EncodeError::DuplicateTag {
                message,
                tag: field.tag,
            });
        }
        put_uvarint(buf, field.tag);
        put_uvarint(buf, field.data.len() as u32);
        buf.put_slice(&field.data);
    }
    Ok(())
}

/// Bytes taken by unknown tagged fields.
pub fn unknown_tags_size(unknown: &[RawTaggedField]) -> usize {
    unknown
        .iter()
        .map(|f| uvarint_size(f.tag) + uvarint_size(f.data.len() as u32) + f.data.len())
        .sum()
}
