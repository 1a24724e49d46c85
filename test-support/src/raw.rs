//! Producing and reading back a partition with raw Produce and Fetch
//! requests through a core [`Client`]: a path independent of the producer
//! and consumers under test, and the way the core's own tests move data.

use bytes::Bytes;
use rkafka_client_core::{Client, Target};
use rkafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use rkafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use rkafka_protocol::messages::{FetchRequest, FetchResponse, ProduceRequest, ProduceResponse};
use rkafka_protocol::records::{DecodeOptions, FetchBatches, NewRecord, RecordBatchBuilder};
use rkafka_protocol::ErrorCode;

/// One record batch (no producer id, uncompressed) holding `values`, each
/// with `key`, all stamped 2023-11-14 (1_700_000_000_000 ms).
pub fn batch(key: Option<&[u8]>, values: &[&str]) -> Bytes {
    let mut b = RecordBatchBuilder::new();
    for v in values {
        b.push(&NewRecord {
            timestamp: 1_700_000_000_000,
            key,
            value: Some(v.as_bytes()),
            headers: &[],
        })
        .expect("a record fits a batch");
    }
    b.finish().expect("a batch")
}

/// A Produce request (acks=all, 5 s timeout) writing `records` to
/// `topic`/`partition`, the topic named (Produce v12 and below).
pub fn produce_request(topic: &str, partition: i32, records: Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic.into())
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])])
}

/// The first partition error of a Produce answer, or NONE.
pub fn produce_error(r: &ProduceResponse) -> ErrorCode {
    r.responses
        .iter()
        .flat_map(|t| &t.partition_responses)
        .map(|p| ErrorCode::from(p.error_code))
        .find(|c| !c.is_ok())
        .unwrap_or(ErrorCode::NONE)
}

/// The first error of a Fetch answer (top level, then partitions), or NONE.
pub fn fetch_error(r: &FetchResponse) -> ErrorCode {
    std::iter::once(r.error_code)
        .chain(
            r.responses
                .iter()
                .flat_map(|t| &t.partitions)
                .map(|p| p.error_code),
        )
        .map(ErrorCode::from)
        .find(|c| !c.is_ok())
        .unwrap_or(ErrorCode::NONE)
}

/// Writes `records` to the leader of `topic`/`partition` with
/// [`produce_request`], retrying what the client retries; panics unless the
/// partition is written. Returns the batch's base offset.
pub async fn produce(client: &Client, topic: &str, partition: i32, records: Bytes) -> i64 {
    let resp = client
        .send_checked(
            Target::leader(topic, partition),
            produce_request(topic, partition, records),
            produce_error,
        )
        .await
        .expect("produce");
    assert_eq!(produce_error(&resp), ErrorCode::NONE, "{resp:?}");
    resp.responses[0].partition_responses[0].base_offset
}

/// One record (or control marker) read back.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Its offset.
    pub offset: i64,
    /// Its timestamp (ms).
    pub timestamp: i64,
    /// Its key.
    pub key: Option<Vec<u8>>,
    /// Its value.
    pub value: Option<Vec<u8>>,
    /// Its headers, keys read as UTF-8 (lossily).
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Whether its batch is transactional.
    pub transactional: bool,
    /// For a control record: `Some(true)` a commit marker, `Some(false)` an
    /// abort marker.
    pub control: Option<bool>,
    /// Its batch's producer id.
    pub producer_id: i64,
    /// Its batch's base sequence.
    pub base_sequence: i32,
}

/// Every record (and control marker) of `topic`/`partition` from offset
/// `from` up to the high watermark, in offset order, read with raw Fetch
/// requests from the leader; panics on a Fetch error or a round that makes
/// no progress. `verify_crc` checks each batch's CRC (off for the mock
/// cluster's control batches, which it writes with CRC 0).
pub async fn fetch_all(
    client: &Client,
    topic: &str,
    partition: i32,
    from: i64,
    verify_crc: bool,
) -> Vec<Fetched> {
    let md = client.refresh_metadata(&[topic.to_owned()]).await.unwrap();
    let id = md.topic(topic).expect("topic in metadata").id;
    let opts = DecodeOptions {
        verify_crc,
        ..DecodeOptions::default()
    };
    let mut out = Vec::new();
    let mut next = from;
    loop {
        let build = |version: i16| {
            let t = if version >= 13 {
                FetchTopic::default().with_topic_id(id)
            } else {
                FetchTopic::default().with_topic(topic.to_owned())
            };
            Ok(FetchRequest::default()
                .with_max_wait_ms(50)
                .with_min_bytes(1)
                .with_max_bytes(8 << 20)
                .with_topics(vec![t.with_partitions(vec![FetchPartition::default()
                    .with_partition(partition)
                    .with_fetch_offset(next)
                    .with_partition_max_bytes(8 << 20)])]))
        };
        let resp = client
            .send_built(Target::leader(topic, partition), build, fetch_error)
            .await
            .expect("fetch");
        assert_eq!(fetch_error(&resp), ErrorCode::NONE, "{resp:?}");
        let p = &resp.responses[0].partitions[0];
        let before = next;
        for b in FetchBatches::with_options(p.records.clone().unwrap_or_default(), opts) {
            let b = b.expect("batch");
            let control = if b.header.is_control() {
                b.control_record()
                    .map(|c| c.expect("control record").is_commit())
            } else {
                None
            };
            for r in b.records() {
                let r = r.expect("record");
                if r.offset() < next {
                    continue;
                }
                out.push(Fetched {
                    offset: r.offset(),
                    timestamp: r.timestamp(),
                    key: r.key().map(<[u8]>::to_vec),
                    value: r.value().map(<[u8]>::to_vec),
                    headers: r
                        .headers()
                        .map(|h| {
                            (
                                String::from_utf8_lossy(h.key()).into_owned(),
                                h.value().map(<[u8]>::to_vec),
                            )
                        })
                        .collect(),
                    transactional: b.header.is_transactional(),
                    control,
                    producer_id: b.header.producer_id,
                    base_sequence: b.header.base_sequence,
                });
            }
            next = next.max(b.header.next_offset());
        }
        if next >= p.high_watermark {
            return out;
        }
        assert!(next > before, "fetch made no progress at offset {next}");
    }
}
