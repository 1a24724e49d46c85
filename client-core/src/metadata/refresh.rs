//! The two lookups the metadata task performs: Metadata and FindCoordinator.
//!
//! Request building and response interpretation are pure functions (tested
//! with crafted responses); the async wrappers only add the round trip.

use rkafka_protocol::messages::metadata_request::MetadataRequestTopic;
use rkafka_protocol::messages::{
    FindCoordinatorRequest, FindCoordinatorResponse, MetadataRequest, MetadataResponse,
};
use rkafka_protocol::{ErrorCode, Message as _};

use crate::conn::BrokerConnection;
use crate::error::Error;
use crate::route::CoordinatorKind;

/// A Metadata request for `topics` (`None`: every topic) at `version`.
///
/// Auto-creation is off: a client asking where a topic lives must not
/// create it as a side effect.
pub fn metadata_request(topics: Option<&[String]>, version: i16) -> MetadataRequest {
    let topics = topics.map(|ts| {
        ts.iter()
            .map(|t| MetadataRequestTopic::default().with_name(Some(t.clone())))
            .collect()
    });
    MetadataRequest::default()
        .with_topics(topics)
        .with_allow_auto_topic_creation(version < 4)
}

/// Sends a Metadata request for `topics` on `conn`.
///
/// # Errors
/// Transport errors, and [`Error::Kafka`] when the response carries a
/// top-level error (v13+ `REBOOTSTRAP_REQUIRED`).
///
/// # Cancel safety
/// Cancel safe, as [`BrokerConnection::send`].
pub async fn fetch_metadata(
    conn: &BrokerConnection,
    topics: Option<&[String]>,
) -> Result<MetadataResponse, Error> {
    let version = conn.version_for::<MetadataRequest>()?;
    let resp = conn
        .send_version(metadata_request(topics, version), version)
        .await?;
    let code = ErrorCode::from(resp.error_code);
    if !code.is_ok() {
        return Err(Error::Kafka {
            what: format!("Metadata from {}", conn.broker()),
            code,
            message: None,
        });
    }
    Ok(resp)
}

/// Where a coordinator lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordinatorInfo {
    /// Its node id.
    pub node_id: i32,
    /// `host:port`.
    pub addr: String,
}

/// The FindCoordinator requests needed for `keys` at `version`: one batched
/// request from v4 on (KIP-699), else one per key.
pub fn find_coordinator_requests(
    kind: CoordinatorKind,
    keys: &[String],
    version: i16,
) -> Vec<FindCoordinatorRequest> {
    let base = FindCoordinatorRequest::default().with_key_type(if version >= 1 {
        kind.key_type()
    } else {
        0
    });
    if version >= 4 {
        vec![base.with_coordinator_keys(keys.to_vec())]
    } else {
        keys.iter()
            .map(|k| base.clone().with_key(k.clone()))
            .collect()
    }
}

fn host_port(host: &str, port: i32) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Reads the per-key outcome of one FindCoordinator response. `asked` is
/// the key of a pre-v4 request (whose response carries no key).
pub fn coordinators_from(
    kind: CoordinatorKind,
    resp: &FindCoordinatorResponse,
    asked: Option<&str>,
) -> Vec<(String, Result<CoordinatorInfo, Error>)> {
    let outcome = |key: &str, code: i16, msg: &Option<String>, node: i32, host: &str, port| {
        let code = ErrorCode::from(code);
        if code.is_ok() {
            Ok(CoordinatorInfo {
                node_id: node,
                addr: host_port(host, port),
            })
        } else {
            Err(Error::Kafka {
                what: format!("FindCoordinator {kind:?} {key:?}"),
                code,
                message: msg.clone(),
            })
        }
    };
    match asked {
        Some(key) => vec![(
            key.to_owned(),
            outcome(
                key,
                resp.error_code,
                &resp.error_message,
                resp.node_id,
                &resp.host,
                resp.port,
            ),
        )],
        None => resp
            .coordinators
            .iter()
            .map(|c| {
                (
                    c.key.clone(),
                    outcome(
                        &c.key,
                        c.error_code,
                        &c.error_message,
                        c.node_id,
                        &c.host,
                        c.port,
                    ),
                )
            })
            .collect(),
    }
}

/// Looks up the coordinators of `keys` through `conn`, batching where the
/// broker allows. Keys the broker did not answer for get an error.
///
/// # Cancel safety
/// Cancel safe, as [`BrokerConnection::send`].
pub async fn find_coordinators(
    conn: &BrokerConnection,
    kind: CoordinatorKind,
    keys: &[String],
) -> Result<Vec<(String, Result<CoordinatorInfo, Error>)>, Error> {
    let version = conn.version_for::<FindCoordinatorRequest>()?;
    if version < kind.min_version() {
        return Err(Error::UnsupportedVersion {
            api: "FindCoordinator",
            ours: rkafka_protocol::VersionRange {
                min: kind.min_version(),
                max: FindCoordinatorRequest::VERSIONS.max,
            },
            theirs: conn
                .api_versions()
                .broker_range(rkafka_protocol::ApiKey::FindCoordinator as i16),
        });
    }
    let mut out = Vec::new();
    for req in find_coordinator_requests(kind, keys, version) {
        let asked = (version < 4).then(|| req.key.clone());
        let resp = conn.send_version(req, version).await?;
        out.extend(coordinators_from(kind, &resp, asked.as_deref()));
    }
    for k in keys {
        if !out.iter().any(|(got, _)| got == k) {
            out.push((
                k.clone(),
                Err(Error::Protocol {
                    reason: format!("FindCoordinator answered no entry for key {k:?}"),
                }),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkafka_protocol::messages::find_coordinator_response::Coordinator;
    use rkafka_protocol::Message;

    #[test]
    fn batched_from_v4_single_before() {
        let keys = vec!["a".to_owned(), "b".to_owned()];
        let v4 = find_coordinator_requests(CoordinatorKind::Group, &keys, 4);
        assert_eq!(v4.len(), 1);
        assert_eq!(v4[0].coordinator_keys, keys);
        // Encodes: the v4 request must not carry the old single key.
        let mut buf = bytes::BytesMut::new();
        v4[0].encode(&mut buf, 4).unwrap();
        let v3 = find_coordinator_requests(CoordinatorKind::Transaction, &keys, 3);
        assert_eq!(v3.len(), 2);
        assert_eq!((v3[1].key.as_str(), v3[1].key_type), ("b", 1));
        v3[0].encode(&mut buf, 3).unwrap();
        let share = find_coordinator_requests(CoordinatorKind::Share, &keys[..1], 6);
        assert_eq!(share[0].key_type, 2);
    }

    #[test]
    fn reads_batched_and_single_answers() {
        let resp = FindCoordinatorResponse::default().with_coordinators(vec![
            Coordinator::default()
                .with_key("a".into())
                .with_node_id(2)
                .with_host("h2".into())
                .with_port(9),
            Coordinator::default()
                .with_key("b".into())
                .with_error_code(ErrorCode::COORDINATOR_NOT_AVAILABLE.code()),
        ]);
        let got = coordinators_from(CoordinatorKind::Group, &resp, None);
        assert_eq!(got[0].1.as_ref().unwrap().addr, "h2:9");
        assert!(
            matches!(&got[1].1, Err(Error::Kafka { code, .. }) if *code == ErrorCode::COORDINATOR_NOT_AVAILABLE)
        );
        let single = FindCoordinatorResponse::default()
            .with_node_id(1)
            .with_host("::1".into())
            .with_port(5);
        let got = coordinators_from(CoordinatorKind::Group, &single, Some("g"));
        assert_eq!(got[0].0, "g");
        assert_eq!(got[0].1.as_ref().unwrap().addr, "[::1]:5");
    }

    #[test]
    fn metadata_request_shape() {
        let all = metadata_request(None, 12);
        assert!(all.topics.is_none() && !all.allow_auto_topic_creation);
        let some = metadata_request(Some(&["t".to_owned()]), 3);
        assert_eq!(some.topics.unwrap()[0].name.as_deref(), Some("t"));
        let mut buf = bytes::BytesMut::new();
        metadata_request(Some(&[]), 1).encode(&mut buf, 1).unwrap();
    }
}
