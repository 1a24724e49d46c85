//! Transactions: the state the sender task keeps, and the handle's calls.
//!
//! The sender task owns the phase (ready, in a transaction, ending, failed)
//! and which partitions were added, because it must check both for every
//! record and batch. The handle's calls (`init_transactions`, `commit`...)
//! are sequences of coordinator round trips that need no producer state in
//! between, so the handle makes them itself and tells the task what changed
//! through [`TxnMsg`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use rkafka_client_core::broker::ConnPurpose;
use rkafka_client_core::conn::ApiVersions;
use rkafka_client_core::group_metadata::ConsumerGroupMetadata;
use rkafka_client_core::{Client, CoordinatorKind, Target};
use rkafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use rkafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, EndTxnRequest, EndTxnResponse, ProduceRequest,
    TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use rkafka_protocol::{ErrorCode, Request};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::error::ProducerError;
use crate::producer::Producer;
use crate::sender::{init_producer_id, send_capped, Msg, Sender};

/// Where a transactional producer is.
#[derive(Debug, Clone)]
enum Phase {
    Uninitialized,
    Ready,
    InTransaction,
    Ending,
    /// A record failed: only `abort_transaction` helps.
    Abortable(ProducerError),
    /// Fenced: only closing helps.
    Fatal(ProducerError),
}

/// The sender task's transaction state.
#[derive(Debug)]
pub(crate) struct TxnState {
    /// `transactional.id`.
    pub(crate) id: String,
    phase: Phase,
    /// The coordinator knows the transaction (partitions or offsets added).
    pub(crate) started: bool,
    /// Transactions v2 (KIP-890 part 2): partitions join the transaction
    /// with their first Produce (v12+), offsets go straight to the group
    /// coordinator, and every EndTxn (v5+) bumps the epoch.
    pub(crate) tv2: bool,
    /// A commit or abort waiting for the AddPartitionsToTxn in flight: the
    /// coordinator must have its answer before EndTxn.
    pending_end: Option<(bool, oneshot::Sender<Result<EndInfo, ProducerError>>)>,
    /// An abort is under way (between PrepareEnd and Ended).
    aborting: bool,
    /// Where `send` learns whether a transaction is open.
    gate: Arc<SendGate>,
    /// A batch with a sequence number failed: the broker may expect a
    /// sequence this producer has moved past, so under transactions v1 the
    /// abort bumps the epoch (InitProducerId at the current epoch aborts
    /// the transaction and restarts sequences, KIP-360), as Java's
    /// `epochBumpRequired` does. v2's EndTxn bumps the epoch anyway.
    pub(crate) sequence_gap: bool,
}

/// What ending the transaction needs to know.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EndInfo {
    /// The producer id and epoch.
    pub(crate) producer: (i64, i16),
    /// The coordinator knows the transaction, so EndTxn must be sent.
    pub(crate) started: bool,
    /// Transactions v2.
    pub(crate) tv2: bool,
    /// Transactions v1, aborting after a coordinator timeout: the
    /// coordinator already aborted with a bumped epoch, so InitProducerId
    /// with the current epoch replaces EndTxn (KIP-360/588); v2's EndTxn
    /// copes with the bump itself.
    pub(crate) bump: bool,
}

/// The producer's id, epoch and transaction protocol, for
/// `send_offsets_to_transaction`.
pub(crate) type OffsetsInfo = ((i64, i16), bool);

/// The highest Produce version a transactional producer uses: v12 and up
/// add partitions to a transaction implicitly (KIP-890 part 2), which only a
/// producer driving transactions v2 may send; v13 names topics by id only.
pub(crate) const fn produce_max_version(tv2: bool) -> i16 {
    if tv2 {
        12
    } else {
        11
    }
}

/// The highest EndTxn and TxnOffsetCommit version: v5 is transactions v2
/// (Java caps both at 4 otherwise).
const fn end_max_version(tv2: bool) -> i16 {
    if tv2 {
        5
    } else {
        4
    }
}

/// What the handle's transaction calls tell or ask the sender task.
#[derive(Debug)]
pub(crate) enum TxnMsg {
    Initialized {
        producer: (i64, i16),
        tv2: bool,
        reply: oneshot::Sender<()>,
    },
    Begin(oneshot::Sender<Result<(), ProducerError>>),
    /// The producer id for `send_offsets_to_transaction` (which starts the
    /// transaction on the coordinator).
    Info(oneshot::Sender<Result<OffsetsInfo, ProducerError>>),
    /// Commit or abort begins: the producer id and whether EndTxn is needed.
    /// An abort drops the records never sent.
    PrepareEnd {
        commit: bool,
        reply: oneshot::Sender<Result<EndInfo, ProducerError>>,
    },
    /// The transaction ended (or failed to); `producer` is the id and epoch
    /// to use from now on when they changed (EndTxn v5, or a bump), `tv2`
    /// the protocol for the next transaction.
    Ended {
        result: Result<(), ProducerError>,
        producer: Option<(i64, i16)>,
        tv2: bool,
        reply: oneshot::Sender<()>,
    },
}

impl TxnState {
    pub(crate) fn new(id: String, gate: Arc<SendGate>) -> Self {
        Self {
            gate,
            id,
            phase: Phase::Uninitialized,
            started: false,
            tv2: false,
            pending_end: None,
            aborting: false,
            sequence_gap: false,
        }
    }

    /// Whether retrying a batch is pointless: the transaction can only be
    /// aborted, and the abort marker covers whatever was written. Retrying
    /// would hold the abort up until `delivery.timeout.ms` when the batch
    /// is refused out of sequence behind a failed one.
    pub(crate) fn aborting(&self) -> bool {
        self.aborting || matches!(self.phase, Phase::Abortable(_))
    }

    /// Why a record cannot be sent now, if it cannot.
    pub(crate) fn send_error(&self) -> Option<ProducerError> {
        match &self.phase {
            Phase::InTransaction => None,
            Phase::Abortable(e) => Some(must_abort(e)),
            Phase::Fatal(e) => Some(e.clone()),
            Phase::Uninitialized => Some(not_in("call init_transactions first")),
            Phase::Ready | Phase::Ending => Some(not_in("call begin_transaction first")),
        }
    }

    /// A record of the transaction failed: it can only be aborted now.
    pub(crate) fn abortable(&mut self, err: ProducerError) {
        if matches!(self.phase, Phase::InTransaction) {
            self.set_phase(Phase::Abortable(err));
        }
    }

    /// Fenced: nothing but closing is possible.
    pub(crate) fn fatal(&mut self, err: ProducerError) {
        self.set_phase(Phase::Fatal(err));
    }
}

/// The error a send or a commit gets once the transaction can only be
/// aborted because of `cause`.
fn must_abort(cause: &ProducerError) -> ProducerError {
    match cause {
        e @ (ProducerError::TransactionTimedOut { .. }
        | ProducerError::TransactionAbortable { .. }) => e.clone(),
        e => ProducerError::TransactionAbortable {
            reason: format!("an earlier record or call failed ({e})"),
        },
    }
}

/// What `send` may know without asking the sender task: whether records
/// are refused because no transaction is open. Published by the task after
/// every transaction step, read by `send` for every record (one atomic
/// load), so a record sent before `begin_transaction` returned fails at
/// once and cannot slip into the transaction begun after it.
#[derive(Debug, Default)]
pub(crate) struct SendGate(AtomicU8);

impl SendGate {
    const OPEN: u8 = 0;
    const UNINITIALIZED: u8 = 1;
    const NOT_IN_TRANSACTION: u8 = 2;

    pub(crate) fn new(transactional: bool) -> Self {
        Self(AtomicU8::new(if transactional {
            Self::UNINITIALIZED
        } else {
            Self::OPEN
        }))
    }

    /// Why a record cannot be sent now, when the gate says so; `None` lets
    /// it through (the task still checks the transaction's state).
    pub(crate) fn refusal(&self) -> Option<ProducerError> {
        match self.0.load(Ordering::Acquire) {
            Self::UNINITIALIZED => Some(not_in("call init_transactions first")),
            Self::NOT_IN_TRANSACTION => Some(not_in("call begin_transaction first")),
            _ => None,
        }
    }

    fn publish(&self, phase: &Phase) {
        let v = match phase {
            Phase::Uninitialized => Self::UNINITIALIZED,
            Phase::Ready | Phase::Ending => Self::NOT_IN_TRANSACTION,
            // Abortable and fatal: the task fails records with the cause.
            Phase::InTransaction | Phase::Abortable(_) | Phase::Fatal(_) => Self::OPEN,
        };
        self.0.store(v, Ordering::Release);
    }
}

impl TxnState {
    /// Changes the phase and tells `send` (before any reply goes out, so a
    /// caller that saw `begin_transaction` return sees the gate open).
    fn set_phase(&mut self, phase: Phase) {
        self.gate.publish(&phase);
        self.phase = phase;
    }
}

fn not_in(what: &str) -> ProducerError {
    ProducerError::Transaction {
        reason: format!("no transaction is open: {what}"),
    }
}

impl Sender {
    pub(crate) fn on_txn(&mut self, msg: TxnMsg) {
        let Some(txn) = self.txn.as_mut() else {
            let err = || ProducerError::Config("transactional.id is not set".into());
            match msg {
                TxnMsg::Initialized { reply, .. } | TxnMsg::Ended { reply, .. } => {
                    let _ = reply.send(());
                }
                TxnMsg::Begin(r) => drop(r.send(Err(err()))),
                TxnMsg::Info(r) => drop(r.send(Err(err()))),
                TxnMsg::PrepareEnd { reply, .. } => drop(reply.send(Err(err()))),
            }
            return;
        };
        match msg {
            TxnMsg::Initialized {
                producer,
                tv2,
                reply,
            } => {
                txn.set_phase(Phase::Ready);
                txn.started = false;
                txn.tv2 = tv2;
                self.new_producer(producer);
                let _ = reply.send(());
            }
            TxnMsg::Begin(reply) => {
                let r = match &txn.phase {
                    Phase::Ready => {
                        txn.set_phase(Phase::InTransaction);
                        txn.started = false;
                        Ok(())
                    }
                    Phase::Fatal(e) => Err(e.clone()),
                    Phase::Uninitialized => Err(not_in("call init_transactions first")),
                    _ => Err(ProducerError::Transaction {
                        reason: "a transaction is already open".into(),
                    }),
                };
                let _ = reply.send(r);
            }
            TxnMsg::Info(reply) => {
                let r = match (&txn.phase, self.producer) {
                    (Phase::InTransaction, Some(p)) => {
                        txn.started = true;
                        Ok((p, txn.tv2))
                    }
                    _ => Err(txn.send_error().unwrap_or_else(|| not_in("no producer id"))),
                };
                let _ = reply.send(r);
            }
            TxnMsg::PrepareEnd { commit, reply } => {
                let r = match (&txn.phase, self.producer) {
                    (Phase::Fatal(e), _) => Err(e.clone()),
                    (Phase::Abortable(e), _) if commit => Err(must_abort(e)),
                    (Phase::InTransaction | Phase::Abortable(_), Some(_)) => Ok(()),
                    _ => Err(not_in("call begin_transaction first")),
                };
                if let Err(e) = r {
                    let _ = reply.send(Err(e));
                    return;
                }
                let bump = !txn.tv2
                    && (matches!(
                        txn.phase,
                        Phase::Abortable(ProducerError::TransactionTimedOut { .. })
                    ) || (txn.sequence_gap && !commit));
                txn.set_phase(Phase::Ending);
                txn.aborting = !commit;
                // Remembered until the answer: the phase no longer says.
                txn.pending_end = Some((bump, reply));
                if !commit {
                    self.drop_unsent();
                }
                self.finish_prepare_end();
            }
            TxnMsg::Ended {
                result,
                producer,
                tv2,
                reply,
            } => {
                txn.set_phase(match result {
                    Ok(()) => Phase::Ready,
                    Err(e @ ProducerError::Fenced { .. }) => Phase::Fatal(e),
                    Err(e) => Phase::Abortable(e),
                });
                txn.started = false;
                txn.aborting = false;
                txn.tv2 = tv2;
                for t in self.topics.values_mut() {
                    for q in &mut t.queues {
                        q.in_txn = false;
                    }
                }
                if let Some(p) = producer {
                    self.new_producer(p);
                }
                let _ = reply.send(());
            }
        }
    }

    /// Answers a pending commit or abort once no AddPartitionsToTxn is in
    /// flight (the coordinator must have added the partitions before it
    /// ends the transaction).
    fn finish_prepare_end(&mut self) {
        if self.adding {
            return;
        }
        let producer = self.producer;
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        let Some((bump, reply)) = txn.pending_end.take() else {
            return;
        };
        let r = match producer {
            Some(producer) => Ok(EndInfo {
                producer,
                started: txn.started,
                tv2: txn.tv2,
                bump,
            }),
            None => Err(not_in("no producer id")),
        };
        let _ = reply.send(r);
    }

    /// Fails the records of the transaction never sent (Java's
    /// `abortUndrainedBatches`): batches without a sequence were never
    /// drained. Sent batches (in flight or waiting to be retried) are left
    /// to finish; the abort marker covers them.
    fn drop_unsent(&mut self) {
        let mut dropped = Vec::new();
        for t in self.topics.values_mut() {
            for q in &mut t.queues {
                let mut i = 0;
                while i < q.batches.len() {
                    if q.batches[i].base_sequence.is_none() && q.batches[i].encoded.is_none() {
                        dropped.extend(q.batches.remove(i));
                    } else {
                        i += 1;
                    }
                }
            }
        }
        if !dropped.is_empty() {
            let n: usize = dropped.iter().map(|b| b.count()).sum();
            tracing::debug!(records = n, "abort: dropping records never sent");
        }
        for b in dropped {
            self.fail_batch(b, &ProducerError::TransactionAborted);
        }
    }

    /// Adopts a new producer id or epoch: sequences start over at 0.
    fn new_producer(&mut self, producer: (i64, i16)) {
        self.producer = Some(producer);
        if let Some(t) = &mut self.txn {
            t.sequence_gap = false;
        }
        for t in self.topics.values_mut() {
            for q in &mut t.queues {
                q.next_sequence = 0;
                q.acked_sequence = 0;
                q.in_txn = false;
                q.recovering = false;
            }
        }
    }

    pub(crate) fn on_partitions_added(
        &mut self,
        result: Result<Vec<(String, i32, ErrorCode)>, rkafka_client_core::Error>,
    ) {
        self.adding = false;
        let retry_at = Instant::now()
            + self
                .cfg
                .retry_backoff
                .min(std::time::Duration::from_millis(20))
                .max(std::time::Duration::from_millis(5));
        let mut failed = Vec::new();
        match result {
            Ok(list) => {
                for (t, p, code) in list {
                    let Some(q) = self
                        .topics
                        .get_mut(t.as_str())
                        .and_then(|ts| ts.queues.get_mut(usize::try_from(p).ok()?))
                    else {
                        continue;
                    };
                    q.adding = false;
                    match code {
                        ErrorCode::NONE => {
                            q.in_txn = true;
                            if let Some(txn) = &mut self.txn {
                                txn.started = true;
                            }
                        }
                        c if c.is_retriable() || c == ErrorCode(51) => {
                            self.add_retry_at = Some(retry_at);
                        }
                        c => {
                            let err = match coordinator_error("AddPartitionsToTxn", c) {
                                e @ (ProducerError::Fenced { .. }
                                | ProducerError::TransactionAbortable { .. }) => e,
                                _ => ProducerError::Kafka {
                                    topic: t.clone(),
                                    partition: p,
                                    code: c,
                                    message: None,
                                },
                            };
                            failed.extend(q.batches.drain(..).map(|b| (b, err.clone())));
                        }
                    }
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "AddPartitionsToTxn failed; retrying");
                self.add_retry_at = Some(retry_at);
            }
        }
        // Partitions still marked as being added were left out of the answer.
        for t in self.topics.values_mut() {
            for q in &mut t.queues {
                q.adding = false;
            }
        }
        for (b, err) in failed {
            if let Some(txn) = &mut self.txn {
                match &err {
                    ProducerError::Fenced { .. } => txn.fatal(err.clone()),
                    _ => txn.abortable(err.clone()),
                }
            }
            self.fail_batch(b, &err);
        }
        self.finish_prepare_end();
    }
}

impl Producer {
    /// Registers `transactional.id` with its coordinator, fencing any
    /// earlier producer with the same id and completing or aborting its
    /// open transaction (Java's `initTransactions`). Call once, first.
    ///
    /// Transactions v2 (KIP-890 part 2) are used when the cluster has
    /// finalized `transaction.version` 2 or higher and the brokers serve
    /// Produce v12, EndTxn v5 and TxnOffsetCommit v5; v1 otherwise. The
    /// choice is made again after every transaction, as Java does.
    ///
    /// # Errors
    /// [`ProducerError::Config`] without `transactional.id`;
    /// [`ProducerError::Fenced`] when a newer producer took over; request errors.
    ///
    /// # Cancel safety
    /// Not cancel safe: a cancelled call may leave the producer uninitialized.
    pub async fn init_transactions(&self) -> Result<(), ProducerError> {
        let id = self.txn_id()?;
        let timeout = millis(self.config().transaction_timeout);
        let producer = init_producer_id(self.client(), Some(&id), timeout, None).await?;
        let tv2 = transactions_v2(self.client(), &id).await.unwrap_or(false);
        tracing::debug!(
            producer_id = producer.0,
            epoch = producer.1,
            tv2,
            "transactions initialized"
        );
        let (reply, rx) = oneshot::channel();
        self.command(Msg::Txn(TxnMsg::Initialized {
            producer,
            tv2,
            reply,
        }))?;
        rx.await.map_err(|_| ProducerError::Closed)
    }

    /// Opens a transaction: records sent from now on are committed or
    /// aborted together.
    ///
    /// # Errors
    /// [`ProducerError::Transaction`] when one is open already or
    /// `init_transactions` was not called; [`ProducerError::Fenced`] after
    /// fencing.
    pub async fn begin_transaction(&self) -> Result<(), ProducerError> {
        let (reply, rx) = oneshot::channel();
        self.command(Msg::Txn(TxnMsg::Begin(reply)))?;
        rx.await.map_err(|_| ProducerError::Closed)?
    }

    /// Commits consumed `offsets` (topic, partition → next offset to read)
    /// for `group` as part of the open transaction (KIP-447: the group
    /// metadata lets the coordinator fence a zombie consumer). With
    /// transactions v1 the group is first added to the transaction
    /// (AddOffsetsToTxn); with v2 the group coordinator is asked directly
    /// (TxnOffsetCommit v5), as Java does.
    ///
    /// # Errors
    /// [`ProducerError::Transaction`] outside a transaction;
    /// [`ProducerError::TransactionAbortable`] when the transaction must be
    /// aborted; the coordinator's errors as [`ProducerError::Fenced`] or
    /// [`ProducerError::Transaction`].
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: &BTreeMap<(String, i32), i64>,
        group: &ConsumerGroupMetadata,
    ) -> Result<(), ProducerError> {
        let id = self.txn_id()?;
        let (reply, rx) = oneshot::channel();
        self.command(Msg::Txn(TxnMsg::Info(reply)))?;
        let ((pid, epoch), tv2) = rx.await.map_err(|_| ProducerError::Closed)??;
        if !tv2 {
            let txn_target = Target::Coordinator {
                kind: CoordinatorKind::Transaction,
                key: id.clone(),
            };
            let req = AddOffsetsToTxnRequest::default()
                .with_transactional_id(id.clone())
                .with_producer_id(pid)
                .with_producer_epoch(epoch)
                .with_group_id(group.group_id.clone());
            let resp = self
                .client()
                .send_checked(txn_target, req, |r: &AddOffsetsToTxnResponse| {
                    ErrorCode(r.error_code)
                })
                .await?;
            check("AddOffsetsToTxn", ErrorCode(resp.error_code))?;
        }
        let mut topics: Vec<TxnOffsetCommitRequestTopic> = Vec::new();
        for ((t, p), offset) in offsets {
            let part = TxnOffsetCommitRequestPartition::default()
                .with_partition_index(*p)
                .with_committed_offset(*offset)
                .with_committed_leader_epoch(-1);
            match topics.iter_mut().find(|x| &x.name == t) {
                Some(x) => x.partitions.push(part),
                None => topics.push(
                    TxnOffsetCommitRequestTopic::default()
                        .with_name(t.clone())
                        .with_partitions(vec![part]),
                ),
            }
        }
        let req = TxnOffsetCommitRequest::default()
            .with_transactional_id(id)
            .with_group_id(group.group_id.clone())
            .with_producer_id(pid)
            .with_producer_epoch(epoch)
            .with_generation_id(group.generation_id)
            .with_member_id(group.member_id.clone())
            .with_group_instance_id(group.group_instance_id.clone())
            .with_topics(topics);
        let first_error = |r: &TxnOffsetCommitResponse| {
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter())
                .map(|p| ErrorCode(p.error_code))
                .find(|c| *c != ErrorCode::NONE)
                .unwrap_or(ErrorCode::NONE)
        };
        let resp = send_capped(
            self.client(),
            CoordinatorKind::Group,
            &group.group_id,
            req,
            end_max_version(tv2),
            first_error,
        )
        .await?;
        check("TxnOffsetCommit", first_error(&resp))
    }

    /// Sends every record of the transaction, then commits it.
    ///
    /// # Errors
    /// [`ProducerError::TransactionTimedOut`] or
    /// [`ProducerError::TransactionAbortable`] when it can only be aborted;
    /// [`ProducerError::Transaction`] when none is open;
    /// [`ProducerError::Fenced`]; request errors.
    pub async fn commit_transaction(&self) -> Result<(), ProducerError> {
        self.end_transaction(true).await
    }

    /// Aborts the open transaction: its records are never read by
    /// `read_committed` consumers. Records still buffered (never sent) are
    /// dropped, their deliveries failing with
    /// [`ProducerError::TransactionAborted`], as Java's
    /// `abortUndrainedBatches` does; records already sent are awaited, and
    /// the abort marker covers them.
    ///
    /// After [`ProducerError::TransactionTimedOut`], this also moves the
    /// producer to the epoch the coordinator bumped (KIP-588), so the next
    /// transaction can start.
    ///
    /// # Errors
    /// [`ProducerError::Fenced`]; request errors.
    pub async fn abort_transaction(&self) -> Result<(), ProducerError> {
        self.end_transaction(false).await
    }

    async fn end_transaction(&self, commit: bool) -> Result<(), ProducerError> {
        let id = self.txn_id()?;
        if commit {
            self.flush().await?;
        } else {
            // Records still in the handle's open batches were never sent
            // either: they go the way of the task's unsent batches.
            self.drop_buffered(&ProducerError::TransactionAborted);
        }
        let (reply, rx) = oneshot::channel();
        self.command(Msg::Txn(TxnMsg::PrepareEnd { commit, reply }))?;
        let info = rx.await.map_err(|_| ProducerError::Closed)??;
        if !commit {
            // The records never sent are gone; wait for those in flight.
            self.flush().await?;
        }
        let (pid, epoch) = info.producer;
        let mut producer = None;
        let mut result = Ok(());
        let timeout = millis(self.config().transaction_timeout);
        if info.bump {
            // Transactions v1 after a coordinator timeout: the coordinator
            // aborted with a bumped epoch, so EndTxn at ours would be
            // fenced. InitProducerId with our id and epoch aborts whatever
            // is left and hands over the bumped epoch (KIP-360/588); it
            // fails as fenced when a newer producer took over instead.
            match init_producer_id(self.client(), Some(&id), timeout, Some((pid, epoch))).await {
                Ok(p) => producer = Some(p),
                Err(e) => result = Err(e),
            }
        } else if info.started {
            let req = EndTxnRequest::default()
                .with_transactional_id(id.clone())
                .with_producer_id(pid)
                .with_producer_epoch(epoch)
                .with_committed(commit);
            result = match send_capped(
                self.client(),
                CoordinatorKind::Transaction,
                &id,
                req,
                end_max_version(info.tv2),
                |r: &EndTxnResponse| ErrorCode(r.error_code),
            )
            .await
            {
                Ok(r) => {
                    // EndTxn v5 (transactions v2) bumps the epoch of every
                    // transaction it ends and says which id and epoch to
                    // use next: a new id once the epoch is exhausted.
                    if r.error_code == 0 && r.producer_id >= 0 && r.producer_epoch >= 0 {
                        producer = Some((r.producer_id, r.producer_epoch));
                    }
                    check("EndTxn", ErrorCode(r.error_code))
                }
                Err(e) => Err(e.into()),
            };
        }
        // Which protocol the next transaction uses; moving up to v2 needs
        // an epoch bump first, as in Java (partitions added under v1 must
        // not count as part of a v2 transaction). A failed look-up keeps
        // the current one.
        let tv2 = match result {
            Ok(()) => transactions_v2(self.client(), &id)
                .await
                .unwrap_or(info.tv2),
            Err(_) => info.tv2,
        };
        if result.is_ok() && tv2 && !info.tv2 && producer.is_none() {
            match init_producer_id(self.client(), Some(&id), timeout, Some((pid, epoch))).await {
                Ok(p) => producer = Some(p),
                Err(e) => result = Err(e),
            }
        }
        let (reply, rx) = oneshot::channel();
        self.command(Msg::Txn(TxnMsg::Ended {
            result: result.clone(),
            producer,
            tv2,
            reply,
        }))?;
        let _ = rx.await;
        result
    }

    fn txn_id(&self) -> Result<String, ProducerError> {
        self.config()
            .transactional_id
            .clone()
            .ok_or_else(|| ProducerError::Config("transactional.id is not set".into()))
    }
}

/// Whether transactions v2 can be used: the cluster finalized
/// `transaction.version` ≥ 2 (the newest finalized features any broker
/// announced, as Java's `ApiVersions` keeps them) and the transaction
/// coordinator serves Produce v12+, EndTxn v5+ and TxnOffsetCommit v5+.
/// `Err` when the coordinator could not be asked.
async fn transactions_v2(
    client: &Client,
    transactional_id: &str,
) -> Result<bool, rkafka_client_core::Error> {
    if client
        .finalized_feature("transaction.version")
        .is_none_or(|v| v < 2)
    {
        return Ok(false);
    }
    let versions = coordinator_versions(client, transactional_id).await?;
    Ok(supports_v2(&versions))
}

/// Whether a broker's version table has what transactions v2 needs.
fn supports_v2(versions: &ApiVersions) -> bool {
    [
        (ProduceRequest::API_KEY as i16, 12),
        (EndTxnRequest::API_KEY as i16, 5),
        (TxnOffsetCommitRequest::API_KEY as i16, 5),
    ]
    .into_iter()
    .all(|(key, min)| versions.broker_range(key).is_some_and(|r| r.max >= min))
}

async fn coordinator_versions(
    client: &Client,
    transactional_id: &str,
) -> Result<ApiVersions, rkafka_client_core::Error> {
    let deadline = Instant::now() + client.config().default_api_timeout;
    let node = client
        .coordinator(CoordinatorKind::Transaction, transactional_id)
        .await?;
    let broker = client
        .broker_for(&Target::Broker(node), ConnPurpose::Admin, deadline)
        .await?;
    Ok(broker.connection().await?.api_versions().clone())
}

fn check(what: &str, code: ErrorCode) -> Result<(), ProducerError> {
    match code {
        ErrorCode::NONE => Ok(()),
        code => Err(coordinator_error(what, code)),
    }
}

/// The typed error for a transaction or group coordinator's answer `code`
/// to `what` (InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
/// TxnOffsetCommit, EndTxn), as Java's `TransactionManager` sorts them:
/// fencing is fatal (a coordinator's INVALID_PRODUCER_EPOCH counts as
/// fencing: only Produce answers may mean a timeout), TRANSACTION_ABORTABLE
/// asks for an abort, anything else fails the call.
pub(crate) fn coordinator_error(what: &str, code: ErrorCode) -> ProducerError {
    match code {
        ErrorCode::PRODUCER_FENCED | ErrorCode::INVALID_PRODUCER_EPOCH => ProducerError::Fenced {
            what: format!("{what} answered {code:?}"),
        },
        ErrorCode::TRANSACTION_ABORTABLE => ProducerError::TransactionAbortable {
            reason: format!("{what} answered {code:?}"),
        },
        code => ProducerError::Transaction {
            reason: format!("{what} failed: {code:?}"),
        },
    }
}

fn millis(d: std::time::Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_send_gate_refuses_only_outside_a_transaction() {
        let gate = Arc::new(SendGate::new(true));
        let mut st = TxnState::new("t".into(), gate.clone());
        assert!(gate.refusal().is_some(), "before init_transactions");
        st.set_phase(Phase::Ready);
        assert!(matches!(
            gate.refusal(),
            Some(ProducerError::Transaction { .. })
        ));
        st.set_phase(Phase::InTransaction);
        assert!(gate.refusal().is_none());
        // Abortable and fatal: the task fails records with the cause.
        st.abortable(ProducerError::TransactionAborted);
        assert!(gate.refusal().is_none());
        st.set_phase(Phase::Ending);
        assert!(gate.refusal().is_some());
        assert!(SendGate::new(false).refusal().is_none());
    }

    #[test]
    fn coordinator_errors_tell_fencing_from_abortable() {
        for code in [
            ErrorCode::PRODUCER_FENCED,
            ErrorCode::INVALID_PRODUCER_EPOCH,
        ] {
            assert!(matches!(
                coordinator_error("EndTxn", code),
                ProducerError::Fenced { .. }
            ));
        }
        assert!(matches!(
            coordinator_error("AddPartitionsToTxn", ErrorCode::TRANSACTION_ABORTABLE),
            ProducerError::TransactionAbortable { .. }
        ));
        assert!(matches!(
            coordinator_error("EndTxn", ErrorCode::INVALID_TXN_STATE),
            ProducerError::Transaction { .. }
        ));
        assert!(check("EndTxn", ErrorCode::NONE).is_ok());
    }

    #[test]
    fn a_timed_out_transaction_stays_a_timeout_until_aborted() {
        let timeout = ProducerError::TransactionTimedOut {
            what: "Produce to t-0 answered INVALID_PRODUCER_EPOCH".into(),
        };
        assert!(matches!(
            must_abort(&timeout),
            ProducerError::TransactionTimedOut { .. }
        ));
        let failed = ProducerError::DeliveryTimeout {
            after: std::time::Duration::from_secs(1),
        };
        assert!(matches!(
            must_abort(&failed),
            ProducerError::TransactionAbortable { .. }
        ));
        // The state machine: sends and commits get the cause, abort is allowed.
        let mut st = TxnState::new("t".into(), Arc::new(SendGate::new(true)));
        st.set_phase(Phase::InTransaction);
        st.abortable(timeout);
        assert!(matches!(
            st.send_error(),
            Some(ProducerError::TransactionTimedOut { .. })
        ));
        st.fatal(ProducerError::Fenced { what: "x".into() });
        assert!(matches!(
            st.send_error(),
            Some(ProducerError::Fenced { .. })
        ));
    }

    #[test]
    fn v2_needs_the_v2_versions() {
        let v2 = ApiVersions::from_ranges([(0, 3, 13), (26, 0, 5), (28, 0, 5)]);
        assert!(supports_v2(&v2));
        let old_end = ApiVersions::from_ranges([(0, 3, 13), (26, 0, 4), (28, 0, 5)]);
        assert!(!supports_v2(&old_end));
        let old_produce = ApiVersions::from_ranges([(0, 3, 11), (26, 0, 5), (28, 0, 5)]);
        assert!(!supports_v2(&old_produce));
        assert_eq!(produce_max_version(false), 11);
        assert_eq!(produce_max_version(true), 12);
        assert_eq!((end_max_version(false), end_max_version(true)), (4, 5));
    }
}
