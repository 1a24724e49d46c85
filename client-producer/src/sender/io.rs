//! The requests the sender task issues, as futures it polls itself.
//!
//! Each returns what the task needs to update its state; none touches that
//! state, so they can be polled concurrently without sharing anything.

use rkafka_client_core::broker::ConnPurpose;
use rkafka_client_core::client::purpose_for;
use rkafka_client_core::retry::{classify_code, classify_error, RetryAction, RetryBackoff};
use rkafka_client_core::{Client, CoordinatorKind, Error, Target};
use rkafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use rkafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, InitProducerIdRequest,
    InitProducerIdResponse, ProduceRequest, ProduceResponse,
};
use rkafka_protocol::{ErrorCode, Request};
use tokio::time::Instant;

use crate::error::ProducerError;

/// Sends one Produce request to broker `broker`, at `max_version` at most
/// (see [`crate::txn::produce_max_version`]). `Ok(None)` for `acks=0`,
/// which the broker does not answer.
pub(crate) async fn produce(
    client: Client,
    broker: i32,
    req: ProduceRequest,
    max_version: i16,
    deadline: Instant,
) -> Result<Option<ProduceResponse>, Error> {
    let b = client
        .broker_for(&Target::Broker(broker), ConnPurpose::Produce, deadline)
        .await?;
    let conn = b.connection().await?;
    let version = conn.version_for::<ProduceRequest>()?.min(max_version);
    if req.acks != 0 {
        return conn.send_version(req, version).await.map(Some);
    }
    // acks=0: no response frame comes back.
    conn.send_unanswered(&req, version).await?;
    Ok(None)
}

/// Gets a producer id and epoch (InitProducerId). With `current` set, asks
/// to bump that producer's epoch (KIP-360) instead of a fresh id.
pub(crate) async fn init_producer_id(
    client: &Client,
    transactional_id: Option<&str>,
    transaction_timeout_ms: i32,
    current: Option<(i64, i16)>,
) -> Result<(i64, i16), ProducerError> {
    let target = match transactional_id {
        Some(id) => Target::Coordinator {
            kind: CoordinatorKind::Transaction,
            key: id.to_owned(),
        },
        None => Target::Any,
    };
    let (pid, epoch) = current.unwrap_or((-1, -1));
    let req = InitProducerIdRequest::default()
        .with_transactional_id(transactional_id.map(str::to_owned))
        .with_transaction_timeout_ms(transaction_timeout_ms)
        .with_producer_id(pid)
        .with_producer_epoch(epoch);
    let resp: InitProducerIdResponse = client
        .send_checked(target, req, |r: &InitProducerIdResponse| {
            ErrorCode(r.error_code)
        })
        .await?;
    match ErrorCode(resp.error_code) {
        ErrorCode::NONE => Ok((resp.producer_id, resp.producer_epoch)),
        code => Err(crate::txn::coordinator_error("InitProducerId", code)),
    }
}

/// Adds partitions to the ongoing transaction; returns each partition's
/// error code.
pub(crate) async fn add_partitions(
    client: Client,
    transactional_id: String,
    producer: (i64, i16),
    partitions: Vec<(String, i32)>,
) -> Result<Vec<(String, i32, ErrorCode)>, Error> {
    let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
    for (t, p) in &partitions {
        match topics.iter_mut().find(|x| &x.name == t) {
            Some(x) => x.partitions.push(*p),
            None => topics.push(
                AddPartitionsToTxnTopic::default()
                    .with_name(t.clone())
                    .with_partitions(vec![*p]),
            ),
        }
    }
    let req = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(transactional_id.clone())
        .with_v3_and_below_producer_id(producer.0)
        .with_v3_and_below_producer_epoch(producer.1)
        .with_v3_and_below_topics(topics);
    let resp = send_capped(
        &client,
        CoordinatorKind::Transaction,
        &transactional_id,
        req,
        3,
        first_error,
    )
    .await?;
    let mut out = Vec::new();
    let results = resp.results_by_topic_v3_and_below.iter().chain(
        resp.results_by_transaction
            .iter()
            .flat_map(|t| t.topic_results.iter()),
    );
    for t in results {
        for p in &t.results_by_partition {
            out.push((
                t.name.clone(),
                p.partition_index,
                ErrorCode(p.partition_error_code),
            ));
        }
    }
    if out.is_empty() && resp.error_code != 0 {
        out = partitions
            .into_iter()
            .map(|(t, p)| (t, p, ErrorCode(resp.error_code)))
            .collect();
    }
    Ok(out)
}

/// Sends `req` to the `kind` coordinator of `key` at version `max_version`
/// at most, with the routing and retry rules of `Client::send_built` (which
/// always takes the highest common version, hence this loop). Used for
/// AddPartitionsToTxn (v4+ is the brokers' batched form, KIP-890, which
/// clients must not send: Tansu drops the connection) and for EndTxn and
/// TxnOffsetCommit (v5 is transactions v2 only).
pub(crate) async fn send_capped<R: Request + Clone>(
    client: &Client,
    kind: CoordinatorKind,
    key: &str,
    req: R,
    max_version: i16,
    check: impl Fn(&R::Response) -> ErrorCode,
) -> Result<R::Response, Error> {
    let cfg = client.config();
    let deadline = Instant::now() + cfg.default_api_timeout;
    let mut backoff = RetryBackoff::new(cfg.retry_backoff, cfg.retry_backoff_max, deadline);
    loop {
        let attempt = async {
            let id = client.coordinator(kind, key).await?;
            let broker = client
                .broker_for(&Target::Broker(id), purpose_for(R::API_KEY), deadline)
                .await?;
            let conn = broker.connection().await?;
            let version = conn.version_for::<R>()?.min(max_version);
            conn.send_version(req.clone(), version).await
        };
        let outcome = tokio::time::timeout_at(deadline, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(Error::Timeout {
                    what: R::API_KEY.name().into(),
                    after: cfg.default_api_timeout,
                })
            });
        let action = match &outcome {
            Ok(resp) => classify_code(check(resp)),
            Err(e) => classify_error(e),
        };
        if !action.is_retry() {
            return outcome;
        }
        if matches!(
            action,
            RetryAction::RediscoverCoordinator | RetryAction::RetryElsewhere
        ) {
            client.forget_coordinator(kind, key);
        }
        if !backoff.wait().await {
            return outcome;
        }
    }
}

fn first_error(r: &AddPartitionsToTxnResponse) -> ErrorCode {
    if r.error_code != 0 {
        return ErrorCode(r.error_code);
    }
    r.results_by_topic_v3_and_below
        .iter()
        .chain(
            r.results_by_transaction
                .iter()
                .flat_map(|t| t.topic_results.iter()),
        )
        .flat_map(|t| t.results_by_partition.iter())
        .map(|p| ErrorCode(p.partition_error_code))
        .find(|c| *c != ErrorCode::NONE)
        .unwrap_or(ErrorCode::NONE)
}
