//! Record batch v2: round trips for every codec, exact size tracking, control
//! batches, the fetch iterator, and the compressed forms other clients write.

use bytes::Bytes;
use rkafka_protocol::records::{
    BatchHeader, Compression, ControlRecord, DecodeOptions, FetchBatches, Header, Incomplete,
    NewRecord, RecordBatch, RecordBatchBuilder, RecordsError, TimestampType, BATCH_HEADER_SIZE,
};

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// A record as plain owned data, for comparisons.
#[derive(Debug, Clone, PartialEq)]
struct Flat {
    offset: i64,
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

fn flatten(batch: &RecordBatch) -> Vec<Flat> {
    let flat: Vec<Flat> = batch
        .records()
        .map(|r| r.expect("a valid record"))
        .map(|r| Flat {
            offset: r.offset(),
            timestamp: r.timestamp(),
            key: r.key().map(<[u8]>::to_vec),
            value: r.value().map(<[u8]>::to_vec),
            headers: r
                .headers()
                .map(|h| (h.key().to_vec(), h.value().map(<[u8]>::to_vec)))
                .collect(),
        })
        .collect();
    // The owned form must say the same.
    let owned: Vec<Flat> = batch
        .to_records()
        .expect("valid records")
        .iter()
        .map(|r| Flat {
            offset: batch.offset_of(r),
            timestamp: batch.timestamp_of(r),
            key: r.key.as_ref().map(|b| b.to_vec()),
            value: r.value.as_ref().map(|b| b.to_vec()),
            headers: r
                .headers
                .iter()
                .map(|h| (h.key.to_vec(), h.value.as_ref().map(|v| v.to_vec())))
                .collect(),
        })
        .collect();
    assert!(flat == owned);
    assert_eq!(batch.len(), flat.len());
    flat
}

/// A varied set of records: null and empty keys and values, headers with null
/// values and repeated names, timestamps that go backwards.
fn sample(n: usize, base_ts: i64) -> Vec<Flat> {
    (0..n)
        .map(|i| Flat {
            offset: i as i64,
            timestamp: base_ts + (i as i64 * 37 % 1000) - 300,
            key: match i % 4 {
                0 => None,
                1 => Some(Vec::new()),
                _ => Some(format!("key-{i}").into_bytes()),
            },
            value: match i % 5 {
                0 => None,
                1 => Some(Vec::new()),
                _ => Some(format!("value-{i}-").repeat(i % 40 + 1).into_bytes()),
            },
            headers: match i % 3 {
                0 => Vec::new(),
                1 => vec![(b"trace".to_vec(), Some(vec![i as u8; 8]))],
                _ => vec![
                    (b"a".to_vec(), None),
                    (b"b".to_vec(), Some(Vec::new())),
                    (b"a".to_vec(), Some(b"again".to_vec())),
                ],
            },
        })
        .collect()
}

fn headers_of(f: &Flat) -> Vec<Header> {
    f.headers
        .iter()
        .map(|(k, v)| Header::new(k.clone(), v.clone()))
        .collect()
}

/// The record `f` describes, to push into a builder; `headers` is
/// `headers_of(f)`, which the record borrows.
fn new_record<'a>(f: &'a Flat, headers: &'a [Header]) -> NewRecord<'a> {
    NewRecord {
        timestamp: f.timestamp,
        key: f.key.as_deref(),
        value: f.value.as_deref(),
        headers,
    }
}

fn build(records: &[Flat], builder: RecordBatchBuilder) -> Bytes {
    let mut b = builder;
    for r in records {
        let headers = headers_of(r);
        b.push(&new_record(r, &headers)).unwrap();
    }
    b.finish().unwrap()
}

fn decode_one(bytes: &Bytes) -> RecordBatch {
    let mut input = bytes.clone();
    let batch = RecordBatch::decode(&mut input, &DecodeOptions::default()).unwrap();
    assert!(input.is_empty());
    batch
}

#[test]
fn round_trip_every_codec() {
    let records = sample(500, 1_700_000_000_000);
    for codec in CODECS {
        let bytes = build(
            &records,
            RecordBatchBuilder::new()
                .base_offset(1000)
                .partition_leader_epoch(7)
                .compression(codec)
                .producer(42, 3, 100)
                .transactional(true),
        );
        let batch = decode_one(&bytes);
        let h = &batch.header;
        assert_eq!(h.compression().unwrap(), codec);
        assert_eq!(h.base_offset, 1000);
        assert_eq!(h.partition_leader_epoch, 7);
        assert_eq!(h.magic, 2);
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (42, 3, 100)
        );
        assert!(h.is_transactional() && !h.is_control() && !h.has_delete_horizon());
        assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
        assert_eq!(h.record_count, 500);
        assert_eq!(h.last_offset_delta, 499);
        assert_eq!(h.next_offset(), 1500);
        assert_eq!(h.base_timestamp, records[0].timestamp);
        assert_eq!(
            h.max_timestamp,
            records.iter().map(|r| r.timestamp).max().unwrap()
        );
        assert_eq!(h.size(), bytes.len());
        let expected: Vec<Flat> = records
            .iter()
            .map(|r| Flat {
                offset: r.offset + 1000,
                ..r.clone()
            })
            .collect();
        assert!(flatten(&batch) == expected, "{codec:?}");
    }
}

#[test]
fn single_record_and_empty_batches() {
    for codec in CODECS {
        let one = sample(1, 5);
        let batch = decode_one(&build(&one, RecordBatchBuilder::new().compression(codec)));
        assert_eq!(flatten(&batch), one);
        let empty = decode_one(
            &RecordBatchBuilder::new()
                .compression(codec)
                .finish()
                .unwrap(),
        );
        assert!(empty.is_empty() && empty.records().next().is_none());
        assert_eq!(empty.header.last_offset_delta, -1);
    }
}

#[test]
fn builder_tracks_exact_size() {
    let records = sample(300, 1_000);
    let mut b = RecordBatchBuilder::with_capacity(16384);
    assert_eq!(b.encoded_size(), BATCH_HEADER_SIZE);
    for r in &records {
        let headers = headers_of(r);
        let rec = new_record(r, &headers);
        let before = b.encoded_size();
        let predicted = b.size_of(&rec).unwrap();
        assert_eq!(b.push(&rec).unwrap(), predicted);
        assert_eq!(b.encoded_size(), before + predicted);
    }
    assert_eq!(b.len(), 300);
    let size = b.encoded_size();
    assert_eq!(b.finish().unwrap().len(), size);
}

/// `push_within` takes a record only while the batch stays within the limit
/// (or is empty), and leaves the builder untouched when it refuses one, on
/// the simple path and on the general one (records with headers).
#[test]
fn push_within_cuts_at_the_limit_and_leaves_the_builder_unchanged() {
    let records = sample(300, 1_000);
    let limit = 4_000;
    let mut b = RecordBatchBuilder::with_capacity(limit);
    let mut taken = Vec::new();
    let mut refused = 0;
    for r in &records {
        let headers = headers_of(r);
        let rec = new_record(r, &headers);
        let (before, count) = (b.encoded_size(), b.len());
        let predicted = b.size_of(&rec).unwrap();
        match b.push_within(&rec, limit).unwrap() {
            Some(size) => {
                assert_eq!(size, predicted);
                assert!(count == 0 || before + size <= limit);
                taken.push(r.clone());
            }
            None => {
                assert!(before + predicted > limit);
                assert_eq!((b.encoded_size(), b.len()), (before, count));
                refused += 1;
            }
        }
    }
    assert!(refused > 0 && !taken.is_empty());
    assert!(taken.iter().any(|r| !r.headers.is_empty()));
    assert!(b.encoded_size() <= limit);
    // What was taken decodes as exactly those records, refused ones leaving
    // no trace.
    let expected = flatten(&decode_one(&build(&taken, RecordBatchBuilder::new())));
    assert_eq!(flatten(&decode_one(&b.finish().unwrap())), expected);
    // An empty batch takes even a record over the limit.
    let mut b = RecordBatchBuilder::new();
    let big = NewRecord {
        timestamp: 1,
        key: None,
        value: Some(&[7u8; 100]),
        headers: &[],
    };
    assert!(b.push_within(&big, 10).unwrap().is_some());
    assert_eq!(b.push_within(&big, 10).unwrap(), None);
    assert_eq!(b.len(), 1);
}

#[test]
fn headers_are_zero_copy_slices_of_the_input() {
    let records = sample(10, 0);
    let bytes = build(&records, RecordBatchBuilder::new());
    let batch = decode_one(&bytes);
    let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
    for r in &batch.to_records().unwrap() {
        for b in [&r.key, &r.value].into_iter().flatten() {
            if !b.is_empty() {
                assert!(range.contains(&(b.as_ptr() as usize)));
            }
        }
        for h in &r.headers {
            assert_eq!(h.key_str(), std::str::from_utf8(&h.key).ok());
            if let Some(v) = h.value.as_ref().filter(|v| !v.is_empty()) {
                assert!(range.contains(&(v.as_ptr() as usize)));
            }
        }
    }
}

#[test]
fn log_append_time_reports_the_max_timestamp() {
    let records = sample(3, 100);
    let bytes = build(
        &records,
        RecordBatchBuilder::new().timestamp_type(TimestampType::LogAppendTime),
    );
    let batch = decode_one(&bytes);
    assert_eq!(batch.header.timestamp_type(), TimestampType::LogAppendTime);
    for r in &batch {
        assert_eq!(r.unwrap().timestamp(), batch.header.max_timestamp);
    }
}

#[test]
fn control_batches_round_trip() {
    for marker in [
        ControlRecord::Commit {
            coordinator_epoch: 17,
        },
        ControlRecord::Abort {
            coordinator_epoch: -1,
        },
    ] {
        let bytes = marker.encode_batch(55, 9001, 4, 1_234).unwrap();
        let batch = decode_one(&bytes);
        let h = &batch.header;
        assert!(h.is_control() && h.is_transactional());
        assert_eq!((h.producer_id, h.producer_epoch), (9001, 4));
        assert_eq!(h.base_offset, 55);
        assert_eq!(batch.control_record(), Some(Ok(marker.clone())));
        assert_eq!(marker.is_commit(), !marker.is_abort());
    }
    // Data batches have no control record; unknown control types are kept raw.
    let data = decode_one(&build(&sample(1, 0), RecordBatchBuilder::new()));
    assert_eq!(data.control_record(), None);
    let other = ControlRecord::parse(Some(&[0, 0, 0, 5]), Some(&Bytes::from_static(b"x"))).unwrap();
    assert_eq!(
        other,
        ControlRecord::Other {
            kind: 5,
            value: Some(Bytes::from_static(b"x"))
        }
    );
    // Newer versions with longer keys and values still parse.
    let newer = ControlRecord::parse(
        Some(&[0, 1, 0, 1, 9, 9]),
        Some(&Bytes::from_static(&[0, 1, 0, 0, 0, 3, 7, 7])),
    );
    assert_eq!(
        newer,
        Ok(ControlRecord::Commit {
            coordinator_epoch: 3
        })
    );
    for (key, value) in [
        (None, None),
        (Some(&[0u8, 0, 0][..]), None),
        (
            Some(&[0xff, 0xff, 0, 1][..]),
            Some(Bytes::from_static(&[0; 6])),
        ),
        (Some(&[0, 0, 0, 1][..]), None),
        (Some(&[0, 0, 0, 1][..]), Some(Bytes::from_static(&[0; 5]))),
    ] {
        assert!(matches!(
            ControlRecord::parse(key, value.as_ref()),
            Err(RecordsError::InvalidControlRecord(_))
        ));
    }
}

#[test]
fn crc_zero_control_batches_decode_with_checking_off() {
    // librdkafka's mock cluster writes transaction markers with a CRC of 0.
    let bytes = ControlRecord::Commit {
        coordinator_epoch: 0,
    }
    .encode_batch(0, 1, 0, 0)
    .unwrap();
    let mut zeroed = bytes.to_vec();
    let stored = u32::from_be_bytes(zeroed[17..21].try_into().unwrap());
    zeroed[17..21].fill(0);
    let zeroed = Bytes::from(zeroed);
    let err = RecordBatch::decode(&mut zeroed.clone(), &DecodeOptions::default()).unwrap_err();
    assert_eq!(
        err,
        RecordsError::CrcMismatch {
            expected: 0,
            computed: stored
        }
    );
    let lenient = DecodeOptions {
        verify_crc: false,
        ..DecodeOptions::default()
    };
    let batch = RecordBatch::decode(&mut zeroed.clone(), &lenient).unwrap();
    assert!(batch.control_record().unwrap().unwrap().is_commit());
}

#[test]
fn fetch_iterator_yields_batches_and_reports_the_partial_tail() {
    let mut payload = Vec::new();
    let mut expected = Vec::new();
    let mut offset = 0;
    for (i, codec) in CODECS.into_iter().enumerate() {
        let records = sample(20 + i, 1_000);
        let bytes = build(
            &records,
            RecordBatchBuilder::new()
                .base_offset(offset)
                .compression(codec),
        );
        expected.push((offset, flatten(&decode_one(&bytes))));
        offset += records.len() as i64;
        payload.extend_from_slice(&bytes);
    }
    let last = build(&sample(5, 0), RecordBatchBuilder::new().base_offset(offset));
    let whole = payload.len();
    for cut in [0, 1, 11, 12, 16, 17, 60, 61, last.len() - 1] {
        let mut data = payload.clone();
        data.extend_from_slice(&last[..cut]);
        let mut it = FetchBatches::new(Bytes::from(data));
        let got: Vec<_> = it
            .by_ref()
            .map(|b| {
                let b = b.unwrap();
                (b.header.base_offset, flatten(&b))
            })
            .collect();
        assert!(got == expected, "cut {cut}");
        assert_eq!(it.remaining().len(), cut);
        let incomplete = it.incomplete();
        if cut == 0 {
            assert_eq!(incomplete, None);
        } else {
            assert_eq!(
                incomplete,
                Some(Incomplete {
                    available: cut,
                    needed: (cut >= 12).then_some(last.len()),
                })
            );
        }
    }
    let mut data = payload;
    data.extend_from_slice(&last);
    assert_eq!(FetchBatches::new(Bytes::from(data.clone())).count(), 6);
    assert!(whole > 0);

    // Split without decoding, then decode some: the same batches.
    let mut it = FetchBatches::new(Bytes::from(data[..data.len() - 3].to_vec()));
    let mut raw_offsets = Vec::new();
    while let Some(raw) = it.next_raw() {
        let raw = raw.unwrap();
        assert_eq!(raw.bytes.len(), raw.header.size());
        let batch = raw.decode(&DecodeOptions::default()).unwrap();
        assert_eq!(batch.header, raw.header);
        raw_offsets.push((raw.header.base_offset, flatten(&batch)));
    }
    assert!(raw_offsets == expected);
    assert_eq!(it.incomplete().unwrap().available, last.len() - 3);
}

/// Wraps an already-compressed records section in a batch header, as another
/// client would have written it.
fn raw_batch(codec: Compression, count: i32, base_timestamp: i64, records: &[u8]) -> Bytes {
    let mut b = vec![0u8; BATCH_HEADER_SIZE];
    b.extend_from_slice(records);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b[12..16].copy_from_slice(&(-1i32).to_be_bytes());
    b[16] = 2;
    b[21..23].copy_from_slice(&i16::from(codec.id()).to_be_bytes());
    b[23..27].copy_from_slice(&(count - 1).to_be_bytes());
    b[27..35].copy_from_slice(&base_timestamp.to_be_bytes());
    b[43..51].copy_from_slice(&(-1i64).to_be_bytes());
    b[51..53].copy_from_slice(&(-1i16).to_be_bytes());
    b[53..57].copy_from_slice(&(-1i32).to_be_bytes());
    b[57..61].copy_from_slice(&count.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(b)
}

/// The uncompressed records section of a batch built from `records`.
fn plain_records(records: &[Flat]) -> Vec<u8> {
    build(records, RecordBatchBuilder::new())[BATCH_HEADER_SIZE..].to_vec()
}

#[test]
fn decodes_the_compressed_forms_other_clients_write() {
    use std::io::Write;
    let records = sample(200, 77);
    let plain = plain_records(&records);
    let n = records.len() as i32;
    let mut variants: Vec<(&str, Compression, Vec<u8>)> = Vec::new();

    // librdkafka: one raw snappy block, no xerial framing.
    variants.push((
        "raw snappy",
        Compression::Snappy,
        snap::raw::Encoder::new().compress_vec(&plain).unwrap(),
    ));
    // Java: xerial framing with several small blocks.
    let mut xerial = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
    for chunk in plain.chunks(1000) {
        let c = snap::raw::Encoder::new().compress_vec(chunk).unwrap();
        xerial.extend_from_slice(&(c.len() as i32).to_be_bytes());
        xerial.extend_from_slice(&c);
    }
    variants.push(("xerial snappy", Compression::Snappy, xerial));
    // zstd with and without the content size.
    for with_size in [true, false] {
        let mut z = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
        z.include_contentsize(with_size).unwrap();
        z.write_all(&plain).unwrap();
        variants.push(("zstd", Compression::Zstd, z.finish().unwrap()));
    }
    // lz4 frames with checksums, linked blocks and a content size.
    let info = lz4_flex::frame::FrameInfo::new()
        .block_mode(lz4_flex::frame::BlockMode::Linked)
        .block_checksums(true)
        .content_checksum(true)
        .content_size(Some(plain.len() as u64));
    let mut l = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
    l.write_all(&plain).unwrap();
    variants.push(("lz4 linked", Compression::Lz4, l.finish().unwrap()));
    // gzip as two concatenated members.
    let mut gz = Vec::new();
    let (a, b) = plain.split_at(plain.len() / 2);
    for part in [a, b] {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(part).unwrap();
        gz.extend_from_slice(&e.finish().unwrap());
    }
    variants.push(("gzip members", Compression::Gzip, gz));

    for (name, codec, compressed) in variants {
        let batch = decode_one(&raw_batch(codec, n, records[0].timestamp, &compressed));
        assert!(flatten(&batch) == records, "{name}");
    }
}

#[test]
fn decodes_a_snappy_batch_written_by_the_java_client() {
    // The records section of a real Kafka batch: xerial header, one block.
    let section = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x0f\x0d\x30\x18\x00\x00\x00\x01\x0csdfdsf\x00";
    let batch = decode_one(&raw_batch(Compression::Snappy, 1, 0, section));
    assert_eq!(batch.len(), 1);
    let r = batch.records().next().unwrap().unwrap();
    assert_eq!(r.key(), None);
    assert_eq!(r.value(), Some(&b"sdfdsf"[..]));
    assert_eq!(r.value_bytes().as_deref(), Some(&b"sdfdsf"[..]));
}

#[test]
fn header_parse_reads_every_field() {
    let bytes = build(
        &sample(4, 10),
        RecordBatchBuilder::new()
            .base_offset(-5)
            .producer(1, 2, 3)
            .compression(Compression::Gzip)
            .control(true)
            .control(false),
    );
    let h = BatchHeader::parse(&bytes).unwrap();
    assert_eq!(h, decode_one(&bytes).header);
    assert_eq!(h.attributes, 1);
    assert_eq!(h.last_offset(), -2);
}

#[test]
fn long_varints_round_trip() {
    // Lengths and deltas whose varints take 3, 4 and 5+ bytes, past the
    // decoder's inline one- and two-byte paths.
    let big = vec![0xabu8; 3 << 20];
    let mid = vec![0xcdu8; 20_000];
    let many: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0..300)
        .map(|i| {
            (
                format!("h{i}").into_bytes(),
                (i % 2 == 0).then(|| mid[..i].to_vec()),
            )
        })
        .collect();
    let records = vec![
        Flat {
            offset: 0,
            timestamp: 0,
            key: Some(mid.clone()),
            value: Some(big.clone()),
            headers: many.clone(),
        },
        Flat {
            offset: 1,
            timestamp: i64::MAX / 2,
            key: None,
            value: Some(mid.clone()),
            headers: vec![(vec![b'k'; 20_000], Some(big[..70_000].to_vec()))],
        },
        Flat {
            offset: 2,
            timestamp: -(1 << 40),
            key: Some(big[..5000].to_vec()),
            value: None,
            headers: Vec::new(),
        },
    ];
    for codec in CODECS {
        let batch = decode_one(&build(
            &records,
            RecordBatchBuilder::new().compression(codec),
        ));
        assert!(flatten(&batch) == records, "{codec:?}");
        assert_eq!(batch.header.max_timestamp, i64::MAX / 2);
    }
}

#[test]
fn varint_width_boundaries_round_trip_with_exact_sizes() {
    // Lengths and deltas at the one/two/three-byte varint boundaries, where
    // the builder's fast path for small records hands over to the general one.
    let lens = [0usize, 63, 64, 127, 128, 4095, 4096, 4097, 8191, 8192, 8193];
    let deltas = [0i64, 63, 64, -64, -65, 8191, 8192, -8192, -8193, 1 << 40];
    let mut records = Vec::new();
    for (i, &len) in lens.iter().enumerate() {
        for &d in &deltas {
            records.push(Flat {
                offset: records.len() as i64,
                timestamp: 1_000_000 + d,
                key: (i % 2 == 0).then(|| vec![1u8; len / 2]),
                value: Some(vec![2u8; len]),
                headers: Vec::new(),
            });
        }
    }
    // The first record sets the base timestamp: make it the smallest delta's anchor.
    records.insert(
        0,
        Flat {
            offset: 0,
            timestamp: 1_000_000,
            key: None,
            value: None,
            headers: Vec::new(),
        },
    );
    for (i, r) in records.iter_mut().enumerate() {
        r.offset = i as i64;
    }
    let mut b = RecordBatchBuilder::new();
    for r in &records {
        let rec = NewRecord {
            timestamp: r.timestamp,
            key: r.key.as_deref(),
            value: r.value.as_deref(),
            headers: &[],
        };
        let predicted = b.size_of(&rec).unwrap();
        let before = b.encoded_size();
        assert_eq!(b.push(&rec).unwrap(), predicted);
        assert_eq!(b.encoded_size(), before + predicted);
    }
    let size = b.encoded_size();
    let bytes = b.finish().unwrap();
    assert_eq!(bytes.len(), size);
    assert!(flatten(&decode_one(&bytes)) == records);
}
