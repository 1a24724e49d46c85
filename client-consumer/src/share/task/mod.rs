//! The background task: owns the membership, the per-broker sessions, the
//! fetched-record buffer and every queued acknowledgement.
//!
//! The handle ([`crate::ShareConsumer`]) talks to it through [`Command`]s
//! and oneshot replies; nothing is shared between them. One loop selects
//! over commands, finished requests and a timer; after each event
//! [`Task::drive`] starts whatever is due (a heartbeat, one request per idle
//! broker), so there is never more than one request in flight per broker
//! and session epochs stay in order.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicI16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rkafka_client_core::{Client, CoordinatorKind, Error, Target};
use rkafka_protocol::messages::{
    ShareAcknowledgeResponse, ShareFetchResponse, ShareGroupHeartbeatResponse,
};
use rkafka_protocol::ErrorCode;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use uuid::Uuid;

mod answers;

use super::acks::GAP;
use super::config::{AcquireMode, ShareConsumerConfig};
use super::error::ShareError;
use super::membership::{Membership, State};
use super::record::{AckError, AckOutcome, ShareRecord, TopicPartition};
use super::requests::{share_acknowledge, share_fetch, FetchLimits, PartAcks};
use super::session::{FetchPlan, Session, Tip, CLOSE_EPOCH};

/// One acknowledgement from the handle.
#[derive(Debug, Clone)]
pub(crate) struct Ack {
    pub node: i32,
    pub topic_id: Uuid,
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    pub code: i8,
}

/// Per-partition commit results.
pub(crate) type CommitResult = BTreeMap<TopicPartition, Result<(), AckError>>;

/// A commit's answer: the results and the latest lock timeout seen (a v2
/// ShareAcknowledge answer refreshes it).
pub(crate) type CommitReply = (CommitResult, Option<Duration>);

/// What a poll gets back.
#[derive(Debug)]
pub(crate) struct PollReply {
    pub records: Result<Vec<ShareRecord>, ShareError>,
    pub lock_timeout: Option<Duration>,
}

/// Requests from the handle.
#[derive(Debug)]
pub(crate) enum Command {
    Poll {
        acks: Vec<Ack>,
        max: usize,
        timeout: Duration,
        reply: oneshot::Sender<PollReply>,
    },
    Commit {
        acks: Vec<Ack>,
        /// `Some` for `commit_sync`: wait this long for the outcomes.
        wait: Option<(Duration, oneshot::Sender<CommitReply>)>,
    },
    Subscribe(BTreeSet<String>),
    Close {
        acks: Vec<Ack>,
        timeout: Duration,
        reply: oneshot::Sender<()>,
    },
}

/// A finished background request.
enum Done {
    Heartbeat(Result<ShareGroupHeartbeatResponse, Error>),
    Fetch {
        node: i32,
        plan: FetchPlan,
        acks: BTreeMap<Tip, PartAcks>,
        version: i16,
        result: Result<ShareFetchResponse, Error>,
    },
    Ack {
        node: i32,
        close: bool,
        acks: BTreeMap<Tip, PartAcks>,
        version: i16,
        result: Result<ShareAcknowledgeResponse, Error>,
    },
    Metadata,
}

struct WaitingPoll {
    max: usize,
    deadline: Instant,
    reply: oneshot::Sender<PollReply>,
}

struct WaitingCommit {
    parts: BTreeSet<Tip>,
    results: BTreeMap<Tip, Option<AckError>>,
    deadline: Instant,
    reply: oneshot::Sender<CommitReply>,
}

struct Closing {
    deadline: Instant,
    reply: Option<oneshot::Sender<()>>,
    leave_started: bool,
}

/// The least time between two metadata refreshes the task asks for.
const METADATA_MIN_INTERVAL: Duration = Duration::from_millis(250);

/// Backoff after a failed request to a broker.
const NODE_BACKOFF: Duration = Duration::from_millis(100);

pub(crate) struct Task {
    cfg: ShareConsumerConfig,
    client: Client,
    membership: Membership,
    sessions: BTreeMap<i32, Session>,
    backoff_until: BTreeMap<i32, Instant>,
    buffer: VecDeque<ShareRecord>,
    /// Acks waiting to be sent, per delivering broker.
    acks: BTreeMap<i32, BTreeMap<Tip, PartAcks>>,
    /// Partitions whose acks are on the wire, per broker.
    acks_in_flight: BTreeMap<i32, BTreeSet<Tip>>,
    poll: Option<WaitingPoll>,
    commits: Vec<WaitingCommit>,
    closing: Option<Closing>,
    outcomes: mpsc::UnboundedSender<AckOutcome>,
    jobs: JoinSet<Done>,
    metadata_in_flight: bool,
    /// Brokers with a fetch that acquires records in flight.
    fetching: BTreeSet<i32>,
    /// record_limit mode: the broker that got the last acquiring fetch
    /// (the next one starts after it, so every broker gets its turn).
    last_fetched: i32,
    /// A refresh was put off by `metadata_not_before`.
    metadata_wanted: bool,
    /// No refresh before this (unresolvable ids must not cause a storm).
    metadata_not_before: Instant,
    /// The subscribed topics (metadata is refreshed for them).
    topics: Vec<String>,
    last_poll: Instant,
    lock_timeout: Option<Duration>,
    /// Surfaced (once) by the next poll.
    pending_error: Option<ShareError>,
}

impl Task {
    pub(crate) fn new(
        cfg: ShareConsumerConfig,
        client: Client,
        outcomes: mpsc::UnboundedSender<AckOutcome>,
    ) -> Self {
        let mut membership = Membership::new(cfg.group_id.clone(), cfg.rack.clone());
        let topics: BTreeSet<String> = cfg.topics.iter().cloned().collect();
        let topics_vec: Vec<String> = topics.iter().cloned().collect();
        if !topics.is_empty() {
            membership.subscribe(topics);
        }
        Self {
            cfg,
            client,
            membership,
            sessions: BTreeMap::new(),
            backoff_until: BTreeMap::new(),
            buffer: VecDeque::new(),
            acks: BTreeMap::new(),
            acks_in_flight: BTreeMap::new(),
            poll: None,
            commits: Vec::new(),
            closing: None,
            outcomes,
            jobs: JoinSet::new(),
            metadata_in_flight: false,
            fetching: BTreeSet::new(),
            last_fetched: -1,
            metadata_wanted: false,
            metadata_not_before: Instant::now(),
            topics: topics_vec,
            last_poll: Instant::now(),
            lock_timeout: None,
            pending_error: None,
        }
    }

    /// Runs until the handle closes the consumer or is dropped. Dropping
    /// the task drops the client and its connections, which makes every
    /// broker release this member's locks.
    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        self.refresh_metadata();
        loop {
            let now = Instant::now();
            self.drive(now);
            if self.finish_close(now) {
                return;
            }
            let wake = self.next_wakeup(now);
            tokio::select! {
                cmd = commands.recv(), if self.closing.is_none() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => return,
                },
                Some(done) = self.jobs.join_next() => match done {
                    Ok(done) => self.on_done(done),
                    Err(e) => tracing::error!(error = %e, "share consumer request task failed"),
                },
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
        }
    }

    fn next_wakeup(&self, now: Instant) -> Instant {
        let far = now + Duration::from_secs(3600);
        let mut t = far;
        let mut at = |x: Option<Instant>| {
            if let Some(x) = x {
                t = t.min(x);
            }
        };
        at(self.membership.due_at(now));
        at(self.poll.as_ref().map(|p| p.deadline));
        at(self.commits.iter().map(|c| c.deadline).min());
        at(self.closing.as_ref().map(|c| c.deadline));
        at(self
            .backoff_until
            .values()
            .copied()
            .filter(|&b| b > now)
            .min());
        if self.in_group() && self.poll.is_none() {
            at(Some(self.last_poll + self.cfg.max_poll_interval));
        }
        // Only ahead of now: a stale flag must not make the loop spin.
        if self.metadata_wanted && !self.metadata_in_flight && self.metadata_not_before > now {
            at(Some(self.metadata_not_before));
        }
        // Ack retries wait for a broker's backoff; re-check them soon.
        if !self.acks.is_empty() {
            at(Some(now + NODE_BACKOFF));
        }
        t.max(now)
    }

    fn in_group(&self) -> bool {
        matches!(
            self.membership.state(),
            State::Stable | State::Acknowledging
        )
    }

    // ---- commands --------------------------------------------------------

    fn on_command(&mut self, cmd: Command) {
        let now = Instant::now();
        match cmd {
            Command::Poll {
                acks,
                max,
                timeout,
                reply,
            } => {
                self.queue_acks(acks, now + self.client.config().default_api_timeout);
                self.last_poll = now;
                self.membership.on_poll();
                if let Some(old) = self.poll.take() {
                    self.answer_poll(old, Vec::new());
                }
                self.poll = Some(WaitingPoll {
                    max: max.max(1),
                    deadline: now + timeout,
                    reply,
                });
                self.serve_poll(now);
            }
            Command::Commit { acks, wait } => {
                let limit = match &wait {
                    Some((t, _)) => *t,
                    None => self.client.config().default_api_timeout,
                };
                let parts: BTreeSet<Tip> = acks.iter().map(|a| (a.topic_id, a.partition)).collect();
                self.queue_acks(acks, now + limit);
                if let Some((timeout, reply)) = wait {
                    // Everything acknowledged but unresolved so far counts.
                    let mut parts = parts;
                    parts.extend(self.acks.values().flat_map(|m| m.keys().copied()));
                    parts.extend(self.acks_in_flight.values().flatten().copied());
                    self.commits.push(WaitingCommit {
                        parts,
                        results: BTreeMap::new(),
                        deadline: now + timeout,
                        reply,
                    });
                    self.check_commits(now);
                }
            }
            Command::Subscribe(topics) => {
                self.topics = topics.iter().cloned().collect();
                self.membership.subscribe(topics);
                self.metadata_not_before = now;
                self.refresh_metadata();
            }
            Command::Close {
                acks,
                timeout,
                reply,
            } => {
                self.queue_acks(acks, now + timeout);
                if let Some(p) = self.poll.take() {
                    self.answer_poll(p, Vec::new());
                }
                // Unacknowledged buffered records are released by the
                // epoch -1 requests below.
                self.buffer.clear();
                self.closing = Some(Closing {
                    deadline: now + timeout,
                    reply: Some(reply),
                    leave_started: false,
                });
            }
        }
    }

    fn queue_acks(&mut self, acks: Vec<Ack>, retry_until: Instant) {
        for a in acks {
            let part = PartAcks {
                topic: a.topic.clone(),
                offsets: [(a.offset, a.code)].into(),
                retry_until,
            };
            self.push_acks(a.node, (a.topic_id, a.partition), part);
        }
    }

    fn push_acks(&mut self, node: i32, tip: Tip, part: PartAcks) {
        match self.acks.entry(node).or_default().entry(tip) {
            std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().merge(part),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(part);
            }
        }
    }

    /// Answers the waiting poll from the buffer (or with an error).
    fn serve_poll(&mut self, now: Instant) {
        let Some(poll) = self.poll.take() else { return };
        if let Some(e) = self.pending_error.take() {
            let _ = poll.reply.send(PollReply {
                records: Err(e),
                lock_timeout: self.lock_timeout,
            });
            return;
        }
        if let State::Fatal(code) = self.membership.state() {
            let _ = poll.reply.send(PollReply {
                records: Err(ShareError::Group { code }),
                lock_timeout: self.lock_timeout,
            });
            return;
        }
        if !self.buffer.is_empty() || now >= poll.deadline {
            let n = poll.max.min(self.buffer.len());
            let records: Vec<ShareRecord> = self.buffer.drain(..n).collect();
            self.answer_poll(poll, records);
        } else {
            self.poll = Some(poll);
        }
    }

    fn answer_poll(&mut self, poll: WaitingPoll, records: Vec<ShareRecord>) {
        let reply = PollReply {
            records: Ok(records),
            lock_timeout: self.lock_timeout,
        };
        // A cancelled poll hands its records back to the buffer for the
        // next one instead of leaving them locked until expiry.
        if let Err(PollReply {
            records: Ok(records),
            ..
        }) = poll.reply.send(reply)
        {
            for r in records.into_iter().rev() {
                self.buffer.push_front(r);
            }
        }
    }

    // ---- driving ---------------------------------------------------------

    /// Partitions to fetch, per leader, and whether some assigned partition
    /// could not be placed (unknown topic id or no leader: refresh metadata).
    fn wanted(&self) -> (BTreeMap<i32, BTreeSet<Tip>>, bool) {
        let md = self.client.metadata();
        let mut out: BTreeMap<i32, BTreeSet<Tip>> = BTreeMap::new();
        let mut missing = false;
        if self.closing.is_some() {
            return (out, false);
        }
        for (id, parts) in self.membership.assignment() {
            let topic = md.topic_names.get(id).and_then(|name| md.topics.get(name));
            for p in parts {
                match topic
                    .and_then(|t| t.partitions.get(p))
                    .and_then(|pm| pm.leader)
                {
                    Some(leader) => {
                        out.entry(leader).or_default().insert((*id, *p));
                    }
                    None => missing = true,
                }
            }
        }
        (out, missing)
    }

    fn topic_name(&self, id: &Uuid) -> Arc<str> {
        match self.client.metadata().topic_names.get(id) {
            Some(n) => Arc::from(n.as_str()),
            None => Arc::from(id.to_string().as_str()),
        }
    }

    fn drive(&mut self, now: Instant) {
        // Membership.
        if self.in_group()
            && self.poll.is_none()
            && now >= self.last_poll + self.cfg.max_poll_interval
        {
            tracing::warn!(group = %self.cfg.group_id, "max.poll.interval.ms exceeded: leaving the group until the next poll");
            self.membership.poll_timer_expired();
        }
        if let Some(req) = self.membership.next_heartbeat(now) {
            let client = self.client.clone();
            let target = Target::Coordinator {
                kind: CoordinatorKind::Group,
                key: self.cfg.group_id.clone(),
            };
            self.jobs.spawn(async move {
                Done::Heartbeat(client.send_once(target, |_| Ok(req.clone())).await)
            });
        }
        self.serve_poll(now);
        self.check_commits(now);

        // Sessions.
        let (wanted, missing) = self.wanted();
        if missing {
            self.refresh_metadata();
        }
        let want_data = self.poll.is_some() && self.buffer.is_empty();
        let nodes: BTreeSet<i32> = wanted
            .keys()
            .chain(self.sessions.keys())
            .chain(self.acks.keys())
            .copied()
            .collect();
        let md = self.client.metadata();
        // record_limit: the next broker after the last one that acquired.
        let ready = |n: &i32| {
            !wanted[n].is_empty()
                && !self.sessions.get(n).is_some_and(|s| s.in_flight)
                && self.backoff_until.get(n).is_none_or(|&b| now >= b)
        };
        let turn = wanted
            .keys()
            .filter(|n| **n > self.last_fetched && ready(n))
            .chain(wanted.keys().filter(|n| ready(n)))
            .next()
            .copied();
        for node in nodes {
            if self.backoff_until.get(&node).is_some_and(|&b| now < b) {
                continue;
            }
            let session = self.sessions.entry(node).or_default();
            if session.in_flight || session.is_closed() {
                continue;
            }
            // Acks for partitions another broker now leads: that broker
            // released the locks when it lost leadership.
            if let Some(acks) = self.acks.get_mut(&node) {
                let moved: Vec<Tip> = acks
                    .keys()
                    .filter(|(id, p)| {
                        let leader = md
                            .topic_names
                            .get(id)
                            .and_then(|n| md.topics.get(n))
                            .and_then(|t| t.partitions.get(p))
                            .and_then(|pm| pm.leader);
                        leader.is_some_and(|l| l != node)
                    })
                    .copied()
                    .collect();
                let failed: Vec<(Tip, PartAcks)> = moved
                    .into_iter()
                    .filter_map(|t| acks.remove(&t).map(|a| (t, a)))
                    .collect();
                for (tip, a) in failed {
                    self.report(
                        tip,
                        &a,
                        Some(local(
                            ErrorCode::NOT_LEADER_OR_FOLLOWER,
                            "the partition's leader changed",
                        )),
                    );
                }
            }
            let session = self.sessions.entry(node).or_default();
            let has_acks = self.acks.get(&node).is_some_and(|a| !a.is_empty());
            if !session.is_open() && has_acks {
                // No session: the broker already released those locks.
                let acks = self.acks.remove(&node).unwrap_or_default();
                for (tip, a) in &acks {
                    self.report(
                        *tip,
                        a,
                        Some(local(
                            ErrorCode::NOT_LEADER_OR_FOLLOWER,
                            "no share session with the broker",
                        )),
                    );
                }
            }
            let session = self.sessions.entry(node).or_default();
            let has_acks = self.acks.get(&node).is_some_and(|a| !a.is_empty());
            if self.closing.is_some() {
                if session.is_open() {
                    self.send_ack(node, true);
                }
                continue;
            }
            let empty = BTreeSet::new();
            let want = wanted.get(&node).unwrap_or(&empty);
            let renew = self
                .acks
                .get(&node)
                .is_some_and(|a| a.values().any(PartAcks::has_renew));
            // record_limit makes MaxRecords strict per request; like the
            // Java client, only one broker at a time acquires, in turn.
            let my_turn = match self.cfg.acquire_mode {
                AcquireMode::BatchOptimized => true,
                AcquireMode::RecordLimit => {
                    self.fetching.is_empty() && turn.is_none_or(|t| t == node)
                }
            };
            let fetch = want_data && !want.is_empty() && my_turn;
            if has_acks && (renew || !fetch) {
                self.send_ack(node, false);
            } else if fetch || session.needs_update(want) {
                self.send_fetch(node, want.clone(), fetch);
            }
        }
    }

    fn limits(&self, fetch: bool) -> FetchLimits {
        if !fetch {
            return FetchLimits::NONE;
        }
        FetchLimits {
            max_wait_ms: self.cfg.fetch_max_wait_ms(),
            min_bytes: self.cfg.fetch_min_bytes,
            max_bytes: self.cfg.fetch_max_bytes,
            max_records: self.cfg.max_records_i32(),
            acquire_mode: self.cfg.acquire_mode.code(),
        }
    }

    fn send_fetch(&mut self, node: i32, want: BTreeSet<Tip>, fetch: bool) {
        if fetch {
            self.fetching.insert(node);
            self.last_fetched = node;
        }
        let session = self.sessions.entry(node).or_default();
        let acks = if session.is_open() {
            self.acks.remove(&node).unwrap_or_default()
        } else {
            BTreeMap::new()
        };
        let plan = session.plan_fetch(&want, &acks.keys().copied().collect());
        session.in_flight = true;
        let req = share_fetch(
            &self.cfg.group_id,
            self.membership.member_id(),
            &plan,
            &acks,
            self.limits(fetch),
        );
        self.acks_in_flight
            .insert(node, acks.keys().copied().collect());
        let needs_v2 = req.share_acquire_mode != 0;
        let client = self.client.clone();
        self.jobs.spawn(async move {
            let (version, result) = send_to_broker(&client, node, req, needs_v2).await;
            Done::Fetch {
                node,
                plan,
                acks,
                version,
                result,
            }
        });
    }

    fn send_ack(&mut self, node: i32, close: bool) {
        let session = self.sessions.entry(node).or_default();
        let acks = self.acks.remove(&node).unwrap_or_default();
        let epoch = if close { CLOSE_EPOCH } else { session.epoch() };
        if close {
            // Only one close per broker, answered or not.
            session.mark_closed();
        }
        session.in_flight = true;
        let req = share_acknowledge(
            &self.cfg.group_id,
            self.membership.member_id(),
            epoch,
            &acks,
        );
        self.acks_in_flight
            .insert(node, acks.keys().copied().collect());
        let needs_v2 = req.is_renew_ack;
        let client = self.client.clone();
        self.jobs.spawn(async move {
            let (version, result) = send_to_broker(&client, node, req, needs_v2).await;
            Done::Ack {
                node,
                close,
                acks,
                version,
                result,
            }
        });
    }

    fn refresh_metadata(&mut self) {
        let now = Instant::now();
        if self.metadata_in_flight {
            return;
        }
        if now < self.metadata_not_before {
            // Asked again too soon: the timer brings the loop back for it.
            self.metadata_wanted = true;
            return;
        }
        self.metadata_wanted = false;
        self.metadata_in_flight = true;
        self.metadata_not_before = now + METADATA_MIN_INTERVAL;
        let client = self.client.clone();
        let topics: Vec<String> = self.topics.clone();
        self.jobs.spawn(async move {
            if let Err(e) = client.refresh_metadata(&topics).await {
                tracing::debug!(error = %e, "share consumer metadata refresh failed");
            }
            Done::Metadata
        });
    }

    // ---- outcomes and commits --------------------------------------------

    /// Reports one partition's ack result to the callback stream and to
    /// every commit waiting on that partition. GAP-only sets are internal.
    fn report(&mut self, tip: Tip, acks: &PartAcks, error: Option<AckError>) {
        for c in &mut self.commits {
            if c.parts.contains(&tip) {
                let slot = c.results.entry(tip).or_insert(None);
                if slot.is_none() {
                    *slot = error.clone();
                }
            }
        }
        let offsets: Vec<i64> = acks
            .offsets
            .iter()
            .filter(|(_, &t)| t != GAP)
            .map(|(&o, _)| o)
            .collect();
        if offsets.is_empty() {
            return;
        }
        if let Some(e) = &error {
            tracing::debug!(topic = %acks.topic, partition = tip.1, error = %e, "acknowledgements failed");
        }
        let _ = self.outcomes.send(AckOutcome {
            partition: TopicPartition {
                topic: acks.topic.to_string(),
                partition: tip.1,
            },
            offsets,
            error,
        });
    }

    fn check_commits(&mut self, now: Instant) {
        let pending: BTreeSet<Tip> = self
            .acks
            .values()
            .flat_map(|m| m.keys().copied())
            .chain(self.acks_in_flight.values().flatten().copied())
            .collect();
        let commits = std::mem::take(&mut self.commits);
        for c in commits {
            let done = c.parts.iter().all(|t| !pending.contains(t));
            if !done && now < c.deadline {
                self.commits.push(c);
                continue;
            }
            let mut out = CommitResult::new();
            for tip in &c.parts {
                let result = match c.results.get(tip) {
                    Some(None) => Ok(()),
                    Some(Some(e)) => Err(e.clone()),
                    None if pending.contains(tip) => {
                        Err(local(ErrorCode::REQUEST_TIMED_OUT, "commit timed out"))
                    }
                    None => Ok(()),
                };
                let name = self.topic_name(&tip.0);
                out.insert(
                    TopicPartition {
                        topic: name.to_string(),
                        partition: tip.1,
                    },
                    result,
                );
            }
            let _ = c.reply.send((out, self.lock_timeout));
        }
    }

    // ---- close -----------------------------------------------------------

    /// Advances a close; returns `true` when the task should end.
    fn finish_close(&mut self, now: Instant) -> bool {
        let Some(closing) = &mut self.closing else {
            return false;
        };
        let busy = self.sessions.values().any(|s| s.in_flight || s.is_open());
        if now >= closing.deadline {
            tracing::warn!("share consumer close timed out");
        } else if busy {
            return false;
        } else {
            if !closing.leave_started {
                closing.leave_started = true;
                self.membership.leave();
            }
            // Not in the group (never joined, or unsubscribed): nothing to
            // wait for. Leaving: the loop sends the heartbeat at once.
            if matches!(self.membership.state(), State::Leaving) {
                return false;
            }
        }
        if let Some(reply) = self.closing.as_mut().and_then(|c| c.reply.take()) {
            let _ = reply.send(());
        }
        true
    }
}

fn local(code: ErrorCode, message: &str) -> AckError {
    AckError {
        code,
        message: Some(message.to_owned()),
    }
}

/// Sends `req` once to broker `node` and returns the version it went out at
/// (-1 if none was chosen) with the answer. A request that `needs_v2` (RENEW,
/// `record_limit`) is refused before sending at a lower version: the caller
/// turns that into a typed error.
async fn send_to_broker<R: rkafka_protocol::Request + Clone>(
    client: &Client,
    node: i32,
    req: R,
    needs_v2: bool,
) -> (i16, Result<R::Response, Error>) {
    let version = AtomicI16::new(-1);
    let result = client
        .send_once(Target::Broker(node), |v| {
            version.store(v, Ordering::Relaxed);
            if needs_v2 && v < 2 {
                return Err(Error::Cancelled);
            }
            Ok(req.clone())
        })
        .await;
    (version.load(Ordering::Relaxed), result)
}
