//! How the task applies answers: heartbeats, ShareFetch (records, acquired
//! ranges, piggybacked ack results, leader hints) and ShareAcknowledge
//! (retry policy, session errors, the epoch -1 close).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rkafka_client_core::metadata::{BrokerInfo, LeaderHint};
use rkafka_client_core::{CoordinatorKind, Error};
use rkafka_protocol::messages::{ShareAcknowledgeResponse, ShareFetchResponse};
use rkafka_protocol::ErrorCode;

use super::{local, Done, Task, NODE_BACKOFF};
use crate::share::acks::{GAP, RENEW};
use crate::share::error::ShareError;
use crate::share::fetch::{extract, Origin};
use crate::share::membership::Step;
use crate::share::record::{AckError, TopicPartition};
use crate::share::requests::PartAcks;
use crate::share::session::{FetchPlan, Tip};

impl Task {
    pub(super) fn on_done(&mut self, done: Done) {
        let now = Instant::now();
        match done {
            Done::Metadata => self.metadata_in_flight = false,
            Done::Heartbeat(result) => {
                let step = match result {
                    Ok(resp) => self.membership.on_response(&resp, now),
                    Err(e) => {
                        tracing::debug!(error = %e, "share group heartbeat failed");
                        self.client
                            .forget_coordinator(CoordinatorKind::Group, &self.cfg.group_id);
                        self.membership.on_failure(now)
                    }
                };
                match step {
                    Step::Continue | Step::Left => {}
                    Step::AssignmentChanged => self.refresh_metadata(),
                    Step::Rediscover => self
                        .client
                        .forget_coordinator(CoordinatorKind::Group, &self.cfg.group_id),
                    Step::Fatal(code) => self.pending_error = Some(ShareError::Group { code }),
                }
            }
            Done::Fetch {
                node,
                plan,
                acks,
                version,
                result,
            } => self.on_fetch(node, plan, acks, version, result, now),
            Done::Ack {
                node,
                close,
                acks,
                version,
                result,
            } => self.on_ack(node, close, acks, version, result, now),
        }
        self.check_commits(now);
    }

    fn on_fetch(
        &mut self,
        node: i32,
        plan: FetchPlan,
        mut acks: BTreeMap<Tip, PartAcks>,
        version: i16,
        result: Result<ShareFetchResponse, Error>,
        now: Instant,
    ) {
        self.acks_in_flight.remove(&node);
        self.fetching.remove(&node);
        let session = self.sessions.entry(node).or_default();
        session.in_flight = false;
        let resp = match result {
            Err(Error::Cancelled) if (0..2).contains(&version) => {
                // Never sent: record_limit needs ShareFetch v2.
                self.pending_error = Some(ShareError::Unsupported {
                    what: "share.acquire.mode=record_limit",
                    broker: node,
                    version,
                });
                self.backoff_until
                    .insert(node, now + Duration::from_secs(1));
                for (tip, a) in acks {
                    self.push_acks(node, tip, a);
                }
                return;
            }
            Err(e) => {
                tracing::debug!(node, error = %e, "ShareFetch failed; the session starts over");
                session.reset();
                self.backoff_until.insert(node, now + NODE_BACKOFF);
                let err = local(ErrorCode::NETWORK_EXCEPTION, &e.to_string());
                for (tip, a) in &acks {
                    self.report(*tip, a, Some(err.clone()));
                }
                self.refresh_metadata();
                return;
            }
            Ok(resp) => resp,
        };
        let top = ErrorCode::from(resp.error_code);
        if !top.is_ok() {
            if !session.on_error_code(top) {
                session.on_fetch_done(plan);
            }
            tracing::debug!(node, code = %top, "ShareFetch error");
            self.backoff_until.insert(node, now + NODE_BACKOFF);
            let err = AckError {
                code: top,
                message: resp.error_message.clone(),
            };
            for (tip, a) in &acks {
                self.report(*tip, a, Some(err.clone()));
            }
            if top.code() == 100 {
                self.refresh_metadata();
            }
            return;
        }
        session.on_fetch_done(plan);
        if resp.acquisition_lock_timeout_ms > 0 {
            self.lock_timeout = Some(Duration::from_millis(
                resp.acquisition_lock_timeout_ms as u64,
            ));
        }
        let endpoints: Vec<BrokerInfo> = resp
            .node_endpoints
            .iter()
            .map(|e| BrokerInfo {
                id: e.node_id,
                host: e.host.clone(),
                port: e.port,
                rack: e.rack.clone(),
            })
            .collect();
        let mut refresh = false;
        for topic in resp.responses {
            let name = self.topic_name(&topic.topic_id);
            for p in topic.partitions {
                let tip = (topic.topic_id, p.partition_index);
                if let Some(a) = acks.remove(&tip) {
                    let code = ErrorCode::from(p.acknowledge_error_code);
                    let err = (!code.is_ok()).then(|| AckError {
                        code,
                        message: p.acknowledge_error_message.clone(),
                    });
                    self.report(tip, &a, err);
                }
                let code = ErrorCode::from(p.error_code);
                if !code.is_ok() {
                    refresh |= self.on_partition_error(
                        &name,
                        tip,
                        code,
                        p.current_leader.leader_id,
                        p.current_leader.leader_epoch,
                        &endpoints,
                    );
                    continue;
                }
                let origin = Origin {
                    node,
                    topic_id: topic.topic_id,
                    topic: name.clone(),
                    partition: p.partition_index,
                };
                let got = extract(&origin, p.records.as_ref(), &p.acquired_records);
                let retry_until = now + self.client.config().default_api_timeout;
                let mut auto: BTreeMap<i64, i8> = got.gaps.iter().map(|&o| (o, GAP)).collect();
                // A corrupt batch's acquired offsets are rejected (Java's rule).
                auto.extend(got.corrupt.iter().map(|&o| (o, 3)));
                // Offsets past a cut-off payload go back for another try.
                auto.extend(got.unknown.iter().map(|&o| (o, 2)));
                if !auto.is_empty() {
                    self.push_acks(
                        node,
                        tip,
                        PartAcks {
                            topic: name.clone(),
                            offsets: auto,
                            retry_until,
                        },
                    );
                }
                if let Some(reason) = got.error {
                    tracing::warn!(topic = %name, partition = p.partition_index, %reason, "corrupt share fetch data");
                    if !got.corrupt.is_empty() {
                        self.pending_error = Some(ShareError::Corrupt {
                            partition: TopicPartition {
                                topic: name.to_string(),
                                partition: p.partition_index,
                            },
                            offsets: got.corrupt,
                            reason,
                        });
                    }
                }
                self.buffer.extend(got.records);
            }
        }
        // Acks for partitions the answer left out cannot be confirmed.
        for (tip, a) in &acks {
            self.report(
                *tip,
                a,
                Some(local(
                    ErrorCode::INVALID_RECORD_STATE,
                    "partition missing from the ShareFetch response",
                )),
            );
        }
        if refresh {
            self.refresh_metadata();
        }
        self.serve_poll(now);
    }

    /// A partition-level error: leadership errors are patched from the
    /// answer's CurrentLeader + NodeEndpoints when it names a leader (no
    /// metadata round trip), else metadata is refreshed. Returns whether a
    /// refresh is needed.
    fn on_partition_error(
        &mut self,
        name: &Arc<str>,
        tip: Tip,
        code: ErrorCode,
        leader: i32,
        leader_epoch: i32,
        endpoints: &[BrokerInfo],
    ) -> bool {
        tracing::debug!(topic = %name, partition = tip.1, %code, "share partition error");
        let leadership = matches!(code.code(), 6 | 74);
        if leadership && leader >= 0 {
            self.client.leader_hint(LeaderHint {
                topic: name.to_string(),
                partition: tip.1,
                leader,
                leader_epoch,
                endpoints: endpoints.to_vec(),
            });
            return false;
        }
        match code.code() {
            6 | 74 | 9 | 56 | 78 | 3 | 100 | 110 => true,
            29 | 2 => {
                self.pending_error = Some(ShareError::Group { code });
                false
            }
            _ => false,
        }
    }

    fn on_ack(
        &mut self,
        node: i32,
        close: bool,
        acks: BTreeMap<Tip, PartAcks>,
        version: i16,
        result: Result<ShareAcknowledgeResponse, Error>,
        now: Instant,
    ) {
        self.acks_in_flight.remove(&node);
        let session = self.sessions.entry(node).or_default();
        session.in_flight = false;
        let resp = match result {
            Err(Error::Cancelled) if (0..2).contains(&version) => {
                // Never sent: RENEW needs ShareAcknowledge v2. The other
                // acks of the request are queued again without the renews.
                self.pending_error = Some(ShareError::Unsupported {
                    what: "AcknowledgeType::Renew",
                    broker: node,
                    version,
                });
                let err = AckError {
                    code: ErrorCode::UNSUPPORTED_VERSION,
                    message: Some(format!(
                        "RENEW needs ShareAcknowledge v2; broker {node} offers v{version}"
                    )),
                };
                for (tip, mut a) in acks {
                    let renews: BTreeMap<i64, i8> = a
                        .offsets
                        .iter()
                        .filter(|(_, &t)| t == RENEW)
                        .map(|(&o, &t)| (o, t))
                        .collect();
                    a.offsets.retain(|_, t| *t != RENEW);
                    let r = PartAcks {
                        topic: a.topic.clone(),
                        offsets: renews,
                        retry_until: a.retry_until,
                    };
                    self.report(tip, &r, Some(err.clone()));
                    if !a.offsets.is_empty() {
                        self.push_acks(node, tip, a);
                    }
                }
                return;
            }
            Err(e) => {
                tracing::debug!(node, error = %e, "ShareAcknowledge failed; the session starts over");
                if !close {
                    session.reset();
                }
                self.backoff_until.insert(node, now + NODE_BACKOFF);
                let err = local(ErrorCode::NETWORK_EXCEPTION, &e.to_string());
                for (tip, a) in &acks {
                    self.report(*tip, a, Some(err.clone()));
                }
                return;
            }
            Ok(resp) => resp,
        };
        if resp.acquisition_lock_timeout_ms > 0 {
            self.lock_timeout = Some(Duration::from_millis(
                resp.acquisition_lock_timeout_ms as u64,
            ));
        }
        let top = ErrorCode::from(resp.error_code);
        let mut acks = acks;
        if !top.is_ok() {
            let session_error = !close && session.on_error_code(top);
            if !session_error && !close {
                session.on_ack_done();
            }
            self.backoff_until.insert(node, now + NODE_BACKOFF);
            for (tip, a) in acks {
                // Retriable top-level errors retry the whole set while the
                // session lives and the deadline allows (never for close).
                if top.is_retriable() && !session_error && !close && now < a.retry_until {
                    self.push_acks(node, tip, a);
                } else {
                    let err = AckError {
                        code: top,
                        message: resp.error_message.clone(),
                    };
                    self.report(tip, &a, Some(err));
                }
            }
            return;
        }
        if !close {
            session.on_ack_done();
        }
        for topic in &resp.responses {
            let name = self.topic_name(&topic.topic_id);
            for p in &topic.partitions {
                let tip = (topic.topic_id, p.partition_index);
                let Some(a) = acks.remove(&tip) else { continue };
                let code = ErrorCode::from(p.error_code);
                if code.is_ok() {
                    self.report(tip, &a, None);
                    continue;
                }
                let lost_locks = matches!(code.code(), 6 | 74 | 3 | 100);
                if lost_locks {
                    let _ = self.on_partition_error(
                        &name,
                        tip,
                        code,
                        p.current_leader.leader_id,
                        p.current_leader.leader_epoch,
                        &[],
                    );
                }
                if code.is_retriable() && !lost_locks && !close && now < a.retry_until {
                    self.push_acks(node, tip, a);
                    self.backoff_until.insert(node, now + NODE_BACKOFF);
                } else {
                    let err = AckError {
                        code,
                        message: p.error_message.clone(),
                    };
                    self.report(tip, &a, Some(err));
                }
            }
        }
        for (tip, a) in &acks {
            self.report(
                *tip,
                a,
                Some(local(
                    ErrorCode::INVALID_RECORD_STATE,
                    "partition missing from the ShareAcknowledge response",
                )),
            );
        }
    }
}
