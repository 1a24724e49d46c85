//! Bad input: truncation at every offset, flipped bytes, forged lengths and
//! counts, old formats, decompression bombs and random mutations. Every case
//! must give a typed error (or "incomplete" from the fetch iterator), never a
//! panic or a large allocation.

use bytes::Bytes;
use rkafka_protocol::records::{
    Compression, DecodeOptions, FetchBatches, Header, Incomplete, NewRecord, RecordBatch,
    RecordBatchBuilder, RecordsError, BATCH_HEADER_SIZE,
};

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn batch(codec: Compression, n: usize) -> Bytes {
    let headers = [Header::new(&b"h"[..], Some(&b"v"[..]))];
    let mut b = RecordBatchBuilder::new()
        .compression(codec)
        .producer(1, 0, 0);
    for i in 0..n {
        let value = format!("value {i}");
        b.push(&NewRecord {
            timestamp: 1_000 + i as i64,
            key: (i % 2 == 0).then_some(&b"key"[..]),
            value: Some(value.as_bytes()),
            headers: if i % 3 == 0 { &headers } else { &[] },
        })
        .unwrap();
    }
    b.finish().unwrap()
}

fn decode(bytes: &[u8], verify_crc: bool) -> Result<RecordBatch, RecordsError> {
    let options = DecodeOptions {
        verify_crc,
        ..DecodeOptions::default()
    };
    let batch = RecordBatch::decode(&mut Bytes::copy_from_slice(bytes), &options)?;
    read_all(&batch)?;
    Ok(batch)
}

/// Records are decoded as they are iterated: read every record and header
/// so that a malformed one shows up as the error.
fn read_all(batch: &RecordBatch) -> Result<(), RecordsError> {
    for r in batch {
        let r = r?;
        std::hint::black_box((r.offset(), r.timestamp(), r.key(), r.value()));
        for h in r.headers() {
            std::hint::black_box((h.key(), h.value()));
        }
    }
    Ok(())
}

/// Rewrites the CRC so that a deliberately malformed batch gets past the check.
fn fix_crc(b: &mut [u8]) {
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
}

#[test]
fn truncation_at_every_offset_is_an_error_or_incomplete() {
    for codec in CODECS {
        let full = batch(codec, 20);
        for cut in 0..full.len() {
            let part = &full[..cut];
            for verify in [true, false] {
                assert!(
                    matches!(decode(part, verify), Err(RecordsError::Truncated { .. })),
                    "{codec:?} cut at {cut}"
                );
            }
            // The fetch iterator treats the cut batch as the incomplete tail.
            let mut it = FetchBatches::new(Bytes::copy_from_slice(part));
            assert!(it.next().is_none(), "{codec:?} cut at {cut}");
            assert_eq!(
                it.incomplete(),
                (cut > 0).then_some(Incomplete {
                    available: cut,
                    needed: (cut >= 12).then_some(full.len()),
                })
            );
        }
        assert!(decode(&full, true).is_ok());
    }
}

#[test]
fn every_flipped_checksummed_byte_is_a_crc_error() {
    for codec in CODECS {
        let full = batch(codec, 10);
        let good = decode(&full, true).unwrap();
        for at in 17..full.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bad = full.to_vec();
                bad[at] ^= mask;
                let err = decode(&bad, true).unwrap_err();
                assert!(
                    matches!(err, RecordsError::CrcMismatch { .. }),
                    "{codec:?} byte {at}: {err:?}"
                );
                // With checking off the result is whatever the bytes say,
                // but never a panic.
                let _ = decode(&bad, false);
            }
        }
        // Fields outside the checksum (base offset, leader epoch) may change.
        let mut moved = full.to_vec();
        moved[7] ^= 1;
        moved[15] ^= 1;
        let batch = decode(&moved, true).unwrap();
        assert_eq!(batch.to_records(), good.to_records());
    }
}

#[test]
fn random_mutations_never_panic() {
    // A small xorshift generator keeps this deterministic without a dependency.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for codec in CODECS {
        let full = batch(codec, 15);
        for _ in 0..3000 {
            let mut bad = full.to_vec();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() as usize) % bad.len();
                bad[at] = next() as u8;
            }
            if next() % 4 == 0 {
                let len = (next() as usize) % bad.len();
                bad.truncate(len);
            }
            let _ = decode(&bad, false);
            if bad.len() > 21 {
                fix_crc(&mut bad);
            }
            let _ = decode(&bad, true);
            let bad = Bytes::from(bad);
            for b in FetchBatches::new(bad.clone()) {
                let _ = b;
            }
            let mut raw = FetchBatches::new(bad);
            while let Some(Ok(r)) = raw.next_raw() {
                let _ = r.decode(&DecodeOptions::default()).map(|b| read_all(&b));
            }
        }
    }
    for len in [0usize, 1, 16, 17, 60, 61, 62, 200] {
        let junk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let _ = decode(&junk, false);
        let _ = FetchBatches::new(Bytes::from(junk)).count();
    }
}

#[test]
fn forged_lengths_and_counts_are_rejected_without_allocating() {
    let full = batch(Compression::None, 3);

    // Record count far beyond what the bytes could hold.
    for count in [i32::MAX, 1 << 20, 4, -1, i32::MIN] {
        let mut bad = full.to_vec();
        bad[57..61].copy_from_slice(&count.to_be_bytes());
        fix_crc(&mut bad);
        let err = decode(&bad, true).unwrap_err();
        assert!(
            matches!(err, RecordsError::InvalidRecordCount { .. })
                || matches!(err, RecordsError::InvalidRecord { .. }),
            "count {count}: {err:?}"
        );
    }
    // Fewer records than present leaves trailing bytes.
    let mut bad = full.to_vec();
    bad[57..61].copy_from_slice(&2i32.to_be_bytes());
    fix_crc(&mut bad);
    assert!(matches!(
        decode(&bad, true),
        Err(RecordsError::TrailingBytes { .. })
    ));

    // Batch lengths: huge (truncated / incomplete), too small, negative.
    for (len, want_truncated) in [(i32::MAX, true), (10, false), (-5, false), (48, false)] {
        let mut bad = full.to_vec();
        bad[8..12].copy_from_slice(&len.to_be_bytes());
        let err = decode(&bad, false).unwrap_err();
        if want_truncated {
            assert!(matches!(err, RecordsError::Truncated { .. }));
            let mut it = FetchBatches::new(Bytes::from(bad));
            assert!(it.next().is_none());
            assert_eq!(it.incomplete().unwrap().needed, Some(12 + len as usize));
        } else {
            assert_eq!(err, RecordsError::InvalidBatchLength(len));
            let mut it = FetchBatches::new(Bytes::from(bad));
            assert_eq!(it.next(), Some(Err(RecordsError::InvalidBatchLength(len))));
            assert_eq!(it.next(), None);
        }
    }

    // Unknown compression codecs.
    for codec in 5..8u8 {
        let mut bad = full.to_vec();
        bad[22] = (bad[22] & !7) | codec;
        fix_crc(&mut bad);
        assert_eq!(
            decode(&bad, true).unwrap_err(),
            RecordsError::UnknownCompression(codec)
        );
    }
}

/// An uncompressed batch holding `records` as given (already framed), with
/// its count and CRC filled in.
fn handmade(count: i32, records: &[u8]) -> Vec<u8> {
    let mut b = batch(Compression::None, 0).to_vec();
    b.extend_from_slice(records);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b[57..61].copy_from_slice(&count.to_be_bytes());
    fix_crc(&mut b);
    b
}

#[test]
fn malformed_records_name_what_failed() {
    // Each body: attributes, ts delta, offset delta, key len, [key], value len,
    // [value], header count, headers. Zig-zag: 0x01 = -1, 0x03 = -2.
    let cases: &[(&[u8], &str)] = &[
        (&[0, 0, 0, 0x03, 0x00, 0x00], "invalid key length"),
        (&[0, 0, 0, 0x10, 0x00, 0x00], "invalid key length"),
        (&[0, 0, 0, 0x01, 0x03, 0x00], "invalid value length"),
        (&[0, 0, 0, 0x01, 0x01, 0x01], "invalid header count"),
        (&[0, 0, 0, 0x01, 0x01, 0x7e], "invalid header count"),
        (
            &[0, 0, 0, 0x01, 0x01, 0x02, 0x01, 0x00],
            "invalid header key length",
        ),
        (
            &[0, 0, 0, 0x01, 0x01, 0x02, 0x00, 0x03],
            "invalid header value length",
        ),
        (
            &[0, 0, 0, 0x01, 0x01, 0x00, 0x00],
            "record length does not match its fields",
        ),
        (
            &[
                0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
            "malformed or truncated varlong",
        ),
        (
            &[0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01, 0x00],
            "malformed or truncated varint",
        ),
    ];
    for (body, reason) in cases {
        let mut rec = vec![(body.len() as u8) << 1];
        rec.extend_from_slice(body);
        let err = decode(&handmade(1, &rec), true).unwrap_err();
        assert_eq!(
            err,
            RecordsError::InvalidRecord { index: 0, reason },
            "{body:02x?}"
        );
    }
    // A record length past the batch end, or negative.
    for len in [0x7eu8, 0x03] {
        let rec = [len, 0, 0, 0, 1, 1, 0, 0];
        assert!(matches!(
            decode(&handmade(1, &rec), true),
            Err(RecordsError::InvalidRecord { index: 0, .. })
        ));
    }
    // A good record followed by a bad one reports index 1.
    let good = [0x0c, 0, 0, 0, 0x01, 0x01, 0x00];
    let mut two = good.to_vec();
    two.extend_from_slice(&[0x0c, 0, 0, 0, 0x03, 0x01, 0x00]);
    assert!(matches!(
        decode(&handmade(2, &two), true),
        Err(RecordsError::InvalidRecord { index: 1, .. })
    ));
    assert!(decode(&handmade(1, &good), true).is_ok());
}

#[test]
fn a_malformed_record_ends_the_iteration_after_the_good_ones() {
    let good = [0x0c, 0, 0, 0, 0x01, 0x01, 0x00];
    let bad = [0x0c, 0, 0, 0, 0x03, 0x01, 0x00];
    let mut three = good.to_vec();
    three.extend_from_slice(&bad);
    three.extend_from_slice(&good);
    let batch = RecordBatch::decode(
        &mut Bytes::from(handmade(3, &three)),
        &DecodeOptions::default(),
    )
    .expect("the CRC holds, so the batch decodes");
    assert_eq!(batch.len(), 3);
    let mut records = batch.records();
    assert!(records.next().unwrap().is_ok());
    assert_eq!(
        records.next().unwrap().unwrap_err(),
        RecordsError::InvalidRecord {
            index: 1,
            reason: "invalid key length"
        }
    );
    // Fused: the record after the bad one is not read.
    assert!(records.next().is_none());
    assert!(records.next().is_none());
    assert!(batch.to_records().is_err());

    // Bytes after the last counted record: every record, then the error.
    let mut extra = good.to_vec();
    extra.extend_from_slice(&good);
    let batch = RecordBatch::decode(
        &mut Bytes::from(handmade(1, &extra)),
        &DecodeOptions::default(),
    )
    .unwrap();
    let items: Vec<_> = batch.records().collect();
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert_eq!(
        items[1].clone().unwrap_err(),
        RecordsError::TrailingBytes { remaining: 7 }
    );
}

#[test]
fn old_message_formats_are_unsupported() {
    // A v1 message set entry: offset, size, crc, magic 1, attributes,
    // timestamp, null key, value "x".
    for magic in [0u8, 1] {
        let mut msg = vec![0u8; 8];
        let mut body = vec![0, 0, 0, 0, magic, 0];
        if magic == 1 {
            body.extend_from_slice(&0i64.to_be_bytes());
        }
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&1i32.to_be_bytes());
        body.push(b'x');
        msg.extend_from_slice(&(body.len() as i32).to_be_bytes());
        msg.extend_from_slice(&body);
        let want = RecordsError::UnsupportedMagic(magic as i8);
        assert_eq!(decode(&msg, true).unwrap_err(), want);
        let mut it = FetchBatches::new(Bytes::from(msg));
        assert_eq!(it.next(), Some(Err(want)));
        assert_eq!(it.next(), None);
        assert_eq!(it.incomplete(), None);
    }
    let mut future = batch(Compression::None, 1).to_vec();
    future[16] = 3;
    assert_eq!(
        decode(&future, false).unwrap_err(),
        RecordsError::UnsupportedMagic(3)
    );
}

#[test]
fn decompression_bombs_hit_the_limit() {
    // 64 MiB of zeros as one record value, far past a 1 MiB limit.
    let zeros = vec![0u8; 64 << 20];
    let options = DecodeOptions {
        max_decompressed_size: 1 << 20,
        ..DecodeOptions::default()
    };
    for codec in [
        Compression::Gzip,
        Compression::Lz4,
        Compression::Zstd,
        Compression::Snappy,
    ] {
        let mut b = RecordBatchBuilder::new().compression(codec);
        b.push(&NewRecord {
            value: Some(&zeros),
            ..NewRecord::default()
        })
        .unwrap();
        let bomb = b.finish().unwrap();
        assert!(bomb.len() < zeros.len() / 10, "{codec:?}");
        let err = RecordBatch::decode(&mut bomb.clone(), &options).unwrap_err();
        assert_eq!(
            err,
            RecordsError::DecompressedTooLarge { limit: 1 << 20 },
            "{codec:?}"
        );
    }
    // A raw snappy block that claims 4 GiB is refused from its header alone,
    // under the default limit.
    let mut b = batch(Compression::None, 0).to_vec();
    b[22] = 2;
    b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b[57..61].copy_from_slice(&1i32.to_be_bytes());
    fix_crc(&mut b);
    assert!(matches!(
        decode(&b, true),
        Err(RecordsError::DecompressedTooLarge { .. })
    ));
}

#[test]
fn size_of_counts_every_field() {
    let b = RecordBatchBuilder::new();
    // Length, attributes, deltas, null key, null value, header count, then
    // two one-byte lengths per header.
    let headers = vec![Header::new(Bytes::new(), None::<Bytes>); 3];
    let r = NewRecord {
        headers: &headers,
        ..NewRecord::default()
    };
    assert_eq!(b.size_of(&r).unwrap(), 7 + 3 * 2);
    assert_eq!(b.encoded_size(), BATCH_HEADER_SIZE);
}
