//! A one-broker Kafka responder written in the test, for what no local
//! peer serves: transactions v2 (KIP-890 part 2). Neither librdkafka's mock
//! nor Tansu finalizes `transaction.version` or serves Produce v12 / EndTxn
//! v5, so the producer's v2 path is checked against crafted answers.
//!
//! This is the producer's own copy of the pattern of
//! `client-consumer/tests/common/fake.rs` (the share consumer's v2 broker):
//! the shared harness crate `rkafka-tests` is synchronous and depends on no
//! workspace crate, and the two fakes share only the framing helpers.
//!
//! It answers ApiVersions (with `transaction.version` finalized at 2 and
//! Produce 3-12 / EndTxn 0-5 / TxnOffsetCommit 0-5 when `tv2`, else no
//! features and Produce 3-11 / EndTxn 0-4 / TxnOffsetCommit 0-4), Metadata
//! (topic `t`, two partitions, led by itself), FindCoordinator (itself),
//! InitProducerId, AddPartitionsToTxn (v3 and below), AddOffsetsToTxn,
//! TxnOffsetCommit, Produce and EndTxn. EndTxn v5 bumps the epoch, and
//! hands out a new producer id at epoch 0 once the epoch would reach
//! `i16::MAX`, as a transactions-v2 coordinator does; InitProducerId with
//! the current id and epoch bumps the epoch. Produce answers can be made to
//! fail ([`Seen::produce_errors`]). Everything it decodes is kept in
//! [`Seen`] for the test to inspect.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use rkafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use rkafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use rkafka_protocol::messages::find_coordinator_response::Coordinator;
use rkafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use rkafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use rkafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use rkafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, ApiVersionsRequest, ApiVersionsResponse, EndTxnRequest,
    EndTxnResponse, FindCoordinatorRequest, FindCoordinatorResponse, InitProducerIdRequest,
    InitProducerIdResponse, MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse,
    RequestHeader, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use rkafka_protocol::records::BatchHeader;
use rkafka_protocol::{Message, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

/// The topic's id.
pub const TOPIC_ID: Uuid = Uuid::from_u128(0x7e57);
/// The producer id InitProducerId hands out.
pub const PRODUCER_ID: i64 = 4000;

/// One record batch as a Produce request carried it.
#[derive(Debug, Clone)]
pub struct ProducedBatch {
    /// The Produce version.
    pub version: i16,
    /// The request's transactional id.
    pub transactional_id: Option<String>,
    /// The partition.
    pub partition: i32,
    /// The batch header's producer id, epoch and base sequence.
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    /// Records in it.
    pub records: i32,
    pub transactional: bool,
}

/// What the broker saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// (api key, version) of every request, in order.
    pub requests: Vec<(i16, i16)>,
    /// Every batch produced.
    pub batches: Vec<ProducedBatch>,
    /// (version, request) of each EndTxn.
    pub end_txns: Vec<(i16, EndTxnRequest)>,
    /// (version, request) of each TxnOffsetCommit.
    pub offset_commits: Vec<(i16, TxnOffsetCommitRequest)>,
    /// (version, request) of each InitProducerId.
    pub inits: Vec<(i16, InitProducerIdRequest)>,
    /// Error codes for the next Produce answers' partitions, in turn (set
    /// by the test); a partition answered with an error is not written.
    pub produce_errors: std::collections::VecDeque<i16>,
}

impl Seen {
    /// How many requests of `api_key` arrived.
    pub fn count(&self, api_key: i16) -> usize {
        self.requests.iter().filter(|(k, _)| *k == api_key).count()
    }
}

struct State {
    tv2: bool,
    /// The coordinator's producer id and epoch.
    producer: (i64, i16),
    next_offset: [i64; 2],
    seen: Arc<Mutex<Seen>>,
}

/// Starts the broker. `tv2` finalizes `transaction.version` 2 (and serves
/// the v2 versions); InitProducerId answers epoch `init_epoch`.
pub async fn start(tv2: bool, init_epoch: i16) -> (String, Arc<Mutex<Seen>>) {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let state = Arc::new(Mutex::new(State {
        tv2,
        producer: (PRODUCER_ID, init_epoch),
        next_offset: [0; 2],
        seen: seen.clone(),
    }));
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(serve(s, port, state.clone()));
        }
    });
    (format!("127.0.0.1:{port}"), seen)
}

fn encode<M: Message>(m: &M, v: i16) -> BytesMut {
    let mut b = BytesMut::new();
    m.encode(&mut b, v).unwrap();
    b
}

async fn reply<R: Request>(s: &mut TcpStream, corr: i32, v: i16, body: &impl Message) {
    // ApiVersions answers always use header v0.
    let flexible = R::API_KEY as i16 != 18 && R::response_header_version(v) >= 1;
    let body = encode(body, v);
    let mut out = Vec::new();
    let len = 4 + usize::from(flexible) + body.len();
    out.extend_from_slice(&(len as i32).to_be_bytes());
    out.extend_from_slice(&corr.to_be_bytes());
    if flexible {
        out.push(0);
    }
    out.extend_from_slice(&body);
    let _ = s.write_all(&out).await;
}

fn header<R: Request>(buf: &mut Bytes, v: i16) -> RequestHeader {
    RequestHeader::decode(buf, R::request_header_version(v)).unwrap()
}

fn api_versions(tv2: bool) -> ApiVersionsResponse {
    let (produce, end, offsets) = if tv2 { (12, 5, 5) } else { (11, 4, 4) };
    let list = [
        (18, 0, 3),
        (3, 1, 12),
        (10, 0, 6),
        (0, 3, produce),
        (22, 0, 5),
        (24, 0, 5),
        (25, 0, 4),
        (26, 0, end),
        (28, 0, offsets),
    ]
    .iter()
    .map(|&(k, min, max)| {
        ApiVersion::default()
            .with_api_key(k)
            .with_min_version(min)
            .with_max_version(max)
    })
    .collect();
    let resp = ApiVersionsResponse::default().with_api_keys(list);
    if !tv2 {
        return resp;
    }
    resp.with_supported_features(vec![SupportedFeatureKey::default()
        .with_name("transaction.version".into())
        .with_min_version(0)
        .with_max_version(2)])
        .with_finalized_features_epoch(3)
        .with_finalized_features(vec![FinalizedFeatureKey::default()
            .with_name("transaction.version".into())
            .with_min_version_level(2)
            .with_max_version_level(2)])
}

async fn serve(mut s: TcpStream, port: u16, state: Arc<Mutex<State>>) {
    let (tv2, seen) = {
        let st = state.lock().unwrap();
        (st.tv2, st.seen.clone())
    };
    loop {
        let Ok(size) = s.read_i32().await else { return };
        let mut v = vec![0; size.max(0) as usize];
        if s.read_exact(&mut v).await.is_err() {
            return;
        }
        let mut buf = Bytes::from(v);
        let key = i16::from_be_bytes([buf[0], buf[1]]);
        let ver = i16::from_be_bytes([buf[2], buf[3]]);
        seen.lock().unwrap().requests.push((key, ver));
        match key {
            18 => {
                let h = header::<ApiVersionsRequest>(&mut buf, ver);
                let resp = api_versions(tv2);
                if ver > 3 {
                    let resp = resp.with_error_code(35);
                    reply::<ApiVersionsRequest>(&mut s, h.correlation_id, 0, &resp).await;
                } else {
                    reply::<ApiVersionsRequest>(&mut s, h.correlation_id, ver, &resp).await;
                }
            }
            3 => {
                let h = header::<MetadataRequest>(&mut buf, ver);
                let partition = |i| {
                    MetadataResponsePartition::default()
                        .with_partition_index(i)
                        .with_leader_id(0)
                        .with_replica_nodes(vec![0])
                        .with_isr_nodes(vec![0])
                };
                let resp = MetadataResponse::default()
                    .with_controller_id(0)
                    .with_brokers(vec![MetadataResponseBroker::default()
                        .with_node_id(0)
                        .with_host("127.0.0.1".into())
                        .with_port(i32::from(port))])
                    .with_topics(vec![MetadataResponseTopic::default()
                        .with_name(Some("t".into()))
                        .with_topic_id(TOPIC_ID)
                        .with_partitions(vec![partition(0), partition(1)])]);
                reply::<MetadataRequest>(&mut s, h.correlation_id, ver, &resp).await;
            }
            10 => {
                let h = header::<FindCoordinatorRequest>(&mut buf, ver);
                let req = FindCoordinatorRequest::decode(&mut buf, ver).unwrap();
                let resp = if ver >= 4 {
                    FindCoordinatorResponse::default()
                } else {
                    FindCoordinatorResponse::default()
                        .with_node_id(0)
                        .with_host("127.0.0.1".into())
                        .with_port(i32::from(port))
                };
                let keys = if ver >= 4 {
                    req.coordinator_keys.clone()
                } else {
                    vec![req.key.clone()]
                };
                let resp = resp.with_coordinators(
                    keys.iter()
                        .map(|k| {
                            Coordinator::default()
                                .with_key(k.clone())
                                .with_node_id(0)
                                .with_host("127.0.0.1".into())
                                .with_port(i32::from(port))
                        })
                        .collect(),
                );
                reply::<FindCoordinatorRequest>(&mut s, h.correlation_id, ver, &resp).await;
            }
            22 => {
                let h = header::<InitProducerIdRequest>(&mut buf, ver);
                let req = InitProducerIdRequest::decode(&mut buf, ver).unwrap();
                let producer = {
                    let mut st = state.lock().unwrap();
                    // A bump of the current epoch (KIP-360/588) moves it on.
                    if req.producer_id >= 0 {
                        st.producer.1 += 1;
                    }
                    st.producer
                };
                seen.lock().unwrap().inits.push((ver, req));
                let resp = InitProducerIdResponse::default()
                    .with_producer_id(producer.0)
                    .with_producer_epoch(producer.1);
                reply::<InitProducerIdRequest>(&mut s, h.correlation_id, ver, &resp).await;
            }
            24 => {
                let h = header::<AddPartitionsToTxnRequest>(&mut buf, ver);
                let req = AddPartitionsToTxnRequest::decode(&mut buf, ver).unwrap();
                let topics = req
                    .v3_and_below_topics
                    .iter()
                    .map(|t| {
                        AddPartitionsToTxnTopicResult::default()
                            .with_name(t.name.clone())
                            .with_results_by_partition(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        AddPartitionsToTxnPartitionResult::default()
                                            .with_partition_index(*p)
                                    })
                                    .collect(),
                            )
                    })
                    .collect();
                let resp = AddPartitionsToTxnResponse::default()
                    .with_results_by_topic_v3_and_below(topics);
                reply::<AddPartitionsToTxnRequest>(&mut s, h.correlation_id, ver, &resp).await;
            }
            25 => {
                let h = header::<AddOffsetsToTxnRequest>(&mut buf, ver);
                let resp = AddOffsetsToTxnResponse::default();
                reply::<AddOffsetsToTxnRequest>(&mut s, h.correlation_id, ver, &resp).await;
            }
            28 => {
                let h = header::<TxnOffsetCommitRequest>(&mut buf, ver);
                let req = TxnOffsetCommitRequest::decode(&mut buf, ver).unwrap();
                let topics = req
                    .topics
                    .iter()
                    .map(|t| {
                        TxnOffsetCommitResponseTopic::default()
                            .with_name(t.name.clone())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        TxnOffsetCommitResponsePartition::default()
                                            .with_partition_index(p.partition_index)
                                    })
                                    .collect(),
                            )
                    })
                    .collect();
                seen.lock().unwrap().offset_commits.push((ver, req));
                let resp = TxnOffsetCommitResponse::default().with_topics(topics);
                reply::<TxnOffsetCommitRequest>(&mut s, h.correlation_id, ver, &resp).await;
            }
            26 => {
                let h = header::<EndTxnRequest>(&mut buf, ver);
                let req = EndTxnRequest::decode(&mut buf, ver).unwrap();
                let mut resp = EndTxnResponse::default();
                if ver >= 5 {
                    let mut st = state.lock().unwrap();
                    // Transactions v2: every end bumps the epoch; an
                    // exhausted epoch gets a new producer id.
                    st.producer = if st.producer.1 >= i16::MAX - 1 {
                        (st.producer.0 + 1, 0)
                    } else {
                        (st.producer.0, st.producer.1 + 1)
                    };
                    resp = resp
                        .with_producer_id(st.producer.0)
                        .with_producer_epoch(st.producer.1);
                }
                seen.lock().unwrap().end_txns.push((ver, req));
                reply::<EndTxnRequest>(&mut s, h.correlation_id, ver, &resp).await;
            }
            0 => {
                let h = header::<ProduceRequest>(&mut buf, ver);
                let req = ProduceRequest::decode(&mut buf, ver).unwrap();
                let mut topics = Vec::new();
                for t in &req.topic_data {
                    let mut parts = Vec::new();
                    for p in &t.partition_data {
                        let records = p.records.clone().unwrap_or_default();
                        let bh = BatchHeader::parse(&records).unwrap();
                        let error = seen.lock().unwrap().produce_errors.pop_front();
                        if let Some(code) = error.filter(|c| *c != 0) {
                            parts.push(
                                PartitionProduceResponse::default()
                                    .with_index(p.index)
                                    .with_error_code(code)
                                    .with_base_offset(-1),
                            );
                            continue;
                        }
                        let base = {
                            let mut st = state.lock().unwrap();
                            let slot = &mut st.next_offset[p.index as usize];
                            let base = *slot;
                            *slot += i64::from(bh.record_count);
                            base
                        };
                        seen.lock().unwrap().batches.push(ProducedBatch {
                            version: ver,
                            transactional_id: req.transactional_id.clone(),
                            partition: p.index,
                            producer_id: bh.producer_id,
                            producer_epoch: bh.producer_epoch,
                            base_sequence: bh.base_sequence,
                            records: bh.record_count,
                            transactional: bh.is_transactional(),
                        });
                        parts.push(
                            PartitionProduceResponse::default()
                                .with_index(p.index)
                                .with_base_offset(base)
                                .with_log_append_time_ms(-1),
                        );
                    }
                    topics.push(
                        TopicProduceResponse::default()
                            .with_name(t.name.clone())
                            .with_topic_id(t.topic_id)
                            .with_partition_responses(parts),
                    );
                }
                let resp = ProduceResponse::default().with_responses(topics);
                reply::<ProduceRequest>(&mut s, h.correlation_id, ver, &resp).await;
            }
            _ => return,
        }
    }
}
