//! Fixed-width big-endian integers, floats and booleans.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{ensure, Wire};
use crate::error::{DecodeError, EncodeError};

macro_rules! fixed {
    ($($ty:ty => $put:ident, $get:ident;)*) => {$(
        impl Wire for $ty {
            #[inline]
            fn write(&self, buf: &mut BytesMut, _: i16, _: bool) -> Result<(), EncodeError> {
                buf.$put(*self);
                Ok(())
            }
            #[inline]
            fn wire_size(&self, _: i16, _: bool) -> usize {
                std::mem::size_of::<$ty>()
            }
            #[inline]
            fn read(buf: &mut Bytes, _: i16, _: bool) -> Result<Self, DecodeError> {
                ensure(buf, std::mem::size_of::<$ty>())?;
                Ok(buf.$get())
            }
        }
    )*};
}

fixed! {
    i8 => put_i8, get_i8;
    i16 => put_i16, get_i16;
    u16 => put_u16, get_u16;
    i32 => put_i32, get_i32;
    u32 => put_u32, get_u32;
    i64 => put_i64, get_i64;
    f64 => put_f64, get_f64;
}

impl Wire for bool {
    #[inline]
    fn write(&self, buf: &mut BytesMut, _: i16, _: bool) -> Result<(), EncodeError> {
        buf.put_u8(u8::from(*self));
        Ok(())
    }
    #[inline]
    fn wire_size(&self, _: i16, _: bool) -> usize {
        1
    }
    #[inline]
    fn read(buf: &mut Bytes, _: i16, _: bool) -> Result<Self, DecodeError> {
        ensure(buf, 1)?;
        // Like the Java client, any non-zero byte is true.
        Ok(buf.get_u8() != 0)
    }
}
