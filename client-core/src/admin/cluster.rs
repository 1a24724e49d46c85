//! Describing the cluster: DescribeCluster (KIP-700) where the broker
//! serves it, else the broker list of a Metadata response.

use rkafka_protocol::messages::{
    DescribeClusterRequest, DescribeClusterResponse, MetadataResponse,
};
use rkafka_protocol::ErrorCode;

use super::{check_code, retriable_code, Admin};
use crate::error::Error;
use crate::metadata::refresh::metadata_request;
use crate::metadata::BrokerInfo;
use crate::route::Target;

/// The cluster as a broker describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// The cluster id (empty when the broker has none).
    pub cluster_id: String,
    /// The controller's node id as brokers expose it, if any.
    pub controller_id: Option<i32>,
    /// The brokers, by node id order.
    pub brokers: Vec<BrokerInfo>,
}

impl ClusterDescription {
    /// From a DescribeCluster response.
    pub fn from_describe(resp: &DescribeClusterResponse) -> Self {
        let mut brokers: Vec<BrokerInfo> = resp
            .brokers
            .iter()
            .map(|b| BrokerInfo {
                id: b.broker_id,
                host: b.host.clone(),
                port: b.port,
                rack: b.rack.clone(),
            })
            .collect();
        brokers.sort_by_key(|b| b.id);
        Self {
            cluster_id: resp.cluster_id.clone(),
            controller_id: (resp.controller_id >= 0).then_some(resp.controller_id),
            brokers,
        }
    }

    /// From a Metadata response (brokers that lack DescribeCluster).
    pub fn from_metadata(resp: &MetadataResponse) -> Self {
        let md = crate::metadata::ClusterMetadata::default().apply(resp, true);
        Self {
            cluster_id: md.cluster_id.clone().unwrap_or_default(),
            controller_id: md.controller_id,
            brokers: md.brokers.values().cloned().collect(),
        }
    }
}

impl Admin {
    /// Describes the cluster: id, controller, brokers. Uses DescribeCluster
    /// when a broker offers it and falls back to Metadata otherwise.
    ///
    /// # Cancel safety
    /// Cancel safe (read only).
    pub async fn describe_cluster(&self) -> Result<ClusterDescription, Error> {
        let described = self
            .client
            .send_checked(Target::Any, DescribeClusterRequest::default(), |r| {
                retriable_code([r.error_code], &[])
            })
            .await;
        match described {
            Ok(resp) => {
                check_code(
                    || "DescribeCluster".into(),
                    resp.error_code,
                    resp.error_message.clone(),
                )?;
                Ok(ClusterDescription::from_describe(&resp))
            }
            // Brokers before 2.8 (and some other servers) lack the API.
            Err(Error::UnsupportedVersion { .. }) => {
                let resp = self
                    .client
                    .send_built(
                        Target::Any,
                        |v| Ok(metadata_request(Some(&[]), v)),
                        |_: &_| ErrorCode::NONE,
                    )
                    .await?;
                Ok(ClusterDescription::from_metadata(&resp))
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;

    #[test]
    fn describe_cluster_answer_is_sorted_and_typed() {
        let resp = DescribeClusterResponse::default()
            .with_cluster_id("cid".into())
            .with_controller_id(-1)
            .with_brokers(vec![
                DescribeClusterBroker::default()
                    .with_broker_id(2)
                    .with_host("h".into())
                    .with_port(2),
                DescribeClusterBroker::default()
                    .with_broker_id(1)
                    .with_host("h".into())
                    .with_port(1),
            ]);
        let d = ClusterDescription::from_describe(&resp);
        assert_eq!(d.cluster_id, "cid");
        assert_eq!(d.controller_id, None);
        assert_eq!(
            d.brokers.iter().map(|b| b.id).collect::<Vec<_>>(),
            vec![1, 2]
        );
    }
}
