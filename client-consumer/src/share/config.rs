//! Share consumer configuration (Java property names in the docs).

use std::time::Duration;

use rkafka_client_core::ClientConfig;

/// `share.acknowledgement.mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AcknowledgementMode {
    /// Every poll (and commit) accepts the records the previous poll
    /// returned that the application did not acknowledge itself.
    #[default]
    Implicit,
    /// The application acknowledges every record; a poll while delivered
    /// records are unacknowledged is refused.
    Explicit,
}

/// `share.acquire.mode` (KIP-1206; `RecordLimit` needs ShareFetch v2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AcquireMode {
    /// The broker may exceed `max.poll.records` to keep whole batches.
    #[default]
    BatchOptimized,
    /// `max.poll.records` is a strict limit.
    RecordLimit,
}

impl AcquireMode {
    pub(crate) fn code(self) -> i8 {
        match self {
            Self::BatchOptimized => 0,
            Self::RecordLimit => 1,
        }
    }
}

/// How to build a [`crate::ShareConsumer`].
///
/// ```
/// use rkafka_client_consumer::{AcknowledgementMode, ShareConsumerConfig};
/// let cfg = ShareConsumerConfig::builder()
///     .bootstrap("localhost:9092")
///     .group_id("jobs")
///     .topics(vec!["work".into()])
///     .acknowledgement_mode(AcknowledgementMode::Explicit)
///     .build();
/// assert_eq!(cfg.max_poll_records, 500);
/// ```
#[derive(Debug, Clone, bon::Builder)]
#[non_exhaustive]
pub struct ShareConsumerConfig {
    /// `bootstrap.servers`.
    #[builder(into)]
    pub bootstrap: String,
    /// `group.id`: the share group.
    #[builder(into)]
    pub group_id: String,
    /// Topics to subscribe to at start (see also `subscribe`).
    #[builder(default)]
    pub topics: Vec<String>,
    /// `share.acknowledgement.mode`.
    #[builder(default)]
    pub acknowledgement_mode: AcknowledgementMode,
    /// `max.poll.records`: the most records one poll returns (also sent as
    /// the fetch's MaxRecords and BatchSize).
    #[builder(default = 500)]
    pub max_poll_records: usize,
    /// `share.acquire.mode`.
    #[builder(default)]
    pub acquire_mode: AcquireMode,
    /// `fetch.max.wait.ms`.
    #[builder(default = Duration::from_millis(500))]
    pub fetch_max_wait: Duration,
    /// `fetch.min.bytes`.
    #[builder(default = 1)]
    pub fetch_min_bytes: i32,
    /// `fetch.max.bytes`.
    #[builder(default = 52_428_800)]
    pub fetch_max_bytes: i32,
    /// `max.poll.interval.ms`: without a poll for this long the member
    /// leaves the group; the next poll rejoins.
    #[builder(default = Duration::from_millis(300_000))]
    pub max_poll_interval: Duration,
    /// `client.rack`.
    #[builder(into)]
    pub rack: Option<String>,
    /// Everything else: TLS, SASL, timeouts, client id (its bootstrap is
    /// replaced by `bootstrap`). `default.api.timeout.ms` bounds ack retries
    /// for `commit_async` and buffered acknowledgements.
    pub client: Option<ClientConfig>,
}

impl ShareConsumerConfig {
    /// The core client config this consumer runs on.
    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut c = self
            .client
            .clone()
            .unwrap_or_else(|| ClientConfig::builder().bootstrap_servers("").build());
        c.bootstrap_servers = self.bootstrap.clone();
        c
    }

    /// The fetch's MaxRecords, clamped to the wire type.
    pub(crate) fn max_records_i32(&self) -> i32 {
        i32::try_from(self.max_poll_records).unwrap_or(i32::MAX)
    }

    pub(crate) fn fetch_max_wait_ms(&self) -> i32 {
        i32::try_from(self.fetch_max_wait.as_millis()).unwrap_or(i32::MAX)
    }
}
