//! Sending any request to a [`Target`], with routing and retries.
//!
//! One loop serves every API: resolve the target against the current view
//! (refreshing metadata or looking up the coordinator when the cache cannot
//! answer), send on the connection for the request's purpose, classify the
//! outcome with [`crate::retry`], act on it (refresh, rediscover, go
//! elsewhere), back off, and try again until the deadline.

use rkafka_protocol::{ApiKey, ErrorCode, Request};
use tokio::time::{timeout, Instant};

use super::Client;
use crate::broker::{Broker, ConnPurpose};
use crate::error::Error;
use crate::metadata::task::is_live;
use crate::retry::{classify_code, classify_error, RetryAction, RetryBackoff};
use crate::route::{resolve_least_loaded, CoordinatorKind, RouteMiss, Target};

/// The connection purpose a request travels on, by API: long-polling
/// fetches and produce batches get their own connections so they never
/// delay group heartbeats or metadata.
pub fn purpose_for(api: ApiKey) -> ConnPurpose {
    match api {
        ApiKey::Produce => ConnPurpose::Produce,
        ApiKey::Fetch | ApiKey::ShareFetch | ApiKey::ShareAcknowledge => ConnPurpose::Fetch,
        ApiKey::JoinGroup
        | ApiKey::SyncGroup
        | ApiKey::Heartbeat
        | ApiKey::LeaveGroup
        | ApiKey::OffsetCommit
        | ApiKey::OffsetFetch
        | ApiKey::ConsumerGroupHeartbeat
        | ApiKey::ShareGroupHeartbeat
        | ApiKey::StreamsGroupHeartbeat => ConnPurpose::Group,
        _ => ConnPurpose::Admin,
    }
}

/// A response check that finds nothing to retry.
pub fn no_check<T>(_: &T) -> ErrorCode {
    ErrorCode::NONE
}

impl Client {
    /// Sends `req` to `target`, retrying routing and connection failures
    /// until `default.api.timeout.ms`. Error codes inside the response are
    /// returned to the caller as they are (see [`Self::send_checked`]).
    ///
    /// A request whose connection broke after it was written is sent again:
    /// for Produce without idempotence that may duplicate records.
    ///
    /// # Cancel safety
    /// Cancel safe: an attempt in flight is abandoned (its response, if any,
    /// is read and discarded by the connection).
    pub async fn send<R: Request>(&self, target: Target, req: R) -> Result<R::Response, Error> {
        self.send_built(target, |_| Ok(req.clone()), no_check).await
    }

    /// As [`Self::send`], and also retries when `check` finds a retriable
    /// error code in the response (`ErrorCode::NONE` when there is none):
    /// refreshing metadata for leadership errors, rediscovering the
    /// coordinator for coordinator errors. When the deadline passes with a
    /// response in hand, that response is returned.
    ///
    /// # Cancel safety
    /// As [`Self::send`].
    pub async fn send_checked<R: Request>(
        &self,
        target: Target,
        req: R,
        check: impl Fn(&R::Response) -> ErrorCode,
    ) -> Result<R::Response, Error> {
        self.send_built(target, |_| Ok(req.clone()), check).await
    }

    /// The general form: `build` makes the request for the version
    /// negotiated with the chosen broker (fields differ between versions),
    /// `check` picks the error code that decides about retrying.
    ///
    /// # Cancel safety
    /// As [`Self::send`].
    pub async fn send_built<R: Request>(
        &self,
        target: Target,
        build: impl Fn(i16) -> Result<R, Error>,
        check: impl Fn(&R::Response) -> ErrorCode,
    ) -> Result<R::Response, Error> {
        let cfg = &self.inner.cfg;
        let deadline = Instant::now() + cfg.default_api_timeout;
        let mut backoff = RetryBackoff::new(cfg.retry_backoff, cfg.retry_backoff_max, deadline);
        let purpose = purpose_for(R::API_KEY);
        loop {
            let attempt = self.attempt(&target, purpose, deadline, &build);
            let result = match timeout(backoff.remaining(), attempt).await {
                Ok(r) => r,
                Err(_) => Err(Error::Timeout {
                    what: format!("{} to {target}", R::API_KEY.name()),
                    after: cfg.default_api_timeout,
                }),
            };
            let (action, outcome) = match result {
                Ok(resp) => {
                    let code = check(&resp);
                    (classify_code(code), Ok(resp))
                }
                Err(e) => (classify_error(&e), Err(e)),
            };
            if !action.is_retry() {
                return outcome;
            }
            tracing::debug!(api = R::API_KEY.name(), %target, ?action, "retrying");
            // A refresh against a struggling cluster must not outlive the
            // caller's deadline either.
            let _ = timeout(backoff.remaining(), self.act_on(&target, action)).await;
            if !backoff.wait().await {
                return outcome;
            }
        }
    }

    /// Sends once, without retrying: for callers that retry per item
    /// themselves (the admin calls that fan out to partition leaders).
    /// Routing may still refresh metadata or look up a coordinator once.
    ///
    /// # Cancel safety
    /// As [`Self::send`].
    pub async fn send_once<R: Request>(
        &self,
        target: Target,
        build: impl Fn(i16) -> Result<R, Error>,
    ) -> Result<R::Response, Error> {
        let limit = self.inner.cfg.default_api_timeout;
        let attempt = self.attempt(
            &target,
            purpose_for(R::API_KEY),
            Instant::now() + limit,
            &build,
        );
        timeout(limit, attempt).await.unwrap_or_else(|_| {
            Err(Error::Timeout {
                what: format!("{} to {target}", R::API_KEY.name()),
                after: limit,
            })
        })
    }

    async fn attempt<R: Request>(
        &self,
        target: &Target,
        purpose: ConnPurpose,
        deadline: Instant,
        build: &impl Fn(i16) -> Result<R, Error>,
    ) -> Result<R::Response, Error> {
        let broker = self.broker_for(target, purpose, deadline).await?;
        let conn = broker.connection().await?;
        let version = conn.version_for::<R>()?;
        conn.send_version(build(version)?, version).await
    }

    /// Does what a retry action asks before the next attempt.
    async fn act_on(&self, target: &Target, action: RetryAction) {
        let topics = match target {
            Target::Leader { topic, .. } => vec![topic.clone()],
            _ => Vec::new(),
        };
        match action {
            RetryAction::RefreshMetadata => {
                let _ = self.refresh_metadata(&topics).await;
            }
            RetryAction::RediscoverCoordinator => self.forget_target(target),
            RetryAction::RetryElsewhere => match target {
                Target::Coordinator { .. } => self.forget_target(target),
                // The broker may be gone for good; metadata names its
                // successor (or drops it).
                // With every known broker unreachable this refresh is what
                // rebootstraps.
                Target::Leader { .. } | Target::Controller | Target::Broker(_) | Target::Any => {
                    let _ = self.refresh_metadata(&topics).await;
                }
            },
            RetryAction::Rebootstrap => {
                let _ = self.rebootstrap().await;
            }
            RetryAction::Retry | RetryAction::Done | RetryAction::Fail => {}
        }
    }

    /// The connection handle `target` resolves to now, refreshing metadata
    /// or looking up the coordinator once if the cache cannot answer.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn broker_for(
        &self,
        target: &Target,
        purpose: ConnPurpose,
        deadline: Instant,
    ) -> Result<Broker, Error> {
        let no_route = |reason: String| Error::NoRoute {
            target: target.to_string(),
            reason,
        };
        let mut refreshed = false;
        loop {
            let view = self.view();
            let load = |id| {
                let conns = view.connections.get(&id)?;
                is_live(conns).then(|| conns.get(purpose).in_flight().unwrap_or(0))
            };
            let miss = match resolve_least_loaded(target, &view.metadata, &view.coordinators, load)
            {
                Ok(id) => match view.connections.get(&id) {
                    Some(c) => return Ok(c.get(purpose).clone()),
                    None => RouteMiss::Metadata(format!("no connection for broker {id}")),
                },
                Err(m) => m,
            };
            if Instant::now() >= deadline {
                return Err(no_route("deadline passed".into()));
            }
            match miss {
                RouteMiss::Coordinator => {
                    let Target::Coordinator { kind, key } = target else {
                        unreachable!("only coordinator targets miss the coordinator cache")
                    };
                    self.coordinator(*kind, key).await?;
                }
                RouteMiss::Metadata(reason) if refreshed => {
                    // Say why the topic cannot be routed when the cluster
                    // told us (e.g. TOPIC_AUTHORIZATION_FAILED).
                    if let Target::Leader { topic, .. } = target {
                        if let Some(&code) = view.metadata.topic_errors.get(topic) {
                            return Err(Error::Kafka {
                                what: format!("Metadata for topic {topic}"),
                                code,
                                message: None,
                            });
                        }
                    }
                    return Err(no_route(reason));
                }
                RouteMiss::Metadata(_) => {
                    let topics = match target {
                        Target::Leader { topic, .. } => vec![topic.clone()],
                        _ => Vec::new(),
                    };
                    self.refresh_metadata(&topics).await?;
                    refreshed = true;
                }
            }
        }
    }

    /// Sends `req` to any broker. See [`Self::send`].
    ///
    /// # Cancel safety
    /// As [`Self::send`].
    pub async fn send_to_any<R: Request>(&self, req: R) -> Result<R::Response, Error> {
        self.send(Target::Any, req).await
    }

    /// Sends `req` to broker `id`. See [`Self::send`].
    ///
    /// # Cancel safety
    /// As [`Self::send`].
    pub async fn send_to_broker<R: Request>(&self, id: i32, req: R) -> Result<R::Response, Error> {
        self.send(Target::Broker(id), req).await
    }

    /// Sends `req` to the leader of `topic`/`partition`. See [`Self::send`].
    ///
    /// # Cancel safety
    /// As [`Self::send`].
    pub async fn send_to_leader<R: Request>(
        &self,
        topic: &str,
        partition: i32,
        req: R,
    ) -> Result<R::Response, Error> {
        self.send(Target::leader(topic, partition), req).await
    }

    /// Sends `req` to the `kind` coordinator for `key`. See [`Self::send`].
    ///
    /// # Cancel safety
    /// As [`Self::send`].
    pub async fn send_to_coordinator<R: Request>(
        &self,
        kind: CoordinatorKind,
        key: &str,
        req: R,
    ) -> Result<R::Response, Error> {
        self.send(
            Target::Coordinator {
                kind,
                key: key.to_owned(),
            },
            req,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_keep_long_polls_apart() {
        assert_eq!(purpose_for(ApiKey::Fetch), ConnPurpose::Fetch);
        assert_eq!(purpose_for(ApiKey::Produce), ConnPurpose::Produce);
        assert_eq!(purpose_for(ApiKey::Heartbeat), ConnPurpose::Group);
        assert_eq!(purpose_for(ApiKey::Metadata), ConnPurpose::Admin);
        assert_eq!(purpose_for(ApiKey::FindCoordinator), ConnPurpose::Admin);
    }
}
