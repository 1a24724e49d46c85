//! Arrays: `int32` count (classic) or unsigned varint count + 1 (compact),
//! then the elements.

use bytes::{BufMut, Bytes, BytesMut};

use super::varint::{put_uvarint, uvarint_size};
use super::{read_length, Wire};
use crate::error::{DecodeError, EncodeError};

fn write_count(len: usize, buf: &mut BytesMut, flexible: bool) -> Result<(), EncodeError> {
    let too_long = || EncodeError::TooLong {
        what: "array",
        length: len,
    };
    if flexible {
        let n = u32::try_from(len)
            .ok()
            .filter(|l| *l < u32::MAX)
            .ok_or_else(too_long)?;
        put_uvarint(buf, n + 1);
    } else {
        buf.put_i32(i32::try_from(len).map_err(|_| too_long())?);
    }
    Ok(())
}

fn count_size(len: usize, flexible: bool) -> usize {
    if flexible {
        uvarint_size(len as u32 + 1)
    } else {
        4
    }
}

fn read_elements<T: Wire>(
    buf: &mut Bytes,
    version: i16,
    flexible: bool,
) -> Result<Option<Vec<T>>, DecodeError> {
    // read_length bounds the count by the bytes remaining (every element takes
    // at least one byte), so the allocation below is bounded by the input.
    let Some(n) = read_length(buf, flexible, true, "array")? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(T::read(buf, version, flexible)?);
    }
    Ok(Some(out))
}

impl<T: Wire> Wire for Vec<T> {
    fn write(&self, buf: &mut BytesMut, version: i16, flexible: bool) -> Result<(), EncodeError> {
        write_count(self.len(), buf, flexible)?;
        for item in self {
            item.write(buf, version, flexible)?;
        }
        Ok(())
    }
    fn wire_size(&self, version: i16, flexible: bool) -> usize {
        count_size(self.len(), flexible)
            + self
                .iter()
                .map(|i| i.wire_size(version, flexible))
                .sum::<usize>()
    }
    fn read(buf: &mut Bytes, version: i16, flexible: bool) -> Result<Self, DecodeError> {
        read_elements(buf, version, flexible)?.ok_or(DecodeError::UnexpectedNull { what: "array" })
    }
}

impl<T: Wire> Wire for Option<Vec<T>> {
    fn write(&self, buf: &mut BytesMut, version: i16, flexible: bool) -> Result<(), EncodeError> {
        match self {
            Some(v) => v.write(buf, version, flexible),
            None if flexible => {
                buf.put_u8(0);
                Ok(())
            }
            None => {
                buf.put_i32(-1);
                Ok(())
            }
        }
    }
    fn wire_size(&self, version: i16, flexible: bool) -> usize {
        match self {
            Some(v) => v.wire_size(version, flexible),
            None if flexible => 1,
            None => 4,
        }
    }
    fn read(buf: &mut Bytes, version: i16, flexible: bool) -> Result<Self, DecodeError> {
        read_elements(buf, version, flexible)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_count_does_not_allocate() {
        // A count of 2^31-1 followed by 3 bytes: must fail before allocating.
        let mut r = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0]);
        let err = Vec::<i32>::read(&mut r, 0, false).unwrap_err();
        assert!(matches!(err, DecodeError::InvalidLength { .. }));
    }
}
