//! Rewriting the producer fields of an already-encoded batch.
//!
//! An idempotent producer encodes (and compresses) a batch once. When it
//! must send that batch again under a new producer epoch or with new
//! sequence numbers (KIP-360: the epoch is bumped after a sequence gap),
//! re-encoding would cost as much as building the batch anew; the three
//! fields sit at fixed offsets in the header, so they are overwritten in
//! place and the CRC, which covers them, is recomputed.

use super::batch::{BATCH_HEADER_SIZE, MAGIC_OFFSET, MAGIC_V2};
use super::crc::fill_batch_crc;
use super::error::RecordsError;

/// Offset of `producerId` in a v2 batch header.
const PRODUCER_ID_OFFSET: usize = 43;
/// Offset of `producerEpoch`.
const PRODUCER_EPOCH_OFFSET: usize = 51;
/// Offset of `baseSequence`.
const BASE_SEQUENCE_OFFSET: usize = 53;

/// Overwrites the producer id, epoch and base sequence of the encoded v2
/// batch in `batch` and recomputes its CRC.
///
/// # Errors
/// [`RecordsError::Truncated`] when `batch` is shorter than a
/// batch header, [`RecordsError::UnsupportedMagic`] when it is not magic 2.
pub fn restamp(
    batch: &mut [u8],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Result<(), RecordsError> {
    if batch.len() < BATCH_HEADER_SIZE {
        return Err(RecordsError::Truncated {
            what: "record batch header",
            needed: BATCH_HEADER_SIZE,
            remaining: batch.len(),
        });
    }
    let magic = batch[MAGIC_OFFSET] as i8;
    if magic != MAGIC_V2 {
        return Err(RecordsError::UnsupportedMagic(magic));
    }
    batch[PRODUCER_ID_OFFSET..PRODUCER_ID_OFFSET + 8].copy_from_slice(&producer_id.to_be_bytes());
    batch[PRODUCER_EPOCH_OFFSET..PRODUCER_EPOCH_OFFSET + 2]
        .copy_from_slice(&producer_epoch.to_be_bytes());
    batch[BASE_SEQUENCE_OFFSET..BASE_SEQUENCE_OFFSET + 4]
        .copy_from_slice(&base_sequence.to_be_bytes());
    fill_batch_crc(batch);
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::records::{DecodeOptions, NewRecord, RecordBatch, RecordBatchBuilder};

    #[test]
    fn restamped_batch_decodes_with_the_new_fields() {
        let mut b = RecordBatchBuilder::new().producer(7, 1, 10);
        for i in 0..3u8 {
            b.push(&NewRecord {
                timestamp: 1000 + i64::from(i),
                key: Some(&[i]),
                value: Some(b"v"),
                headers: &[],
            })
            .unwrap();
        }
        let mut bytes = b.finish().unwrap().to_vec();
        restamp(&mut bytes, 9, 2, 40).unwrap();
        let batch = RecordBatch::decode(&mut Bytes::from(bytes), &DecodeOptions::default())
            .expect("the CRC was recomputed");
        assert_eq!(batch.header.producer_id, 9);
        assert_eq!(batch.header.producer_epoch, 2);
        assert_eq!(batch.header.base_sequence, 40);
        assert_eq!(batch.len(), 3);
    }

    #[test]
    fn short_or_old_input_is_an_error() {
        assert!(restamp(&mut [0u8; 10], 1, 1, 1).is_err());
        let mut old = vec![0u8; BATCH_HEADER_SIZE];
        old[MAGIC_OFFSET] = 1;
        assert!(restamp(&mut old, 1, 1, 1).is_err());
    }
}
