//! A quick timing check of the uncompressed codec against kafka-protocol and
//! against memcpy + CRC32C of the same bytes (the floor any decoder pays).
//! Ignored by default; the criterion benches are the real measurement:
//! `cargo test --release -p rkafka-protocol --test records_perf -- --ignored --nocapture --test-threads=1`

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression as KpCompression, Record as KpRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType,
};
use rkafka_protocol::records::{DecodeOptions, NewRecord, RecordBatch, RecordBatchBuilder};

/// Best per-iteration time over several rounds of `f`.
fn time(mut f: impl FnMut()) -> Duration {
    for _ in 0..50 {
        f();
    }
    let mut best = Duration::MAX;
    for _ in 0..20 {
        let start = Instant::now();
        for _ in 0..50 {
            f();
        }
        best = best.min(start.elapsed() / 50);
    }
    best
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn uncompressed_1000_records() {
    let key = [7u8; 10];
    let value = [42u8; 100];
    let ts = 1_700_000_000_000i64;

    let encode_ours = || {
        let mut b = RecordBatchBuilder::with_capacity(130_000);
        for i in 0..1000 {
            b.push(&NewRecord {
                timestamp: ts + i,
                key: Some(&key),
                value: Some(&value),
                headers: &[],
            })
            .unwrap();
        }
        b.finish().unwrap()
    };
    let bytes = encode_ours();

    let kp_records: Vec<KpRecord> = (0..1000)
        .map(|i| KpRecord {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i,
            sequence: -1 + i as i32,
            timestamp: ts + i,
            key: Some(Bytes::copy_from_slice(&key)),
            value: Some(Bytes::copy_from_slice(&value)),
            headers: IndexMap::new(),
        })
        .collect();
    let encode_theirs = || {
        let mut buf = BytesMut::with_capacity(130_000);
        RecordBatchEncoder::encode(
            &mut buf,
            &kp_records,
            &RecordEncodeOptions {
                version: 2,
                compression: KpCompression::None,
            },
        )
        .unwrap();
        buf.freeze()
    };

    let opts = DecodeOptions::default();
    let dec_ours = time(|| {
        let b = RecordBatch::decode(&mut bytes.clone(), &opts).unwrap();
        black_box(b);
    });
    let dec_theirs = time(|| {
        let s = RecordBatchDecoder::decode(&mut bytes.clone()).unwrap();
        black_box(s);
    });
    let mut copy = vec![0u8; bytes.len()];
    let floor = time(|| {
        copy.copy_from_slice(black_box(&bytes));
        black_box(crc32c::crc32c(&copy[21..]));
    });
    let enc_ours = time(|| {
        black_box(encode_ours());
    });
    let enc_theirs = time(|| {
        black_box(encode_theirs());
    });
    // A producer holding keys and values as slices must first build
    // kafka-protocol's owned records (two allocations each) to use its encoder.
    let enc_theirs_from_slices = time(|| {
        let records: Vec<KpRecord> = (0..1000)
            .map(|i| KpRecord {
                key: Some(Bytes::copy_from_slice(&key)),
                value: Some(Bytes::copy_from_slice(&value)),
                timestamp: ts + i,
                offset: i,
                sequence: -1 + i as i32,
                ..kp_records[0].clone()
            })
            .collect();
        let mut buf = BytesMut::with_capacity(130_000);
        RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression: KpCompression::None,
            },
        )
        .unwrap();
        black_box(buf.freeze());
    });
    println!("batch of {} bytes", bytes.len());
    println!(
        "decode: ours {dec_ours:?}, kafka-protocol {dec_theirs:?} ({:.1}x), memcpy+crc {floor:?} (ours at {:.0}% of its speed)",
        dec_theirs.as_secs_f64() / dec_ours.as_secs_f64(),
        100.0 * floor.as_secs_f64() / dec_ours.as_secs_f64()
    );
    println!(
        "encode: ours {enc_ours:?}, kafka-protocol {enc_theirs:?} ({:.1}x); \
         kafka-protocol building its records from slices too {enc_theirs_from_slices:?} ({:.1}x)",
        enc_theirs.as_secs_f64() / enc_ours.as_secs_f64(),
        enc_theirs_from_slices.as_secs_f64() / enc_ours.as_secs_f64()
    );
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn compressed_1000_records() {
    use rkafka_protocol::records::Compression;
    let key = [7u8; 10];
    let value: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
    let ts = 1_700_000_000_000i64;
    let opts = DecodeOptions::default();
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let encode = || {
            let mut b = RecordBatchBuilder::with_capacity(130_000).compression(codec);
            for i in 0..1000 {
                b.push(&NewRecord {
                    timestamp: ts + i,
                    key: Some(&key),
                    value: Some(&value),
                    headers: &[],
                })
                .unwrap();
            }
            b.finish().unwrap()
        };
        let bytes = encode();
        let enc = time(|| {
            black_box(encode());
        });
        let ours = time(|| {
            black_box(RecordBatch::decode(&mut bytes.clone(), &opts).unwrap());
        });
        let theirs = time(|| {
            black_box(RecordBatchDecoder::decode(&mut bytes.clone()).unwrap());
        });
        println!(
            "{codec:?}: {} bytes; encode {enc:?}; decode ours {ours:?}, kafka-protocol {theirs:?} ({:.1}x)",
            bytes.len(),
            theirs.as_secs_f64() / ours.as_secs_f64()
        );
    }
}
