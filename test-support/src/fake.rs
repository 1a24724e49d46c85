//! A crafted Kafka broker for what no local peer serves: the share APIs at
//! v2 (KIP-1206/1222: RENEW, `record_limit`, the v2 acquisition lock
//! timeout; the mock has v1 only) and transactions v2 (KIP-890 part 2:
//! neither librdkafka's mock nor Tansu finalizes `transaction.version` or
//! serves Produce v12 / EndTxn v5).
//!
//! It serves topic [`TOPIC`] (id [`TOPIC_ID`]), led by itself (node 0), and
//! answers ApiVersions, Metadata, FindCoordinator (itself, for any key) and:
//!
//! - the share APIs ([`start_share`], one partition): ShareGroupHeartbeat
//!   (epoch 1, partition 0 assigned), ShareFetch (the first fetch a node
//!   serves acquires offsets `0..records`, later ones wait and return
//!   nothing; lock timeout [`FETCH_LOCK_MS`]) and ShareAcknowledge (accepts,
//!   or answers the codes in [`Seen::ack_errors`]; lock timeout
//!   [`ACK_LOCK_MS`]). With [`start_share_moved`] node 0 answers ShareFetch
//!   with NOT_LEADER_OR_FOLLOWER and, KIP-951 style, the CurrentLeader and
//!   endpoint of a node 1 that Metadata never lists.
//! - the transactional APIs ([`start_transactions`], two partitions):
//!   InitProducerId ([`PRODUCER_ID`]; with the current id and epoch it bumps
//!   the epoch), AddPartitionsToTxn (v3 and below), AddOffsetsToTxn,
//!   TxnOffsetCommit, Produce (offsets counted per partition; failures from
//!   [`Seen::produce_errors`]) and EndTxn (v5 bumps the epoch, and hands out
//!   a new producer id at epoch 0 once the epoch would reach `i16::MAX`, as
//!   a transactions-v2 coordinator does). With `tv2` it finalizes
//!   `transaction.version` 2 and serves Produce 3-12, EndTxn 0-5 and
//!   TxnOffsetCommit 0-5; without, no features and 3-11, 0-4, 0-4.
//!
//! Every request is logged, and what the tests inspect is kept, in [`Seen`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rkafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use rkafka_protocol::messages::api_versions_response::{FinalizedFeatureKey, SupportedFeatureKey};
use rkafka_protocol::messages::find_coordinator_response::Coordinator;
use rkafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use rkafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use rkafka_protocol::messages::share_acknowledge_response::{
    PartitionData as AckPartition, ShareAcknowledgeTopicResponse,
};
use rkafka_protocol::messages::share_fetch_response::{
    AcquiredRecords, LeaderIdAndEpoch, NodeEndpoint, PartitionData, ShareFetchableTopicResponse,
};
use rkafka_protocol::messages::share_group_heartbeat_response::{Assignment, TopicPartitions};
use rkafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use rkafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, ApiVersionsRequest, EndTxnRequest, EndTxnResponse,
    FindCoordinatorRequest, FindCoordinatorResponse, InitProducerIdRequest, InitProducerIdResponse,
    MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse, ShareAcknowledgeRequest,
    ShareAcknowledgeResponse, ShareFetchRequest, ShareFetchResponse, ShareGroupHeartbeatRequest,
    ShareGroupHeartbeatResponse, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use rkafka_protocol::records::BatchHeader;
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

use crate::raw;
use crate::wire::{self, Frame};

/// The one topic's name.
pub const TOPIC: &str = "t";
/// The one topic's id.
pub const TOPIC_ID: Uuid = Uuid::from_u128(0x5eed);
/// The producer id InitProducerId hands out first.
pub const PRODUCER_ID: i64 = 4000;
/// The lock timeout ShareFetch answers carry.
pub const FETCH_LOCK_MS: i32 = 15_000;
/// The lock timeout ShareAcknowledge v2 answers carry.
pub const ACK_LOCK_MS: i32 = 7_000;

/// One record batch as a Produce request carried it.
#[derive(Debug, Clone)]
pub struct ProducedBatch {
    /// The Produce version.
    pub version: i16,
    /// The request's transactional id.
    pub transactional_id: Option<String>,
    /// The partition.
    pub partition: i32,
    /// The batch header's producer id.
    pub producer_id: i64,
    /// The batch header's producer epoch.
    pub producer_epoch: i16,
    /// The batch header's base sequence.
    pub base_sequence: i32,
    /// Records in it.
    pub records: i32,
    /// Whether the batch is marked transactional.
    pub transactional: bool,
}

/// What the broker saw, and the failures a test asks it for.
#[derive(Debug, Default)]
pub struct Seen {
    /// (api key, version) of every request, in arrival order.
    pub requests: Vec<(i16, i16)>,
    /// (version, request) of each ShareFetch.
    pub fetches: Vec<(i16, ShareFetchRequest)>,
    /// (version, request) of each ShareAcknowledge.
    pub acks: Vec<(i16, ShareAcknowledgeRequest)>,
    /// Node ids that answered a ShareFetch with records.
    pub served_by: Vec<i32>,
    /// Metadata requests seen when the first leader hint was sent.
    pub metadata_at_hint: Option<usize>,
    /// Metadata requests seen when records were first served.
    pub metadata_at_serve: Option<usize>,
    /// Every batch produced (and written).
    pub batches: Vec<ProducedBatch>,
    /// (version, request) of each EndTxn.
    pub end_txns: Vec<(i16, EndTxnRequest)>,
    /// (version, request) of each TxnOffsetCommit.
    pub offset_commits: Vec<(i16, TxnOffsetCommitRequest)>,
    /// (version, request) of each InitProducerId.
    pub inits: Vec<(i16, InitProducerIdRequest)>,
    /// Partition error codes for the next ShareAcknowledge answers, in turn
    /// (set by the test).
    pub ack_errors: VecDeque<i16>,
    /// Error codes for the next Produce answers' partitions, in turn (set
    /// by the test); a partition answered with an error is not written.
    pub produce_errors: VecDeque<i16>,
}

impl Seen {
    /// How many requests of `api_key` arrived.
    pub fn count(&self, api_key: i16) -> usize {
        self.requests.iter().filter(|(k, _)| *k == api_key).count()
    }
}

/// The address to bootstrap from and what the broker sees.
pub type Started = (String, Arc<Mutex<Seen>>);

/// Starts the broker for a share consumer: `records` records are
/// acquirable on the first ShareFetch.
pub async fn start_share(records: i64) -> Started {
    start(Mode::Share { records }, 1, false).await
}

/// As [`start_share`], but the partition has moved to a second broker that
/// only the ShareFetch answer's CurrentLeader + NodeEndpoints reveal.
pub async fn start_share_moved(records: i64) -> Started {
    start(Mode::Share { records }, 1, true).await
}

/// Starts the broker for a transactional producer. `tv2` finalizes
/// `transaction.version` 2 (and serves the v2 versions); InitProducerId
/// answers epoch `init_epoch`.
pub async fn start_transactions(tv2: bool, init_epoch: i16) -> Started {
    start(Mode::Transactions { tv2, init_epoch }, 2, false).await
}

#[derive(Clone, Copy)]
enum Mode {
    Share { records: i64 },
    Transactions { tv2: bool, init_epoch: i16 },
}

/// State every listener and connection shares.
struct Broker {
    mode: Mode,
    partitions: i32,
    /// Node 0's port: metadata names node 0 as leader and coordinator.
    port0: u16,
    /// The coordinator's producer id and epoch.
    producer: Mutex<(i64, i16)>,
    /// The next offset of each partition.
    next_offset: Mutex<Vec<i64>>,
    seen: Arc<Mutex<Seen>>,
}

/// One listener's role.
struct Node {
    id: i32,
    /// Set on node 0 when the partition has moved to node 1 at this port.
    moved_to: Option<u16>,
    broker: Arc<Broker>,
}

async fn start(mode: Mode, partitions: i32, moved: bool) -> Started {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let l0 = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port0 = l0.local_addr().unwrap().port();
    let init_epoch = match mode {
        Mode::Transactions { init_epoch, .. } => init_epoch,
        Mode::Share { .. } => 0,
    };
    let broker = Arc::new(Broker {
        mode,
        partitions,
        port0,
        producer: Mutex::new((PRODUCER_ID, init_epoch)),
        next_offset: Mutex::new(vec![0; partitions as usize]),
        seen: seen.clone(),
    });
    let mut listeners = vec![(0, l0, None)];
    if moved {
        let l1 = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port1 = l1.local_addr().unwrap().port();
        listeners[0].2 = Some(port1);
        listeners.push((1, l1, None));
    }
    for (id, l, moved_to) in listeners {
        let node = Arc::new(Node {
            id,
            moved_to,
            broker: broker.clone(),
        });
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(serve(s, node.clone()));
            }
        });
    }
    (format!("127.0.0.1:{port0}"), seen)
}

async fn serve(mut s: TcpStream, node: Arc<Node>) {
    while let Some(mut f) = wire::read_frame(&mut s).await {
        node.broker
            .seen
            .lock()
            .unwrap()
            .requests
            .push((f.api_key, f.version));
        match f.api_key {
            18 => api_versions(&mut s, &node, &mut f).await,
            3 => metadata(&mut s, &node, &mut f).await,
            10 => find_coordinator(&mut s, &node, &mut f).await,
            76 => share_heartbeat(&mut s, &mut f).await,
            78 => share_fetch(&mut s, &node, &mut f).await,
            79 => share_acknowledge(&mut s, &node, &mut f).await,
            22 => init_producer_id(&mut s, &node, &mut f).await,
            24 => add_partitions(&mut s, &mut f).await,
            25 => {
                let corr = f.header::<AddOffsetsToTxnRequest>().correlation_id;
                let resp = AddOffsetsToTxnResponse::default();
                wire::respond::<AddOffsetsToTxnRequest, _>(&mut s, corr, f.version, &resp).await;
            }
            28 => txn_offset_commit(&mut s, &node, &mut f).await,
            26 => end_txn(&mut s, &node, &mut f).await,
            0 => produce(&mut s, &node, &mut f).await,
            _ => return,
        }
    }
}

async fn api_versions(s: &mut TcpStream, node: &Node, f: &mut Frame) {
    let corr = f.header::<ApiVersionsRequest>().correlation_id;
    let tv2 = matches!(node.broker.mode, Mode::Transactions { tv2: true, .. });
    let (produce, end, offsets) = if tv2 { (12, 5, 5) } else { (11, 4, 4) };
    let apis = [
        (18, 0, 3),
        (3, 1, 12),
        (10, 0, 6),
        (76, 1, 1),
        (78, 1, 2),
        (79, 1, 2),
        (0, 3, produce),
        (22, 0, 5),
        (24, 0, 5),
        (25, 0, 4),
        (26, 0, end),
        (28, 0, offsets),
    ];
    let (mut resp, v) = wire::api_versions(&apis, f.version);
    if tv2 {
        resp = resp
            .with_supported_features(vec![SupportedFeatureKey::default()
                .with_name("transaction.version".into())
                .with_min_version(0)
                .with_max_version(2)])
            .with_finalized_features_epoch(3)
            .with_finalized_features(vec![FinalizedFeatureKey::default()
                .with_name("transaction.version".into())
                .with_min_version_level(2)
                .with_max_version_level(2)]);
    }
    wire::respond::<ApiVersionsRequest, _>(s, corr, v, &resp).await;
}

async fn metadata(s: &mut TcpStream, node: &Node, f: &mut Frame) {
    let corr = f.header::<MetadataRequest>().correlation_id;
    let partitions = (0..node.broker.partitions)
        .map(|i| {
            MetadataResponsePartition::default()
                .with_partition_index(i)
                .with_leader_id(0)
                .with_replica_nodes(vec![0])
                .with_isr_nodes(vec![0])
        })
        .collect();
    let resp = MetadataResponse::default()
        .with_controller_id(0)
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(0)
            .with_host("127.0.0.1".into())
            .with_port(i32::from(node.broker.port0))])
        .with_topics(vec![MetadataResponseTopic::default()
            .with_name(Some(TOPIC.into()))
            .with_topic_id(TOPIC_ID)
            .with_partitions(partitions)]);
    wire::respond::<MetadataRequest, _>(s, corr, f.version, &resp).await;
}

async fn find_coordinator(s: &mut TcpStream, node: &Node, f: &mut Frame) {
    let (corr, req) = f.request::<FindCoordinatorRequest>();
    let port = i32::from(node.broker.port0);
    // v4+ answers per key; older versions with the top-level fields.
    let (resp, keys) = if f.version >= 4 {
        (FindCoordinatorResponse::default(), req.coordinator_keys)
    } else {
        let resp = FindCoordinatorResponse::default()
            .with_node_id(0)
            .with_host("127.0.0.1".into())
            .with_port(port);
        (resp, vec![req.key])
    };
    let resp = resp.with_coordinators(
        keys.into_iter()
            .map(|k| {
                Coordinator::default()
                    .with_key(k)
                    .with_node_id(0)
                    .with_host("127.0.0.1".into())
                    .with_port(port)
            })
            .collect(),
    );
    wire::respond::<FindCoordinatorRequest, _>(s, corr, f.version, &resp).await;
}

async fn share_heartbeat(s: &mut TcpStream, f: &mut Frame) {
    let (corr, req) = f.request::<ShareGroupHeartbeatRequest>();
    let resp = ShareGroupHeartbeatResponse::default()
        .with_member_id(Some(req.member_id.clone()))
        .with_member_epoch(if req.member_epoch < 0 { -1 } else { 1 })
        .with_heartbeat_interval_ms(1000)
        .with_assignment(Some(Assignment::default().with_topic_partitions(vec![
            TopicPartitions::default()
                .with_topic_id(TOPIC_ID)
                .with_partitions(vec![0]),
        ])));
    wire::respond::<ShareGroupHeartbeatRequest, _>(s, corr, f.version, &resp).await;
}

async fn share_fetch(s: &mut TcpStream, node: &Node, f: &mut Frame) {
    let (corr, req) = f.request::<ShareFetchRequest>();
    let ver = f.version;
    let records = match node.broker.mode {
        Mode::Share { records } => records,
        Mode::Transactions { .. } => 0,
    };
    if let Some(port1) = node.moved_to {
        {
            let mut seen = node.broker.seen.lock().unwrap();
            seen.fetches.push((ver, req));
            let metadata = seen.count(3);
            seen.metadata_at_hint = seen.metadata_at_hint.or(Some(metadata));
        }
        let part = PartitionData::default()
            .with_records(Some(Bytes::new()))
            .with_partition_index(0)
            .with_error_code(6)
            .with_current_leader(
                LeaderIdAndEpoch::default()
                    .with_leader_id(1)
                    .with_leader_epoch(5),
            );
        let resp = ShareFetchResponse::default()
            .with_responses(vec![ShareFetchableTopicResponse::default()
                .with_topic_id(TOPIC_ID)
                .with_partitions(vec![part])])
            .with_node_endpoints(vec![NodeEndpoint::default()
                .with_node_id(1)
                .with_host("127.0.0.1".into())
                .with_port(i32::from(port1))]);
        wire::respond::<ShareFetchRequest, _>(s, corr, ver, &resp).await;
        return;
    }
    let max_wait_ms = req.max_wait_ms;
    let first = {
        let mut seen = node.broker.seen.lock().unwrap();
        seen.fetches.push((ver, req));
        let first = !seen.served_by.contains(&node.id);
        if first {
            seen.served_by.push(node.id);
            let metadata = seen.count(3);
            seen.metadata_at_serve = seen.metadata_at_serve.or(Some(metadata));
        }
        first
    };
    let mut part = PartitionData::default()
        .with_records(Some(Bytes::new()))
        .with_partition_index(0);
    if first {
        let values: Vec<String> = (0..records).map(|i| format!("r{i}")).collect();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        part = part
            .with_records(Some(raw::batch(None, &values)))
            .with_acquired_records(vec![AcquiredRecords::default()
                .with_first_offset(0)
                .with_last_offset(records - 1)
                .with_delivery_count(1)]);
    } else if max_wait_ms > 0 {
        tokio::time::sleep(Duration::from_millis(max_wait_ms.min(200) as u64)).await;
    }
    let resp = ShareFetchResponse::default()
        .with_acquisition_lock_timeout_ms(FETCH_LOCK_MS)
        .with_responses(vec![ShareFetchableTopicResponse::default()
            .with_topic_id(TOPIC_ID)
            .with_partitions(vec![part])]);
    wire::respond::<ShareFetchRequest, _>(s, corr, ver, &resp).await;
}

async fn share_acknowledge(s: &mut TcpStream, node: &Node, f: &mut Frame) {
    let (corr, req) = f.request::<ShareAcknowledgeRequest>();
    let code = {
        let mut seen = node.broker.seen.lock().unwrap();
        seen.ack_errors.pop_front().unwrap_or(0)
    };
    let topics = req
        .topics
        .iter()
        .map(|t| {
            ShareAcknowledgeTopicResponse::default()
                .with_topic_id(t.topic_id)
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            AckPartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code)
                        })
                        .collect(),
                )
        })
        .collect();
    node.broker.seen.lock().unwrap().acks.push((f.version, req));
    let resp = ShareAcknowledgeResponse::default()
        .with_acquisition_lock_timeout_ms(ACK_LOCK_MS)
        .with_responses(topics);
    wire::respond::<ShareAcknowledgeRequest, _>(s, corr, f.version, &resp).await;
}

async fn init_producer_id(s: &mut TcpStream, node: &Node, f: &mut Frame) {
    let (corr, req) = f.request::<InitProducerIdRequest>();
    let producer = {
        let mut producer = node.broker.producer.lock().unwrap();
        // A bump of the current epoch (KIP-360/588) moves it on.
        if req.producer_id >= 0 {
            producer.1 += 1;
        }
        *producer
    };
    node.broker
        .seen
        .lock()
        .unwrap()
        .inits
        .push((f.version, req));
    let resp = InitProducerIdResponse::default()
        .with_producer_id(producer.0)
        .with_producer_epoch(producer.1);
    wire::respond::<InitProducerIdRequest, _>(s, corr, f.version, &resp).await;
}

async fn add_partitions(s: &mut TcpStream, f: &mut Frame) {
    let (corr, req) = f.request::<AddPartitionsToTxnRequest>();
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
                            AddPartitionsToTxnPartitionResult::default().with_partition_index(*p)
                        })
                        .collect(),
                )
        })
        .collect();
    let resp = AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(topics);
    wire::respond::<AddPartitionsToTxnRequest, _>(s, corr, f.version, &resp).await;
}

async fn txn_offset_commit(s: &mut TcpStream, node: &Node, f: &mut Frame) {
    let (corr, req) = f.request::<TxnOffsetCommitRequest>();
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
    node.broker
        .seen
        .lock()
        .unwrap()
        .offset_commits
        .push((f.version, req));
    let resp = TxnOffsetCommitResponse::default().with_topics(topics);
    wire::respond::<TxnOffsetCommitRequest, _>(s, corr, f.version, &resp).await;
}

async fn end_txn(s: &mut TcpStream, node: &Node, f: &mut Frame) {
    let (corr, req) = f.request::<EndTxnRequest>();
    let mut resp = EndTxnResponse::default();
    if f.version >= 5 {
        let mut producer = node.broker.producer.lock().unwrap();
        // Transactions v2: every end bumps the epoch; an exhausted epoch
        // gets a new producer id.
        *producer = if producer.1 >= i16::MAX - 1 {
            (producer.0 + 1, 0)
        } else {
            (producer.0, producer.1 + 1)
        };
        resp = resp
            .with_producer_id(producer.0)
            .with_producer_epoch(producer.1);
    }
    node.broker
        .seen
        .lock()
        .unwrap()
        .end_txns
        .push((f.version, req));
    wire::respond::<EndTxnRequest, _>(s, corr, f.version, &resp).await;
}

async fn produce(s: &mut TcpStream, node: &Node, f: &mut Frame) {
    let (corr, req) = f.request::<ProduceRequest>();
    let seen = &node.broker.seen;
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
                let mut next = node.broker.next_offset.lock().unwrap();
                let slot = &mut next[p.index as usize];
                let base = *slot;
                *slot += i64::from(bh.record_count);
                base
            };
            seen.lock().unwrap().batches.push(ProducedBatch {
                version: f.version,
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
    wire::respond::<ProduceRequest, _>(s, corr, f.version, &resp).await;
}
