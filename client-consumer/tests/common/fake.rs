//! A one-broker Kafka responder written in the test that speaks the share
//! APIs at v2 (no local peer does: the mock has v1 only), for RENEW,
//! record_limit and the v2 `AcquisitionLockTimeoutMs` with crafted answers.
//!
//! It answers ApiVersions, Metadata (topic `t`, one partition, led by
//! itself), FindCoordinator (itself), ShareGroupHeartbeat (epoch 1, the
//! partition assigned), ShareFetch (the first fetch acquires offsets 0..N,
//! later ones wait and return nothing) and ShareAcknowledge (accepts all,
//! lock timeout [`ACK_LOCK_MS`]); every ShareFetch/ShareAcknowledge it
//! decodes is kept for the test to inspect.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rkafka_protocol::messages::api_versions_response::ApiVersion;
use rkafka_protocol::messages::find_coordinator_response::Coordinator;
use rkafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use rkafka_protocol::messages::share_acknowledge_response::{
    PartitionData as AckPartition, ShareAcknowledgeTopicResponse,
};
use rkafka_protocol::messages::share_fetch_response::{
    AcquiredRecords, LeaderIdAndEpoch, NodeEndpoint, PartitionData, ShareFetchableTopicResponse,
};
use rkafka_protocol::messages::share_group_heartbeat_response::{Assignment, TopicPartitions};
use rkafka_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, FindCoordinatorRequest, FindCoordinatorResponse,
    MetadataRequest, MetadataResponse, RequestHeader, ShareAcknowledgeRequest,
    ShareAcknowledgeResponse, ShareFetchRequest, ShareFetchResponse, ShareGroupHeartbeatRequest,
    ShareGroupHeartbeatResponse,
};
use rkafka_protocol::records::{NewRecord, RecordBatchBuilder};
use rkafka_protocol::{Message, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

/// The topic's id.
pub const TOPIC_ID: Uuid = Uuid::from_u128(0x5eed);
/// The lock timeout ShareFetch answers carry.
pub const FETCH_LOCK_MS: i32 = 15_000;
/// The lock timeout ShareAcknowledge v2 answers carry.
pub const ACK_LOCK_MS: i32 = 7_000;

/// What the broker saw.
#[derive(Default)]
pub struct Seen {
    /// (version, request) of each ShareFetch.
    pub fetches: Vec<(i16, ShareFetchRequest)>,
    /// (version, request) of each ShareAcknowledge.
    pub acks: Vec<(i16, ShareAcknowledgeRequest)>,
    /// Metadata requests answered.
    pub metadata: usize,
    /// Node ids that answered a ShareFetch with records.
    pub served_by: Vec<i32>,
    /// Metadata requests answered when the first leader hint was sent.
    pub metadata_at_hint: Option<usize>,
    /// Metadata requests answered when records were first served.
    pub metadata_at_serve: Option<usize>,
    /// Partition error codes for the next ShareAcknowledge answers, in turn
    /// (set by the test).
    pub ack_errors: std::collections::VecDeque<i16>,
}

/// One listener's role.
struct Ctx {
    node: i32,
    /// Node 0's port: metadata names node 0 as the leader and coordinator.
    port0: u16,
    /// With a second broker: node 0 answers ShareFetch with
    /// NOT_LEADER_OR_FOLLOWER, CurrentLeader = node 1 and node 1's endpoint
    /// (which metadata never lists), KIP-951 style.
    moved_to: Option<u16>,
    records: i64,
    seen: Arc<Mutex<Seen>>,
}

/// Starts the broker; `records` records are acquirable on the first fetch.
pub async fn start(records: i64) -> (String, Arc<Mutex<Seen>>) {
    start_nodes(records, false).await
}

/// As [`start`], but the partition has moved to a second broker that only
/// the ShareFetch answer's CurrentLeader + NodeEndpoints reveal.
pub async fn start_moved(records: i64) -> (String, Arc<Mutex<Seen>>) {
    start_nodes(records, true).await
}

async fn start_nodes(records: i64, moved: bool) -> (String, Arc<Mutex<Seen>>) {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let l0 = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port0 = l0.local_addr().unwrap().port();
    let mut listeners = vec![(0, l0, None)];
    if moved {
        let l1 = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port1 = l1.local_addr().unwrap().port();
        listeners[0].2 = Some(port1);
        listeners.push((1, l1, None));
    }
    for (node, l, moved_to) in listeners {
        let ctx = Arc::new(Ctx {
            node,
            port0,
            moved_to,
            records,
            seen: seen.clone(),
        });
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(serve(s, ctx.clone()));
            }
        });
    }
    (format!("127.0.0.1:{port0}"), seen)
}

fn encode<M: Message>(m: &M, v: i16) -> BytesMut {
    let mut b = BytesMut::new();
    m.encode(&mut b, v).unwrap();
    b
}

async fn reply(s: &mut TcpStream, corr: i32, flexible_header: bool, body: &[u8]) {
    let mut out = Vec::new();
    let len = 4 + usize::from(flexible_header) + body.len();
    out.extend_from_slice(&(len as i32).to_be_bytes());
    out.extend_from_slice(&corr.to_be_bytes());
    if flexible_header {
        out.push(0);
    }
    out.extend_from_slice(body);
    let _ = s.write_all(&out).await;
}

fn header<R: Request>(buf: &mut Bytes, v: i16) -> RequestHeader {
    RequestHeader::decode(buf, R::request_header_version(v)).unwrap()
}

fn batch(n: i64) -> Bytes {
    let mut b = RecordBatchBuilder::new();
    for i in 0..n {
        let v = format!("r{i}");
        b.push(&NewRecord {
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(v.as_bytes()),
            headers: &[],
        })
        .unwrap();
    }
    b.finish().unwrap()
}

async fn serve(mut s: TcpStream, ctx: Arc<Ctx>) {
    let (port, records, seen) = (ctx.port0, ctx.records, &ctx.seen);
    loop {
        let Ok(size) = s.read_i32().await else { return };
        let mut v = vec![0; size.max(0) as usize];
        if s.read_exact(&mut v).await.is_err() {
            return;
        }
        let mut buf = Bytes::from(v);
        let key = i16::from_be_bytes([buf[0], buf[1]]);
        let ver = i16::from_be_bytes([buf[2], buf[3]]);
        match key {
            18 => {
                let h = header::<ApiVersionsRequest>(&mut buf, ver);
                let list = [
                    (18, 0, 3),
                    (3, 1, 12),
                    (10, 0, 6),
                    (76, 1, 1),
                    (78, 1, 2),
                    (79, 1, 2),
                ]
                .iter()
                .map(|&(k, min, max)| {
                    ApiVersion::default()
                        .with_api_key(k)
                        .with_min_version(min)
                        .with_max_version(max)
                })
                .collect();
                let (resp, v) = if ver > 3 {
                    (
                        ApiVersionsResponse::default()
                            .with_error_code(35)
                            .with_api_keys(list),
                        0,
                    )
                } else {
                    (ApiVersionsResponse::default().with_api_keys(list), ver)
                };
                reply(&mut s, h.correlation_id, false, &encode(&resp, v)).await;
            }
            3 => {
                let h = header::<MetadataRequest>(&mut buf, ver);
                seen.lock().unwrap().metadata += 1;
                let resp = MetadataResponse::default()
                    .with_controller_id(0)
                    .with_brokers(vec![MetadataResponseBroker::default()
                        .with_node_id(0)
                        .with_host("127.0.0.1".into())
                        .with_port(i32::from(port))])
                    .with_topics(vec![MetadataResponseTopic::default()
                        .with_name(Some("t".into()))
                        .with_topic_id(TOPIC_ID)
                        .with_partitions(vec![MetadataResponsePartition::default()
                            .with_partition_index(0)
                            .with_leader_id(0)
                            .with_replica_nodes(vec![0])
                            .with_isr_nodes(vec![0])])]);
                reply(&mut s, h.correlation_id, ver >= 9, &encode(&resp, ver)).await;
            }
            10 => {
                let h = header::<FindCoordinatorRequest>(&mut buf, ver);
                let req = FindCoordinatorRequest::decode(&mut buf, ver).unwrap();
                // v4+ answers per key; older versions with the top-level fields.
                let resp = if ver >= 4 {
                    FindCoordinatorResponse::default()
                } else {
                    FindCoordinatorResponse::default()
                        .with_node_id(0)
                        .with_host("127.0.0.1".into())
                        .with_port(i32::from(port))
                };
                let resp = resp.with_coordinators(
                    req.coordinator_keys
                        .iter()
                        .map(|k| {
                            Coordinator::default()
                                .with_key(k.clone())
                                .with_node_id(0)
                                .with_host("127.0.0.1".into())
                                .with_port(i32::from(port))
                        })
                        .collect(),
                );
                reply(&mut s, h.correlation_id, ver >= 3, &encode(&resp, ver)).await;
            }
            76 => {
                let h = header::<ShareGroupHeartbeatRequest>(&mut buf, ver);
                let req = ShareGroupHeartbeatRequest::decode(&mut buf, ver).unwrap();
                let resp = ShareGroupHeartbeatResponse::default()
                    .with_member_id(Some(req.member_id.clone()))
                    .with_member_epoch(if req.member_epoch < 0 { -1 } else { 1 })
                    .with_heartbeat_interval_ms(1000)
                    .with_assignment(Some(Assignment::default().with_topic_partitions(vec![
                        TopicPartitions::default().with_topic_id(TOPIC_ID).with_partitions(vec![0]),
                    ])));
                reply(&mut s, h.correlation_id, true, &encode(&resp, ver)).await;
            }
            78 => {
                let h = header::<ShareFetchRequest>(&mut buf, ver);
                let req = ShareFetchRequest::decode(&mut buf, ver).unwrap();
                if let Some(port1) = ctx.moved_to {
                    {
                        let mut seen = seen.lock().unwrap();
                        seen.fetches.push((ver, req.clone()));
                        seen.metadata_at_hint = seen.metadata_at_hint.or(Some(seen.metadata));
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
                    reply(&mut s, h.correlation_id, true, &encode(&resp, ver)).await;
                    continue;
                }
                let first = {
                    let mut seen = seen.lock().unwrap();
                    seen.fetches.push((ver, req.clone()));
                    let first = !seen.served_by.contains(&ctx.node);
                    if first {
                        seen.served_by.push(ctx.node);
                        seen.metadata_at_serve = seen.metadata_at_serve.or(Some(seen.metadata));
                    }
                    first
                };
                let mut part = PartitionData::default()
                    .with_records(Some(Bytes::new()))
                    .with_partition_index(0);
                if first {
                    part = part
                        .with_records(Some(batch(records)))
                        .with_acquired_records(vec![AcquiredRecords::default()
                            .with_first_offset(0)
                            .with_last_offset(records - 1)
                            .with_delivery_count(1)]);
                } else if req.max_wait_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(req.max_wait_ms.min(200) as u64))
                        .await;
                }
                let resp = ShareFetchResponse::default()
                    .with_acquisition_lock_timeout_ms(FETCH_LOCK_MS)
                    .with_responses(vec![ShareFetchableTopicResponse::default()
                        .with_topic_id(TOPIC_ID)
                        .with_partitions(vec![part])]);
                reply(&mut s, h.correlation_id, true, &encode(&resp, ver)).await;
            }
            79 => {
                let h = header::<ShareAcknowledgeRequest>(&mut buf, ver);
                let req = ShareAcknowledgeRequest::decode(&mut buf, ver).unwrap();
                let code = seen.lock().unwrap().ack_errors.pop_front().unwrap_or(0);
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
                seen.lock().unwrap().acks.push((ver, req));
                let resp = ShareAcknowledgeResponse::default()
                    .with_acquisition_lock_timeout_ms(ACK_LOCK_MS)
                    .with_responses(topics);
                reply(&mut s, h.correlation_id, true, &encode(&resp, ver)).await;
            }
            _ => return,
        }
    }
}
