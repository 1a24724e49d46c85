//! Codec benchmarks: rkafka against the `kafka-protocol` crate on the same
//! bytes in the same run, plus memcpy + CRC32C of the batch as the floor any
//! decoder pays.
//!
//! Every function is named `codec/<op>/<implementation>`. The workload is one
//! v2 batch of 1,000 records with a 10-byte key and a 100-byte value; "decode"
//! means the batch is parsed (CRC checked) and every record's offset,
//! timestamp, key and value are read.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages as kp;
use kafka_protocol::protocol::{Encodable as _, StrBytes};
use kafka_protocol::records as kpr;
use rkafka_protocol::messages::{
    fetch_response, produce_request, FetchResponse, ProduceRequest, RequestHeader,
};
use rkafka_protocol::records::{
    Compression, DecodeOptions, FetchBatches, NewRecord, RecordBatchBuilder,
};
use rkafka_protocol::{Message, Request};
use uuid::Uuid;
use workload::{
    decode_ours, decode_theirs, encode_ours, floor, value, CRC_START, KEY, RECORDS, TS,
};

mod workload;

const CODECS: [(Compression, kpr::Compression, &str); 5] = [
    (Compression::None, kpr::Compression::None, "none"),
    (Compression::Gzip, kpr::Compression::Gzip, "gzip"),
    (Compression::Snappy, kpr::Compression::Snappy, "snappy"),
    (Compression::Lz4, kpr::Compression::Lz4, "lz4"),
    (Compression::Zstd, kpr::Compression::Zstd, "zstd"),
];

fn kp_records(value: &[u8]) -> Vec<kpr::Record> {
    (0..RECORDS as i64)
        .map(|i| kpr::Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: kpr::TimestampType::Creation,
            offset: i,
            // kafka-protocol starts a new batch whenever offset - sequence changes;
            // a constant difference (base sequence -1, as ours writes) keeps all
            // 1,000 records in one batch, so both sides encode the same batch.
            sequence: i as i32 - 1,
            timestamp: TS + i,
            key: Some(Bytes::copy_from_slice(&KEY)),
            value: Some(Bytes::copy_from_slice(value)),
            headers: IndexMap::new(),
        })
        .collect()
}

fn encode_theirs(records: &[kpr::Record], codec: kpr::Compression) -> Bytes {
    let mut buf = BytesMut::with_capacity(130_000);
    kpr::RecordBatchEncoder::encode(
        &mut buf,
        records,
        &kpr::RecordEncodeOptions {
            version: 2,
            compression: codec,
        },
    )
    .expect("kafka-protocol encodes");
    buf.freeze()
}

fn batches(c: &mut Criterion) {
    let value = value();
    let theirs_in = kp_records(&value);
    let opts = DecodeOptions::default();
    let mut g = c.benchmark_group("codec");
    for (ours_codec, kp_codec, name) in CODECS {
        let bytes = encode_ours(ours_codec, &value);
        // Both decoders must agree on the bytes before they are timed, and both
        // encoders must write one batch of the same records.
        assert_eq!(decode_ours(&bytes, &opts), RECORDS);
        assert_eq!(decode_theirs(&bytes), RECORDS);
        let theirs = encode_theirs(&theirs_in, kp_codec);
        assert_eq!(
            decode_ours(&theirs, &opts),
            RECORDS,
            "kafka-protocol wrote one batch"
        );
        if ours_codec == Compression::None {
            assert_eq!(theirs.len(), bytes.len(), "same uncompressed batch size");
        }
        g.throughput(Throughput::Elements(RECORDS as u64));
        g.bench_function(format!("batch_encode_{name}/rkafka"), |b| {
            b.iter(|| encode_ours(ours_codec, black_box(&value)))
        });
        g.bench_function(format!("batch_encode_{name}/kafka-protocol"), |b| {
            b.iter(|| encode_theirs(black_box(&theirs_in), kp_codec))
        });
        g.bench_function(format!("batch_decode_{name}/rkafka"), |b| {
            b.iter(|| decode_ours(black_box(&bytes), &opts))
        });
        g.bench_function(format!("batch_decode_{name}/kafka-protocol"), |b| {
            b.iter(|| decode_theirs(black_box(&bytes)))
        });
        if ours_codec == Compression::None {
            let mut copy = vec![0u8; bytes.len()];
            g.bench_function("batch_decode_none/memcpy+crc32c", |b| {
                b.iter(|| floor(&mut copy, &bytes))
            });
            // The same floor with the crc32c crate (the SSE4.2 instruction, what
            // kafka-protocol uses), the floor this bench measured until crc-fast.
            g.bench_function("batch_decode_none/memcpy+crc32c-crate", |b| {
                b.iter(|| {
                    copy.copy_from_slice(black_box(&bytes));
                    crc32c::crc32c(&copy[CRC_START..])
                })
            });
        }
    }
    g.finish();
}

const TOPIC_ID: Uuid = Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0);

/// A ProduceRequest v13 for one partition, with request header v2 and the
/// 4-byte size prefix: the bytes a producer puts on the socket.
fn produce_ours(batch: &Bytes) -> Bytes {
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![produce_request::TopicProduceData::default()
            .with_topic_id(TOPIC_ID)
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(batch.clone())),
            ])]);
    let header = RequestHeader::default()
        .with_request_api_key(0)
        .with_request_api_version(13)
        .with_correlation_id(7)
        .with_client_id(Some("bench".into()));
    let hv = ProduceRequest::request_header_version(13);
    let size = header.encoded_size(hv) + req.encoded_size(13);
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.extend_from_slice(&(size as i32).to_be_bytes());
    header.encode(&mut buf, hv).expect("header");
    req.encode(&mut buf, 13).expect("request");
    buf.freeze()
}

fn produce_theirs(batch: &Bytes) -> Bytes {
    let req = kp::ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![kp::produce_request::TopicProduceData::default()
            .with_topic_id(TOPIC_ID)
            .with_partition_data(vec![
                kp::produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(batch.clone())),
            ])]);
    let header = kp::RequestHeader::default()
        .with_request_api_key(0)
        .with_request_api_version(13)
        .with_correlation_id(7)
        .with_client_id(Some(StrBytes::from_static_str("bench")));
    let size = header.compute_size(2).expect("size") + req.compute_size(13).expect("size");
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.extend_from_slice(&(size as i32).to_be_bytes());
    header.encode(&mut buf, 2).expect("header");
    req.encode(&mut buf, 13).expect("request");
    buf.freeze()
}

/// A FetchResponse v18 body whose one partition carries `payload` (10 batches).
fn fetch_response_bytes(payload: &Bytes) -> Bytes {
    let resp = FetchResponse::default().with_responses(vec![
        fetch_response::FetchableTopicResponse::default()
            .with_topic_id(TOPIC_ID)
            .with_partitions(vec![fetch_response::PartitionData::default()
                .with_high_watermark(10 * RECORDS as i64)
                .with_records(Some(payload.clone()))]),
    ]);
    let mut buf = BytesMut::new();
    resp.encode(&mut buf, 18).expect("fetch response");
    buf.freeze()
}

fn fetch_ours(body: &Bytes) -> usize {
    let resp = FetchResponse::decode(&mut body.clone(), 18).expect("decodes");
    let mut n = 0;
    for topic in &resp.responses {
        for p in &topic.partitions {
            let records = p.records.clone().unwrap_or_default();
            for batch in FetchBatches::new(records) {
                let batch = batch.expect("batch");
                for r in batch.records() {
                    let r = r.expect("record");
                    black_box((r.offset(), r.timestamp(), r.key(), r.value()));
                    n += 1;
                }
            }
        }
    }
    n
}

fn fetch_theirs(body: &Bytes) -> usize {
    use kafka_protocol::protocol::Decodable as _;
    let resp = kp::FetchResponse::decode(&mut body.clone(), 18).expect("decodes");
    let mut n = 0;
    for topic in &resp.responses {
        for p in &topic.partitions {
            let mut records = p.records.clone().unwrap_or_default();
            for set in kpr::RecordBatchDecoder::decode_all(&mut records).expect("batches") {
                for r in &set.records {
                    black_box((r.offset, r.timestamp, &r.key, &r.value));
                    n += 1;
                }
            }
        }
    }
    n
}

fn requests(c: &mut Criterion) {
    let value = value();
    let batch = encode_ours(Compression::None, &value);
    let mut g = c.benchmark_group("codec");
    assert_eq!(
        produce_ours(&batch),
        produce_theirs(&batch),
        "both encoders write the same bytes"
    );
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.bench_function("produce_encode/rkafka", |b| {
        b.iter(|| produce_ours(black_box(&batch)))
    });
    g.bench_function("produce_encode/kafka-protocol", |b| {
        b.iter(|| produce_theirs(black_box(&batch)))
    });

    let mut payload = BytesMut::new();
    for i in 0..10 {
        let mut b = RecordBatchBuilder::with_capacity(130_000).base_offset(i * RECORDS as i64);
        for j in 0..RECORDS as i64 {
            b.push(&NewRecord {
                timestamp: TS + j,
                key: Some(&KEY),
                value: Some(&value),
                headers: &[],
            })
            .unwrap();
        }
        payload.extend_from_slice(&b.finish().unwrap());
    }
    let body = fetch_response_bytes(&payload.freeze());
    assert_eq!(fetch_ours(&body), 10 * RECORDS);
    assert_eq!(fetch_theirs(&body), 10 * RECORDS);
    g.throughput(Throughput::Elements(10 * RECORDS as u64));
    g.bench_function("fetch_decode/rkafka", |b| {
        b.iter(|| fetch_ours(black_box(&body)))
    });
    g.bench_function("fetch_decode/kafka-protocol", |b| {
        b.iter(|| fetch_theirs(black_box(&body)))
    });
    g.finish();
}

criterion_group!(benches, batches, requests);
criterion_main!(benches);
