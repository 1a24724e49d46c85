//! Groups: list (every broker), describe and delete (the group coordinator).
//!
//! Classic groups are described with DescribeGroups, KIP-848 consumer groups
//! with ConsumerGroupDescribe (API 69), share groups with ShareGroupDescribe
//! (API 77). Each group goes to its coordinator; `NOT_COORDINATOR` and
//! `COORDINATOR_NOT_AVAILABLE` make the client look the coordinator up
//! again, `COORDINATOR_LOAD_IN_PROGRESS` waits and retries.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_util::future::join_all;
use rkafka_protocol::messages::{
    consumer_group_describe_response, share_group_describe_response, ConsumerGroupDescribeRequest,
    DeleteGroupsRequest, DescribeGroupsRequest, ListGroupsRequest, ListGroupsResponse,
    ShareGroupDescribeRequest,
};

use super::{check_code, missing, retriable_code, Admin};
use crate::error::Error;
use crate::route::Target;

/// One group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// The group id.
    pub group_id: String,
    /// `consumer` for consumer groups, empty for simple/KIP-848 groups.
    pub protocol_type: String,
    /// The state (ListGroups v4+), else empty.
    pub state: String,
    /// `classic`, `consumer`, `share` (ListGroups v5+), else empty.
    pub group_type: String,
    /// The coordinator that reported it.
    pub coordinator: i32,
}

/// Every broker's groups, and the brokers that could not be asked.
#[derive(Debug, Clone, Default)]
pub struct GroupListings {
    /// The groups, sorted by id.
    pub groups: Vec<GroupListing>,
    /// Brokers whose listing failed, with why.
    pub errors: BTreeMap<i32, Error>,
}

/// A member of a classic group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The member id.
    pub member_id: String,
    /// The static membership id, if any.
    pub group_instance_id: Option<String>,
    /// The member's `client.id`.
    pub client_id: String,
    /// The member's host as the broker saw it.
    pub client_host: String,
    /// The protocol-specific subscription bytes.
    pub metadata: Bytes,
    /// The protocol-specific assignment bytes.
    pub assignment: Bytes,
}

/// A classic group (DescribeGroups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// `Stable`, `PreparingRebalance`, `Empty`, `Dead`, ...
    pub state: String,
    /// `consumer`, `connect`, ...
    pub protocol_type: String,
    /// The chosen protocol (for consumers: the assignor).
    pub protocol: String,
    /// The members.
    pub members: Vec<GroupMember>,
}

/// A KIP-848 consumer group (ConsumerGroupDescribe).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerGroupDescription {
    /// The group id.
    pub group_id: String,
    /// The state.
    pub state: String,
    /// The group epoch.
    pub group_epoch: i32,
    /// The assignment epoch.
    pub assignment_epoch: i32,
    /// The server-side assignor.
    pub assignor: String,
    /// The members, as the broker sent them.
    pub members: Vec<consumer_group_describe_response::Member>,
}

/// A share group (ShareGroupDescribe, KIP-932).
#[derive(Debug, Clone, PartialEq)]
pub struct ShareGroupDescription {
    /// The group id.
    pub group_id: String,
    /// The state.
    pub state: String,
    /// The group epoch.
    pub group_epoch: i32,
    /// The assignment epoch.
    pub assignment_epoch: i32,
    /// The server-side assignor.
    pub assignor: String,
    /// The members, as the broker sent them.
    pub members: Vec<share_group_describe_response::Member>,
}

/// Per-group outcome.
pub type GroupResults<T> = BTreeMap<String, Result<T, Error>>;

/// The listings in one ListGroups answer; filters the broker could not
/// apply (older versions) are applied here.
pub fn listings_from(
    resp: &ListGroupsResponse,
    coordinator: i32,
    states: &[String],
    types: &[String],
) -> Result<Vec<GroupListing>, Error> {
    check_code(
        || format!("ListGroups on broker {coordinator}"),
        resp.error_code,
        None,
    )?;
    let keep = |filter: &[String], v: &str| {
        filter.is_empty() || v.is_empty() || filter.iter().any(|f| f.eq_ignore_ascii_case(v))
    };
    Ok(resp
        .groups
        .iter()
        .filter(|g| keep(states, &g.group_state) && keep(types, &g.group_type))
        .map(|g| GroupListing {
            group_id: g.group_id.clone(),
            protocol_type: g.protocol_type.clone(),
            state: g.group_state.clone(),
            group_type: g.group_type.clone(),
            coordinator,
        })
        .collect())
}

impl Admin {
    /// Lists the groups of every broker (each coordinates a share of them),
    /// optionally filtered by state (`Stable`, `Empty`, ...) and type
    /// (`classic`, `consumer`, `share`).
    ///
    /// # Cancel safety
    /// Cancel safe (read only).
    pub async fn list_groups(
        &self,
        states: &[String],
        types: &[String],
    ) -> Result<GroupListings, Error> {
        let md = match self.client.metadata() {
            md if md.brokers.is_empty() => self.client.refresh_metadata(&[]).await?,
            md => md,
        };
        let mut out = GroupListings::default();
        let calls = md.brokers.keys().map(|&id| async move {
            let build = |version: i16| {
                let mut req = ListGroupsRequest::default();
                if version >= 4 {
                    req = req.with_states_filter(states.to_vec());
                }
                if version >= 5 {
                    req = req.with_types_filter(types.to_vec());
                }
                Ok(req)
            };
            let r = self
                .client
                .send_built(Target::Broker(id), build, |r| {
                    retriable_code([r.error_code], &[])
                })
                .await
                .and_then(|resp| listings_from(&resp, id, states, types));
            (id, r)
        });
        for (id, r) in join_all(calls).await {
            match r {
                Ok(groups) => out.groups.extend(groups),
                Err(e) => {
                    out.errors.insert(id, e);
                }
            }
        }
        out.groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(out)
    }

    /// Describes classic groups, each at its coordinator. A group that does
    /// not exist is reported in state `Dead` (that is what brokers answer).
    ///
    /// # Cancel safety
    /// Cancel safe (read only).
    pub async fn describe_groups(
        &self,
        groups: &[String],
    ) -> Result<GroupResults<GroupDescription>, Error> {
        // Concurrent, so the coordinator lookups batch in one
        // FindCoordinator where the broker allows.
        let calls = groups.iter().map(|g| async move {
            let req = DescribeGroupsRequest::default().with_groups(vec![g.clone()]);
            let r = self
                .client
                .send_checked(Target::group(g.as_str()), req, |r| {
                    retriable_code(r.groups.iter().map(|x| x.error_code), &[])
                })
                .await
                .and_then(|resp| {
                    let d = resp
                        .groups
                        .into_iter()
                        .find(|d| &d.group_id == g)
                        .ok_or_else(|| missing(format!("group {g}")))?;
                    check_code(
                        || format!("DescribeGroups {g}"),
                        d.error_code,
                        d.error_message,
                    )?;
                    Ok(GroupDescription {
                        group_id: d.group_id,
                        state: d.group_state,
                        protocol_type: d.protocol_type,
                        protocol: d.protocol_data,
                        members: d
                            .members
                            .into_iter()
                            .map(|m| GroupMember {
                                member_id: m.member_id,
                                group_instance_id: m.group_instance_id,
                                client_id: m.client_id,
                                client_host: m.client_host,
                                metadata: m.member_metadata,
                                assignment: m.member_assignment,
                            })
                            .collect(),
                    })
                });
            (g.clone(), r)
        });
        Ok(join_all(calls).await.into_iter().collect())
    }

    /// Describes KIP-848 consumer groups (ConsumerGroupDescribe).
    ///
    /// # Cancel safety
    /// Cancel safe (read only).
    pub async fn describe_consumer_groups(
        &self,
        groups: &[String],
    ) -> Result<GroupResults<ConsumerGroupDescription>, Error> {
        // Concurrent, so the coordinator lookups batch in one
        // FindCoordinator where the broker allows.
        let calls = groups.iter().map(|g| async move {
            let req = ConsumerGroupDescribeRequest::default().with_group_ids(vec![g.clone()]);
            let r = self
                .client
                .send_checked(Target::group(g.as_str()), req, |r| {
                    retriable_code(r.groups.iter().map(|x| x.error_code), &[])
                })
                .await
                .and_then(|resp| {
                    let d = resp
                        .groups
                        .into_iter()
                        .find(|d| &d.group_id == g)
                        .ok_or_else(|| missing(format!("group {g}")))?;
                    check_code(
                        || format!("ConsumerGroupDescribe {g}"),
                        d.error_code,
                        d.error_message,
                    )?;
                    Ok(ConsumerGroupDescription {
                        group_id: d.group_id,
                        state: d.group_state,
                        group_epoch: d.group_epoch,
                        assignment_epoch: d.assignment_epoch,
                        assignor: d.assignor_name,
                        members: d.members,
                    })
                });
            (g.clone(), r)
        });
        Ok(join_all(calls).await.into_iter().collect())
    }

    /// Describes share groups (ShareGroupDescribe, KIP-932).
    ///
    /// # Cancel safety
    /// Cancel safe (read only).
    pub async fn describe_share_groups(
        &self,
        groups: &[String],
    ) -> Result<GroupResults<ShareGroupDescription>, Error> {
        // Concurrent, so the coordinator lookups batch in one
        // FindCoordinator where the broker allows.
        let calls = groups.iter().map(|g| async move {
            let req = ShareGroupDescribeRequest::default().with_group_ids(vec![g.clone()]);
            let r = self
                .client
                .send_checked(Target::group(g.as_str()), req, |r| {
                    retriable_code(r.groups.iter().map(|x| x.error_code), &[])
                })
                .await
                .and_then(|resp| share_description_from(resp, g));
            (g.clone(), r)
        });
        Ok(join_all(calls).await.into_iter().collect())
    }

    /// Deletes (empty) groups, each at its coordinator.
    ///
    /// # Cancel safety
    /// Not cancel safe in effect: a cancelled call may or may not have
    /// deleted the groups.
    pub async fn delete_groups(&self, groups: &[String]) -> Result<GroupResults<()>, Error> {
        // Concurrent, so the coordinator lookups batch in one
        // FindCoordinator where the broker allows.
        let calls = groups.iter().map(|g| async move {
            let req = DeleteGroupsRequest::default().with_groups_names(vec![g.clone()]);
            let r = self
                .client
                .send_checked(Target::group(g.as_str()), req, |r| {
                    retriable_code(r.results.iter().map(|x| x.error_code), &[])
                })
                .await
                .and_then(|resp| {
                    let d = resp
                        .results
                        .into_iter()
                        .find(|d| &d.group_id == g)
                        .ok_or_else(|| missing(format!("group {g}")))?;
                    check_code(|| format!("DeleteGroups {g}"), d.error_code, None)
                });
            (g.clone(), r)
        });
        Ok(join_all(calls).await.into_iter().collect())
    }
}

/// Reads one group out of a ShareGroupDescribe answer.
pub fn share_description_from(
    resp: rkafka_protocol::messages::ShareGroupDescribeResponse,
    group: &str,
) -> Result<ShareGroupDescription, Error> {
    let d = resp
        .groups
        .into_iter()
        .find(|d| d.group_id == group)
        .ok_or_else(|| missing(format!("group {group}")))?;
    check_code(
        || format!("ShareGroupDescribe {group}"),
        d.error_code,
        d.error_message,
    )?;
    Ok(ShareGroupDescription {
        group_id: d.group_id,
        state: d.group_state,
        group_epoch: d.group_epoch,
        assignment_epoch: d.assignment_epoch,
        assignor: d.assignor_name,
        members: d.members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkafka_protocol::messages::list_groups_response::ListedGroup;
    use rkafka_protocol::messages::share_group_describe_response::{DescribedGroup, Member};
    use rkafka_protocol::messages::ShareGroupDescribeResponse;
    use rkafka_protocol::ErrorCode;

    #[test]
    fn old_brokers_get_filters_applied_here() {
        let resp = ListGroupsResponse::default().with_groups(vec![
            ListedGroup::default()
                .with_group_id("a".into())
                .with_group_state("Stable".into()),
            ListedGroup::default()
                .with_group_id("b".into())
                .with_group_state("Empty".into()),
        ]);
        let got = listings_from(&resp, 1, &["stable".into()], &[]).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].group_id.as_str(), got[0].coordinator), ("a", 1));
        let err = ListGroupsResponse::default()
            .with_error_code(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.code());
        assert!(listings_from(&err, 1, &[], &[]).is_err());
    }

    #[test]
    fn share_group_description_and_errors() {
        let resp = ShareGroupDescribeResponse::default().with_groups(vec![
            DescribedGroup::default()
                .with_group_id("s".into())
                .with_group_state("Stable".into())
                .with_group_epoch(3)
                .with_assignor_name("simple".into())
                .with_members(vec![Member::default().with_member_id("m1".into())]),
            DescribedGroup::default()
                .with_group_id("gone".into())
                .with_error_code(ErrorCode::GROUP_ID_NOT_FOUND.code())
                .with_error_message(Some("no such group".into())),
        ]);
        let d = share_description_from(resp.clone(), "s").unwrap();
        assert_eq!((d.group_epoch, d.members.len()), (3, 1));
        let e = share_description_from(resp.clone(), "gone").unwrap_err();
        assert!(e.to_string().contains("no such group"), "{e}");
        assert!(share_description_from(resp, "x").is_err());
    }
}
