//! The official Apache Kafka image (`apache/kafka`, 4.x, KRaft, one node) with share
//! groups enabled, started through Docker by `testcontainers` (feature `testcontainers`).
//!
//! For machines with a Docker engine: it is the closest thing to the brokers users run.
//! CI here has no Docker and cannot pull images, so CI only compiles this module; the
//! default suite runs on the mock cluster and Tansu.

use std::time::Duration;

use testcontainers::core::{CmdWaitFor, ExecCommand, IntoContainerPort, WaitFor};
use testcontainers::runners::SyncRunner;
use testcontainers::{Container, GenericImage, ImageExt, TestcontainersError};

use crate::process::free_port;
use crate::HarnessError;

/// The image tag used by [`KafkaContainer::start`].
pub const KAFKA_IMAGE_TAG: &str = "4.1.1";

/// How long pulling (first use) and starting the image may take.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(300);

/// Where the image keeps Kafka's scripts.
const KAFKA_BIN: &str = "/opt/kafka/bin";

/// A one-node Apache Kafka (broker and controller) in Docker; removed on drop.
pub struct KafkaContainer {
    container: Container<GenericImage>,
    port: u16,
}

impl KafkaContainer {
    /// Starts `apache/kafka:`[`KAFKA_IMAGE_TAG`] and enables share groups.
    pub fn start() -> Result<Self, HarnessError> {
        Self::start_tag(KAFKA_IMAGE_TAG)
    }

    /// Starts `apache/kafka:<tag>` (a 4.x tag), waits until the broker is up, then
    /// enables share groups (`share.version=1`, KIP-932; a no-op where it is already on).
    ///
    /// The client listener is published on a free host port and advertised as
    /// `localhost:<that port>`, so clients on the host follow Metadata to it.
    pub fn start_tag(tag: &str) -> Result<Self, HarnessError> {
        let port = free_port()?;
        let container = GenericImage::new("apache/kafka", tag)
            .with_wait_for(WaitFor::message_on_stdout("Kafka Server started"))
            .with_mapped_port(port, 9092.tcp())
            .with_startup_timeout(STARTUP_TIMEOUT)
            .with_env_var("KAFKA_NODE_ID", "1")
            .with_env_var("KAFKA_PROCESS_ROLES", "broker,controller")
            .with_env_var("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093")
            .with_env_var(
                "KAFKA_ADVERTISED_LISTENERS",
                format!("PLAINTEXT://localhost:{port}"),
            )
            .with_env_var("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
            .with_env_var(
                "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            )
            .with_env_var("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
            // One node: every internal topic has one replica.
            .with_env_var("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
            .with_env_var("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
            .with_env_var("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
            .with_env_var(
                "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
                "1",
            )
            .with_env_var("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "1")
            .with_env_var("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
            .start()
            .map_err(|e| startup_error("starting the container", &e))?;
        let kafka = Self { container, port };
        let upgraded = kafka.run_tool(&[
            "kafka-features.sh",
            "--bootstrap-server",
            "localhost:9092",
            "upgrade",
            "--feature",
            "share.version=1",
        ]);
        // Images where share groups are on by default may refuse an
        // "upgrade" to the level they are at: that is success too.
        if let Err(e) = upgraded {
            if kafka.share_version()? < 1 {
                return Err(e);
            }
        }
        Ok(kafka)
    }

    /// The finalized `share.version` feature level (0: share groups off).
    pub fn share_version(&self) -> Result<i16, HarnessError> {
        let features = self.run_tool(&[
            "kafka-features.sh",
            "--bootstrap-server",
            "localhost:9092",
            "describe",
        ])?;
        Ok(parse_share_version(&features))
    }

    /// `localhost:port`, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("localhost:{}", self.port)
    }

    /// Runs one of Kafka's scripts (`kafka-topics.sh`, `kafka-features.sh`, ...) inside
    /// the container against its own broker and returns its stdout; a non-zero exit is
    /// [`HarnessError::Failed`].
    pub fn run_tool(&self, command: &[&str]) -> Result<String, HarnessError> {
        let Some((tool, args)) = command.split_first() else {
            return Err(HarnessError::Failed {
                what: "KafkaContainer::run_tool".into(),
                detail: "no command".into(),
            });
        };
        let argv = std::iter::once(format!("{KAFKA_BIN}/{tool}"))
            .chain(args.iter().map(|a| (*a).to_owned()));
        let exec = ExecCommand::new(argv).with_cmd_ready_condition(CmdWaitFor::exit());
        let what = format!("{tool} in the Kafka container");
        let mut result = self
            .container
            .exec(exec)
            .map_err(|e| startup_error(&what, &e))?;
        let stdout = result
            .stdout_to_vec()
            .map_err(|e| startup_error(&what, &e))?;
        let stderr = result
            .stderr_to_vec()
            .map_err(|e| startup_error(&what, &e))?;
        let code = result.exit_code().map_err(|e| startup_error(&what, &e))?;
        let stdout = String::from_utf8_lossy(&stdout).into_owned();
        if code.unwrap_or(0) == 0 {
            Ok(stdout)
        } else {
            Err(HarnessError::Failed {
                what,
                detail: format!(
                    "exit {code:?}\nstdout:\n{stdout}\nstderr:\n{}",
                    String::from_utf8_lossy(&stderr)
                ),
            })
        }
    }
}

/// `FinalizedVersionLevel` of `share.version` in `kafka-features.sh describe`
/// output (lines like `Feature: share.version  SupportedMinVersion: 0  ...
/// FinalizedVersionLevel: 1  Epoch: 5`); 0 when absent.
fn parse_share_version(describe: &str) -> i16 {
    describe
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("share.version"))
        .and_then(|l| {
            let mut words = l.split_whitespace();
            words.find(|w| *w == "FinalizedVersionLevel:")?;
            words.next()?.parse().ok()
        })
        .unwrap_or(0)
}

fn startup_error(what: &str, error: &TestcontainersError) -> HarnessError {
    HarnessError::Startup {
        peer: "apache/kafka container".into(),
        detail: format!(
            "{what}: {error} (the testcontainers feature needs a running Docker engine \
             that can pull apache/kafka)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_share_version;

    #[test]
    fn share_version_is_read_from_the_feature_description() {
        let out = "Feature: metadata.version\tSupportedMinVersion: 3.3-IV3\tSupportedMaxVersion: 4.1-IV1\tFinalizedVersionLevel: 4.1-IV1\tEpoch: 7\n\
                   Feature: share.version\tSupportedMinVersion: 0\tSupportedMaxVersion: 1\tFinalizedVersionLevel: 1\tEpoch: 9\n";
        assert_eq!(parse_share_version(out), 1);
        assert_eq!(
            parse_share_version("Feature: kraft.version\tFinalizedVersionLevel: 1"),
            0
        );
        assert_eq!(parse_share_version(""), 0);
    }
}
