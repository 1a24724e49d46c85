//! Retry classification, in one place.
//!
//! Every layer that retries (the client's send loop, the admin calls) asks
//! [`classify_code`] or [`classify_error`] what to do next, so the special
//! cases live here once: stale leadership refreshes metadata, a moved
//! coordinator is rediscovered, a dead connection is retried elsewhere, and
//! the remaining retriable codes (per [`ErrorCode::is_retriable`]) are simply
//! retried after a backoff. Everything else is final.
//!
//! The retries themselves are bounded by a deadline (`default.api.timeout.ms`)
//! and spaced by [`RetryBackoff`].

use std::time::Duration;

use rkafka_protocol::ErrorCode;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::error::Error;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAction {
    /// Not an error: the attempt succeeded.
    Done,
    /// Our view of partition leadership (or of the controller) is stale:
    /// refresh metadata, then retry at the new leader.
    RefreshMetadata,
    /// The coordinator moved or is not up yet: look it up again, then retry.
    RediscoverCoordinator,
    /// The connection failed: retry, on another broker where the target
    /// allows it, after a backoff.
    RetryElsewhere,
    /// The broker asks us to rebuild our metadata from the bootstrap list
    /// (KIP-1102 `REBOOTSTRAP_REQUIRED`).
    Rebootstrap,
    /// A transient error at the right broker: retry there after a backoff.
    Retry,
    /// Retrying cannot help.
    Fail,
}

impl RetryAction {
    /// Whether another attempt may succeed.
    pub fn is_retry(self) -> bool {
        !matches!(self, Self::Done | Self::Fail)
    }
}

/// What to do about an error code a broker answered with.
pub fn classify_code(code: ErrorCode) -> RetryAction {
    match code {
        c if c.is_ok() => RetryAction::Done,
        // Leadership moved (or the topic is still being created): the
        // cached metadata routed us to the wrong broker.
        ErrorCode::NOT_LEADER_OR_FOLLOWER
        | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        | ErrorCode::FENCED_LEADER_EPOCH
        | ErrorCode::UNKNOWN_LEADER_EPOCH
        | ErrorCode::LEADER_NOT_AVAILABLE
        | ErrorCode::NOT_CONTROLLER
        | ErrorCode::KAFKA_STORAGE_ERROR => RetryAction::RefreshMetadata,
        ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
            RetryAction::RediscoverCoordinator
        }
        ErrorCode::REBOOTSTRAP_REQUIRED => RetryAction::Rebootstrap,
        c if c.is_retriable() => RetryAction::Retry,
        _ => RetryAction::Fail,
    }
}

/// What to do about a client-side error (transport, timeout, routing).
pub fn classify_error(err: &Error) -> RetryAction {
    match err {
        Error::Kafka { code, .. } => classify_code(*code),
        // No leader / unknown broker id: metadata will tell us where to go.
        Error::NoRoute { .. } => RetryAction::RefreshMetadata,
        Error::UnsupportedVersion { .. } | Error::ClientClosed => RetryAction::Fail,
        e if e.is_retriable() => RetryAction::RetryElsewhere,
        _ => RetryAction::Fail,
    }
}

/// Backoff bounded by a deadline: `retry.backoff.ms` doubling up to
/// `retry.backoff.max.ms`, never sleeping past the deadline.
#[derive(Debug)]
pub struct RetryBackoff {
    backoff: Backoff,
    deadline: Instant,
}

impl RetryBackoff {
    /// A sequence starting at `base`, capped at `max`, ending at `deadline`.
    pub fn new(base: Duration, max: Duration, deadline: Instant) -> Self {
        Self {
            backoff: Backoff::new(base, max),
            deadline,
        }
    }

    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// How many retries so far.
    pub fn attempts(&self) -> u32 {
        self.backoff.attempts()
    }

    /// Sleeps before the next attempt; `false` when the deadline leaves no
    /// room for one (the caller then returns its last error).
    ///
    /// # Cancel safety
    /// Cancel safe: it only sleeps.
    pub async fn wait(&mut self) -> bool {
        let delay = self.backoff.next_delay();
        let wake = Instant::now() + delay;
        if wake >= self.deadline {
            return false;
        }
        tokio::time::sleep_until(wake).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn routing_special_cases() {
        use RetryAction::*;
        let cases = [
            (ErrorCode::NONE, Done),
            (ErrorCode::NOT_LEADER_OR_FOLLOWER, RefreshMetadata),
            (ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, RefreshMetadata),
            (ErrorCode::FENCED_LEADER_EPOCH, RefreshMetadata),
            (ErrorCode::NOT_CONTROLLER, RefreshMetadata),
            (ErrorCode::NOT_COORDINATOR, RediscoverCoordinator),
            (ErrorCode::COORDINATOR_NOT_AVAILABLE, RediscoverCoordinator),
            (ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, Retry),
            (ErrorCode::REQUEST_TIMED_OUT, Retry),
            (ErrorCode::REBOOTSTRAP_REQUIRED, Rebootstrap),
            (ErrorCode::TOPIC_AUTHORIZATION_FAILED, Fail),
            (ErrorCode::INVALID_REQUEST, Fail),
            (ErrorCode(-1), Fail),
            (ErrorCode(9999), Fail),
        ];
        for (code, want) in cases {
            assert_eq!(classify_code(code), want, "{code}");
        }
    }

    #[test]
    fn every_retriable_code_is_retried_somehow() {
        for c in -1..200 {
            let code = ErrorCode(c);
            if code.is_retriable() {
                assert!(classify_code(code).is_retry(), "{code}");
            }
        }
    }

    #[test]
    fn transport_errors_go_elsewhere_and_config_errors_fail() {
        let io = Error::io("b:1", "read", std::io::ErrorKind::ConnectionReset.into());
        assert_eq!(classify_error(&io), RetryAction::RetryElsewhere);
        let poisoned = Error::ConnectionPoisoned {
            cause: Arc::new(io),
        };
        assert_eq!(classify_error(&poisoned), RetryAction::RetryElsewhere);
        let cfg = Error::Config { reason: "x".into() };
        assert_eq!(classify_error(&cfg), RetryAction::Fail);
        let kafka = Error::Kafka {
            what: "x".into(),
            code: ErrorCode::NOT_COORDINATOR,
            message: None,
        };
        assert_eq!(classify_error(&kafka), RetryAction::RediscoverCoordinator);
        assert_eq!(classify_error(&Error::ClientClosed), RetryAction::Fail);
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_stops_at_the_deadline() {
        let start = Instant::now();
        let mut b = RetryBackoff::new(
            Duration::from_millis(100),
            Duration::from_millis(1000),
            start + Duration::from_millis(1000),
        );
        let mut n = 0;
        while b.wait().await {
            n += 1;
        }
        assert!((2..=4).contains(&n), "{n} waits");
        assert!(Instant::now() < start + Duration::from_millis(1000));
    }
}
