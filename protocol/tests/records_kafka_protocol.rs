//! Cross-implementation checks against the `kafka-protocol` crate: batches we
//! encode (every codec) decode identically with its decoder, and batches it
//! encodes decode identically with ours.

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as KpCompression, Record as KpRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType as KpTimestampType,
};
use rkafka_protocol::records::{
    Compression, ControlRecord, DecodeOptions, FetchBatches, Header, NewRecord, RecordBatch,
    RecordBatchBuilder,
};

const CODECS: [(Compression, KpCompression); 5] = [
    (Compression::None, KpCompression::None),
    (Compression::Gzip, KpCompression::Gzip),
    (Compression::Snappy, KpCompression::Snappy),
    (Compression::Lz4, KpCompression::Lz4),
    (Compression::Zstd, KpCompression::Zstd),
];

/// What both sides must agree on for one record.
#[derive(Debug, Clone, PartialEq)]
struct Common {
    offset: i64,
    timestamp: i64,
    sequence: i32,
    producer_id: i64,
    producer_epoch: i16,
    transactional: bool,
    control: bool,
    key: Option<Bytes>,
    value: Option<Bytes>,
    /// kafka-protocol keeps headers in a map, so names are unique here.
    headers: Vec<(Bytes, Option<Bytes>)>,
}

fn from_ours(batch: &RecordBatch) -> Vec<Common> {
    let h = &batch.header;
    batch
        .records()
        .map(|r| r.expect("a valid record"))
        .map(|r| Common {
            offset: r.offset(),
            timestamp: r.timestamp(),
            sequence: if h.base_sequence < 0 {
                -1
            } else {
                h.base_sequence.wrapping_add(r.offset_delta())
            },
            producer_id: h.producer_id,
            producer_epoch: h.producer_epoch,
            transactional: h.is_transactional(),
            control: h.is_control(),
            key: r.key_bytes(),
            value: r.value_bytes(),
            headers: r
                .headers()
                .map(|h| (Bytes::copy_from_slice(h.key()), h.value_bytes()))
                .collect(),
        })
        .collect()
}

fn from_theirs(records: &[KpRecord]) -> Vec<Common> {
    records
        .iter()
        .map(|r| Common {
            offset: r.offset,
            timestamp: r.timestamp,
            // kafka-protocol reports base sequence + delta even without a producer.
            sequence: if r.producer_id < 0 { -1 } else { r.sequence },
            producer_id: r.producer_id,
            producer_epoch: r.producer_epoch,
            transactional: r.transactional,
            control: r.control,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| (Bytes::from(k.clone()), v.clone()))
                .collect(),
        })
        .collect()
}

/// Asserts equality, printing only the first differing record.
fn same(got: &[Common], want: &[Common], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: record count");
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        panic!(
            "{what}: record {i} differs:\n got {:?}\nwant {:?}",
            got[i], want[i]
        );
    }
}

fn sample(
    n: usize,
    base_offset: i64,
    producer: (i64, i16, i32),
    transactional: bool,
) -> Vec<Common> {
    (0..n)
        .map(|i| Common {
            offset: base_offset + i as i64,
            timestamp: 1_700_000_000_000 + (i as i64 * 13 % 97),
            sequence: if producer.2 < 0 {
                -1
            } else {
                producer.2 + i as i32
            },
            producer_id: producer.0,
            producer_epoch: producer.1,
            transactional,
            control: false,
            key: (i % 3 != 0).then(|| Bytes::from(format!("key-{i}"))),
            value: (i % 7 != 0).then(|| Bytes::from(format!("value-{i}-").repeat(i % 30 + 1))),
            headers: match i % 3 {
                0 => vec![],
                1 => vec![(Bytes::from_static(b"h1"), None)],
                _ => vec![
                    (Bytes::from_static(b"h1"), Some(Bytes::from_static(b"v1"))),
                    (Bytes::from_static(b"h2"), Some(Bytes::new())),
                ],
            },
        })
        .collect()
}

fn encode_ours(records: &[Common], codec: Compression) -> Bytes {
    let first = &records[0];
    let mut b = RecordBatchBuilder::new()
        .base_offset(first.offset)
        .compression(codec)
        .producer(first.producer_id, first.producer_epoch, first.sequence)
        .transactional(first.transactional);
    for r in records {
        let headers: Vec<Header> = r
            .headers
            .iter()
            .map(|(k, v)| Header {
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        b.push(&NewRecord {
            timestamp: r.timestamp,
            key: r.key.as_deref(),
            value: r.value.as_deref(),
            headers: &headers,
        })
        .unwrap();
    }
    b.finish().unwrap()
}

fn encode_theirs(records: &[Common], codec: KpCompression) -> Bytes {
    let first = records[0].clone();
    let kp: Vec<KpRecord> = records
        .iter()
        .map(|r| KpRecord {
            transactional: r.transactional,
            control: r.control,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: r.producer_id,
            producer_epoch: r.producer_epoch,
            timestamp_type: KpTimestampType::Creation,
            offset: r.offset,
            // kafka-protocol starts a new batch whenever offset - sequence
            // changes, so number non-idempotent records from -1 too.
            sequence: first
                .sequence
                .wrapping_add((r.offset - first.offset) as i32),
            timestamp: r.timestamp,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| (StrBytes::from_utf8(k.clone()).unwrap(), v.clone()))
                .collect::<IndexMap<_, _>>(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &kp,
        &RecordEncodeOptions {
            version: 2,
            compression: codec,
        },
    )
    .unwrap();
    buf.freeze()
}

#[test]
fn kafka_protocol_decodes_what_we_encode() {
    for (ours, theirs) in CODECS {
        for (producer, txn) in [((-1, -1, -1), false), ((77, 2, 1000), true)] {
            let records = sample(300, 5000, producer, txn);
            let mut bytes = encode_ours(&records, ours);
            let set = RecordBatchDecoder::decode(&mut bytes).unwrap();
            assert_eq!(set.compression, theirs);
            same(&from_theirs(&set.records), &records, &format!("{ours:?}"));
        }
    }
}

#[test]
fn we_decode_what_kafka_protocol_encodes() {
    for (ours, theirs) in CODECS {
        for (producer, txn) in [((-1, -1, -1), false), ((77, 2, 1000), true)] {
            let records = sample(300, 5000, producer, txn);
            let mut bytes = encode_theirs(&records, theirs);
            let batch = RecordBatch::decode(&mut bytes, &DecodeOptions::default()).unwrap();
            assert!(bytes.is_empty());
            assert_eq!(batch.header.compression().unwrap(), ours);
            same(&from_ours(&batch), &records, &format!("{ours:?}"));
        }
    }
}

#[test]
fn several_kafka_protocol_batches_in_one_fetch_payload() {
    let mut payload = BytesMut::new();
    let mut expected = Vec::new();
    for (i, (_, theirs)) in CODECS.into_iter().enumerate() {
        let records = sample(40, 100 * i as i64, (-1, -1, -1), false);
        payload.extend_from_slice(&encode_theirs(&records, theirs));
        expected.extend(records);
    }
    let got: Vec<Common> = FetchBatches::new(payload.freeze())
        .flat_map(|b| from_ours(&b.unwrap()))
        .collect();
    same(&got, &expected, "fetch");
}

#[test]
fn control_batches_agree() {
    let bytes = ControlRecord::Commit {
        coordinator_epoch: 5,
    }
    .encode_batch(10, 42, 1, 1_000)
    .unwrap();
    let set = RecordBatchDecoder::decode(&mut bytes.clone()).unwrap();
    let r = &set.records[0];
    assert!(r.control && r.transactional);
    assert_eq!((r.offset, r.producer_id, r.producer_epoch), (10, 42, 1));
    assert_eq!(r.key.as_deref(), Some(&[0u8, 0, 0, 1][..]));
    assert_eq!(r.value.as_deref(), Some(&[0u8, 0, 0, 0, 0, 5][..]));

    // And a marker written by kafka-protocol reads as a typed control record.
    let theirs = KpRecord {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: 3,
        producer_id: 42,
        producer_epoch: 1,
        timestamp_type: KpTimestampType::Creation,
        offset: 10,
        sequence: -1,
        timestamp: 1_000,
        key: Some(Bytes::from_static(&[0, 0, 0, 0])),
        value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 9])),
        headers: IndexMap::new(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        [&theirs],
        &RecordEncodeOptions {
            version: 2,
            compression: KpCompression::None,
        },
    )
    .unwrap();
    let batch = RecordBatch::decode(&mut buf.freeze(), &DecodeOptions::default()).unwrap();
    assert_eq!(batch.header.partition_leader_epoch, 3);
    assert_eq!(
        batch.control_record(),
        Some(Ok(ControlRecord::Abort {
            coordinator_epoch: 9
        }))
    );
}
