//! The workload both benches measure: one v2 batch of 1,000 records with a
//! 10-byte key and a 100-byte value, and how each implementation decodes it.

use std::hint::black_box;

use bytes::Bytes;
use kafka_protocol::records as kpr;
use rkafka_protocol::records::{
    Compression, DecodeOptions, NewRecord, RecordBatch, RecordBatchBuilder,
};

pub const RECORDS: usize = 1_000;
pub const TS: i64 = 1_700_000_000_000;
pub const KEY: [u8; 10] = *b"key-000042";

/// A 100-byte value of mixed text, so compressors have something to do
/// without it being trivially repetitive.
pub fn value() -> Vec<u8> {
    (0..100u32)
        .map(|i| b"the quick brown fox jumps over the lazy dog 0123456789"[(i * 7 % 53) as usize])
        .collect()
}

/// The workload's batch as rkafka writes it with `codec`.
pub fn encode_ours(codec: Compression, value: &[u8]) -> Bytes {
    let mut b = RecordBatchBuilder::with_capacity(130_000).compression(codec);
    for i in 0..RECORDS as i64 {
        b.push(&NewRecord {
            timestamp: TS + i,
            key: Some(&KEY),
            value: Some(value),
            headers: &[],
        })
        .expect("record fits");
    }
    b.finish().expect("batch encodes")
}

/// Parse the batch and read every record, so lazy and eager decoders do the same work.
pub fn decode_ours(bytes: &Bytes, opts: &DecodeOptions) -> usize {
    let batch = RecordBatch::decode(&mut bytes.clone(), opts).expect("decodes");
    let mut n = 0;
    for r in batch.records() {
        let r = r.expect("record");
        black_box((r.offset(), r.timestamp(), r.key(), r.value()));
        n += 1;
    }
    n
}

/// The same with kafka-protocol's decoder, which builds every record.
pub fn decode_theirs(bytes: &Bytes) -> usize {
    let set = kpr::RecordBatchDecoder::decode(&mut bytes.clone()).expect("decodes");
    for r in &set.records {
        black_box((r.offset, r.timestamp, &r.key, &r.value));
    }
    set.records.len()
}

/// Where a batch's CRC32C coverage starts: its attributes field.
pub const CRC_START: usize = 21;

/// The decode floor: copy the batch once and checksum it, as any decoder
/// must, with the CRC32C rkafka's decoder uses (crc-fast's folding).
pub fn floor(copy: &mut [u8], bytes: &[u8]) -> u32 {
    copy.copy_from_slice(black_box(bytes));
    crc_fast::crc32_iscsi(&copy[CRC_START..])
}
