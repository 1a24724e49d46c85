//! The batch checksum: CRC32C (Castagnoli) over everything from the
//! attributes field to the end of the batch.
//!
//! The checksum deliberately leaves out the base offset, batch length and
//! partition leader epoch: the broker rewrites those when it appends a batch
//! to its log, and must not have to recompute the CRC to do it.

use super::batch::{ATTRIBUTES_OFFSET, CRC_OFFSET};

/// CRC32C of a whole encoded batch, as stored in its `crc` field.
///
/// `batch` must hold at least the header up to the attributes field; the
/// callers check that first.
#[inline]
pub(crate) fn batch_crc(batch: &[u8]) -> u32 {
    // crc-fast picks its carry-less-multiply folding (AVX-512 where the CPU
    // has it) at run time: about 60 GB/s here, twice memcpy's speed, where
    // the SSE4.2 instruction alone gave 16 GB/s and a fifth of decode time.
    crc_fast::crc32_iscsi(&batch[ATTRIBUTES_OFFSET..])
}

/// Computes the CRC of `batch` and stores it in the header.
#[inline]
pub(crate) fn fill_batch_crc(batch: &mut [u8]) {
    let crc = batch_crc(batch);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}
