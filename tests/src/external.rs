//! Running the suite against a broker named by `KAFKA_BOOTSTRAP` instead of our peers.

use crate::{HarnessError, MockCluster, MockConfig};

/// The variable naming an external broker (`host:port[,host:port...]`).
pub const EXTERNAL_BOOTSTRAP_ENV: &str = "KAFKA_BOOTSTRAP";

/// The external broker's bootstrap list, when `KAFKA_BOOTSTRAP` is set and not empty.
pub fn external_bootstrap() -> Option<String> {
    std::env::var(EXTERNAL_BOOTSTRAP_ENV)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// `true` (after printing why the test is skipped) when an external broker is
/// configured: for tests that need the mock's fault injection. See [`crate::skip_if_external!`].
pub fn skips_when_external(test: &str, reason: &str) -> bool {
    match external_bootstrap() {
        Some(bootstrap) => {
            eprintln!("SKIP {test}: needs the mock cluster ({reason}); {EXTERNAL_BOOTSTRAP_ENV}={bootstrap} is external");
            true
        }
        None => false,
    }
}

/// Returns from the enclosing test (which must return `()`) after printing why, when
/// `KAFKA_BOOTSTRAP` names an external broker: `skip_if_external!("injects Produce errors");`
#[macro_export]
macro_rules! skip_if_external {
    ($reason:expr) => {
        if $crate::skips_when_external(module_path!(), $reason) {
            return;
        }
    };
}

/// The broker a test talks to: the external one when configured, else a mock cluster.
pub enum BrokerUnderTest {
    /// `KAFKA_BOOTSTRAP`.
    External(String),
    /// A mock cluster started for the test.
    Mock(MockCluster),
}

impl BrokerUnderTest {
    /// The external broker if `KAFKA_BOOTSTRAP` is set, else a mock started with `config`.
    pub fn external_or_mock(config: MockConfig) -> Result<Self, HarnessError> {
        match external_bootstrap() {
            Some(bootstrap) => Ok(Self::External(bootstrap)),
            None => MockCluster::start(config).map(Self::Mock),
        }
    }

    /// The bootstrap list for clients.
    pub fn bootstrap(&self) -> &str {
        match self {
            Self::External(bootstrap) => bootstrap,
            Self::Mock(mock) => mock.bootstrap(),
        }
    }

    /// The mock, when there is one (fault injection is only possible then).
    pub fn mock(&self) -> Option<&MockCluster> {
        match self {
            Self::External(_) => None,
            Self::Mock(mock) => Some(mock),
        }
    }
}
