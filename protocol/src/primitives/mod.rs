//! Wire primitives: how each protocol type is laid out in bytes.
//!
//! Every type that can appear in a message implements [`Wire`]. Generated
//! message code is a flat list of `Wire` calls, one per field, so the type
//! mapping lives here once instead of being expanded into every message.

mod array;
mod bytes;
pub mod codec;
mod fixed;
mod string;
mod tagged;
mod uuid;
pub mod varint;

pub use self::tagged::RawTaggedField;

use ::bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};

/// A protocol type that knows its own wire layout.
///
/// `version` is the message version being written; `flexible` says whether
/// that version uses compact (varint-prefixed) strings, bytes and arrays.
/// Primitives ignore `version`; structs use it to pick their fields.
pub trait Wire: Sized {
    /// Appends the value to `buf`.
    fn write(&self, buf: &mut BytesMut, version: i16, flexible: bool) -> Result<(), EncodeError>;
    /// The number of bytes [`Wire::write`] appends.
    fn wire_size(&self, version: i16, flexible: bool) -> usize;
    /// Reads a value from the front of `buf`, advancing it.
    fn read(buf: &mut Bytes, version: i16, flexible: bool) -> Result<Self, DecodeError>;
}

/// Fails with [`DecodeError::Truncated`] unless `buf` holds at least `needed` bytes.
#[inline]
pub(crate) fn ensure(buf: &Bytes, needed: usize) -> Result<(), DecodeError> {
    if buf.len() < needed {
        Err(DecodeError::Truncated {
            needed,
            remaining: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// An inclusive range of protocol versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionRange {
    /// The lowest version.
    pub min: i16,
    /// The highest version.
    pub max: i16,
}

impl VersionRange {
    /// Whether `version` lies in the range.
    #[inline]
    pub const fn contains(&self, version: i16) -> bool {
        self.min <= version && version <= self.max
    }

    /// The versions that both ranges hold, or `None` when they are disjoint.
    pub fn intersect(&self, other: &VersionRange) -> Option<VersionRange> {
        let min = self.min.max(other.min);
        let max = self.max.min(other.max);
        (min <= max).then_some(VersionRange { min, max })
    }
}

impl std::fmt::Display for VersionRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.min, self.max)
    }
}

/// Reads a length or count prefix; `None` means null.
///
/// Compact prefixes are an unsigned varint holding length + 1; classic ones
/// are `int32` (`wide`) or `int16`, with -1 for null. The length is checked
/// against the bytes remaining, so callers may allocate by it.
pub(crate) fn read_length(
    buf: &mut Bytes,
    flexible: bool,
    wide: bool,
    what: &'static str,
) -> Result<Option<usize>, DecodeError> {
    use ::bytes::Buf;
    let len: i64 = if flexible {
        i64::from(varint::get_uvarint(buf)?) - 1
    } else if wide {
        ensure(buf, 4)?;
        i64::from(buf.get_i32())
    } else {
        ensure(buf, 2)?;
        i64::from(buf.get_i16())
    };
    if len == -1 {
        return Ok(None);
    }
    if len < 0 || len as u64 > buf.len() as u64 {
        return Err(DecodeError::InvalidLength {
            what,
            length: len,
            remaining: buf.len(),
        });
    }
    Ok(Some(len as usize))
}
