//! UUIDs: 16 raw bytes.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use uuid::Uuid;

use super::{ensure, Wire};
use crate::error::{DecodeError, EncodeError};

impl Wire for Uuid {
    #[inline]
    fn write(&self, buf: &mut BytesMut, _: i16, _: bool) -> Result<(), EncodeError> {
        buf.put_slice(self.as_bytes());
        Ok(())
    }
    #[inline]
    fn wire_size(&self, _: i16, _: bool) -> usize {
        16
    }
    #[inline]
    fn read(buf: &mut Bytes, _: i16, _: bool) -> Result<Self, DecodeError> {
        ensure(buf, 16)?;
        let mut raw = [0u8; 16];
        buf.copy_to_slice(&mut raw);
        Ok(Uuid::from_bytes(raw))
    }
}
