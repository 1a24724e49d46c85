//! Any bytes, read as the `records` of a fetch response: the batch iterator
//! must yield batches, an error or an incomplete tail, never panic, hang or
//! allocate beyond bounds (decompression included). Decoded batches are
//! re-encoded with the builder and must decode to the same records.
//!
//! The first input byte picks whether CRCs are checked, so the fuzzer can
//! reach the record and compression decoders without forging CRC32C.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rkafka_protocol::records::{
    Compression, DecodeOptions, FetchBatches, Header, NewRecord, RecordBatch, RecordBatchBuilder,
};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut options = DecodeOptions::default();
    options.verify_crc = flags & 1 == 1;
    options.max_decompressed_size = 1 << 20;
    let mut batches = FetchBatches::with_options(Bytes::copy_from_slice(rest), options.clone());
    for batch in batches.by_ref() {
        let Ok(batch) = batch else { break };
        if batch.header.is_control() {
            let _ = batch.control_record();
            continue;
        }
        reencode(&batch, &options);
    }
    let _ = batches.incomplete();
});

fn reencode(batch: &RecordBatch, options: &DecodeOptions) {
    // Records decode as they are read: a malformed one ends the check.
    let Ok(records) = batch.records().collect::<Result<Vec<_>, _>>() else {
        return;
    };
    let mut builder = RecordBatchBuilder::new()
        .base_offset(batch.header.base_offset)
        .compression(Compression::None);
    for r in &records {
        let headers: Vec<Header> = r.headers().map(|h| h.to_header()).collect();
        let record = NewRecord {
            timestamp: r.timestamp(),
            key: r.key(),
            value: r.value(),
            headers: &headers,
        };
        if builder.push(&record).is_err() {
            return; // e.g. offset deltas that do not fit a fresh batch
        }
    }
    let Ok(bytes) = builder.finish() else { return };
    let mut input = bytes;
    let again = RecordBatch::decode(&mut input, options).expect("our own batch decodes");
    assert_eq!(again.len(), records.len());
    for (a, b) in again.records().zip(&records) {
        let a = a.expect("our own records decode");
        assert_eq!((a.key(), a.value()), (b.key(), b.value()));
        assert!(a
            .headers()
            .map(|h| (h.key(), h.value()))
            .eq(b.headers().map(|h| (h.key(), h.value()))));
    }
}
