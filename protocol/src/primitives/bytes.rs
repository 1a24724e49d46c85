//! Byte arrays (and `records`): `int32` length (classic) or unsigned varint
//! length + 1 (compact). Decoding is zero-copy: the value is a slice of the
//! input buffer.

use bytes::{BufMut, Bytes, BytesMut};

use super::varint::{put_uvarint, uvarint_size};
use super::{read_length, Wire};
use crate::error::{DecodeError, EncodeError};

fn write_bytes(b: &[u8], buf: &mut BytesMut, flexible: bool) -> Result<(), EncodeError> {
    let too_long = || EncodeError::TooLong {
        what: "bytes",
        length: b.len(),
    };
    if flexible {
        let len = u32::try_from(b.len())
            .ok()
            .filter(|l| *l < u32::MAX)
            .ok_or_else(too_long)?;
        put_uvarint(buf, len + 1);
    } else {
        buf.put_i32(i32::try_from(b.len()).map_err(|_| too_long())?);
    }
    buf.put_slice(b);
    Ok(())
}

fn bytes_size(b: &[u8], flexible: bool) -> usize {
    if flexible {
        uvarint_size(b.len() as u32 + 1) + b.len()
    } else {
        4 + b.len()
    }
}

fn read_bytes(buf: &mut Bytes, flexible: bool) -> Result<Option<Bytes>, DecodeError> {
    Ok(read_length(buf, flexible, true, "bytes")?.map(|len| buf.split_to(len)))
}

impl Wire for Bytes {
    #[inline]
    fn write(&self, buf: &mut BytesMut, _: i16, flexible: bool) -> Result<(), EncodeError> {
        write_bytes(self, buf, flexible)
    }
    #[inline]
    fn wire_size(&self, _: i16, flexible: bool) -> usize {
        bytes_size(self, flexible)
    }
    fn read(buf: &mut Bytes, _: i16, flexible: bool) -> Result<Self, DecodeError> {
        read_bytes(buf, flexible)?.ok_or(DecodeError::UnexpectedNull { what: "bytes" })
    }
}

impl Wire for Option<Bytes> {
    fn write(&self, buf: &mut BytesMut, _: i16, flexible: bool) -> Result<(), EncodeError> {
        match self {
            Some(b) => write_bytes(b, buf, flexible),
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
    fn wire_size(&self, _: i16, flexible: bool) -> usize {
        match self {
            Some(b) => bytes_size(b, flexible),
            None if flexible => 1,
            None => 4,
        }
    }
    fn read(buf: &mut Bytes, _: i16, flexible: bool) -> Result<Self, DecodeError> {
        read_bytes(buf, flexible)
    }
}
