//! Strings: `int16` length (classic) or unsigned varint length + 1 (compact),
//! -1 / 0 meaning null for nullable strings.

use bytes::{BufMut, Bytes, BytesMut};

use super::varint::{put_uvarint, uvarint_size};
use super::{read_length, Wire};
use crate::error::{DecodeError, EncodeError};

fn write_str(s: &str, buf: &mut BytesMut, flexible: bool) -> Result<(), EncodeError> {
    if flexible {
        let len = u32::try_from(s.len())
            .ok()
            .filter(|l| *l < u32::MAX)
            .ok_or(EncodeError::TooLong {
                what: "string",
                length: s.len(),
            })?;
        put_uvarint(buf, len + 1);
    } else {
        let len = i16::try_from(s.len()).map_err(|_| EncodeError::TooLong {
            what: "string",
            length: s.len(),
        })?;
        buf.put_i16(len);
    }
    buf.put_slice(s.as_bytes());
    Ok(())
}

fn str_size(s: &str, flexible: bool) -> usize {
    if flexible {
        uvarint_size(s.len() as u32 + 1) + s.len()
    } else {
        2 + s.len()
    }
}

fn read_str(buf: &mut Bytes, flexible: bool) -> Result<Option<String>, DecodeError> {
    let Some(len) = read_length(buf, flexible, false, "string")? else {
        return Ok(None);
    };
    let raw = buf.split_to(len);
    std::str::from_utf8(&raw)
        .map(|s| Some(s.to_owned()))
        .map_err(|_| DecodeError::InvalidUtf8)
}

impl Wire for String {
    #[inline]
    fn write(&self, buf: &mut BytesMut, _: i16, flexible: bool) -> Result<(), EncodeError> {
        write_str(self, buf, flexible)
    }
    #[inline]
    fn wire_size(&self, _: i16, flexible: bool) -> usize {
        str_size(self, flexible)
    }
    fn read(buf: &mut Bytes, _: i16, flexible: bool) -> Result<Self, DecodeError> {
        read_str(buf, flexible)?.ok_or(DecodeError::UnexpectedNull { what: "string" })
    }
}

impl Wire for Option<String> {
    fn write(&self, buf: &mut BytesMut, _: i16, flexible: bool) -> Result<(), EncodeError> {
        match self {
            Some(s) => write_str(s, buf, flexible),
            None if flexible => {
                buf.put_u8(0);
                Ok(())
            }
            None => {
                buf.put_i16(-1);
                Ok(())
            }
        }
    }
    fn wire_size(&self, _: i16, flexible: bool) -> usize {
        match self {
            Some(s) => str_size(s, flexible),
            None if flexible => 1,
            None => 2,
        }
    }
    fn read(buf: &mut Bytes, _: i16, flexible: bool) -> Result<Self, DecodeError> {
        read_str(buf, flexible)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_empty_are_distinct() {
        for flexible in [false, true] {
            let mut b = BytesMut::new();
            None::<String>.write(&mut b, 0, flexible).unwrap();
            Some(String::new()).write(&mut b, 0, flexible).unwrap();
            let mut r = b.freeze();
            assert_eq!(Option::<String>::read(&mut r, 0, flexible).unwrap(), None);
            assert_eq!(
                Option::<String>::read(&mut r, 0, flexible).unwrap(),
                Some(String::new())
            );
        }
    }

    #[test]
    fn length_beyond_input_is_an_error() {
        let mut r = Bytes::from_static(&[0x7f, 0xff, b'a']);
        assert!(matches!(
            String::read(&mut r, 0, false),
            Err(DecodeError::InvalidLength { .. })
        ));
    }
}
