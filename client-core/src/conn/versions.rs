//! The versions a broker announced in ApiVersions, and the choice of the
//! version to use for each request.

use std::collections::{BTreeMap, HashMap};

use rkafka_protocol::VersionRange;

use crate::error::Error;

/// The ApiVersions API key.
pub(crate) const API_VERSIONS_KEY: i16 = 18;

/// The API version ranges one broker supports, and the features it
/// announced alongside them (ApiVersions v3+).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiVersions {
    ranges: HashMap<i16, VersionRange>,
    features: Features,
}

/// The features one broker announced in its ApiVersions answer (KIP-584):
/// what it supports, and the cluster-wide finalized levels as it knew them.
///
/// Finalized levels gate protocol behaviour the API versions alone do not,
/// e.g. `transaction.version` ≥ 2 enables KIP-890 transactions v2.
/// Brokers answering ApiVersions below v3 announce none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Features {
    /// `FinalizedFeaturesEpoch`: grows with every change of the finalized
    /// levels; -1 when unknown (then `finalized` is not to be trusted).
    pub finalized_epoch: i64,
    /// `FinalizedFeatures`: feature name → finalized (max) version level.
    pub finalized: BTreeMap<String, i16>,
    /// `SupportedFeatures`: feature name → the version range this broker
    /// supports.
    pub supported: BTreeMap<String, VersionRange>,
}

impl Default for Features {
    fn default() -> Self {
        Self {
            finalized_epoch: -1,
            finalized: BTreeMap::new(),
            supported: BTreeMap::new(),
        }
    }
}

impl Features {
    /// The finalized level of `name`, when the epoch is known and the
    /// feature is finalized.
    pub fn finalized(&self, name: &str) -> Option<i16> {
        if self.finalized_epoch < 0 {
            return None;
        }
        self.finalized.get(name).copied()
    }
}

impl ApiVersions {
    /// Builds the table from `(api_key, min, max)` triples as the broker
    /// listed them. Ranges with `min > max` are dropped (a broken broker).
    pub fn from_ranges(ranges: impl IntoIterator<Item = (i16, i16, i16)>) -> Self {
        Self {
            ranges: ranges
                .into_iter()
                .filter(|(_, min, max)| min <= max)
                .map(|(k, min, max)| (k, VersionRange { min, max }))
                .collect(),
            features: Features::default(),
        }
    }

    /// The same table, with the features the broker announced.
    pub fn with_features(mut self, features: Features) -> Self {
        self.features = features;
        self
    }

    /// The features the broker announced (empty before ApiVersions v3).
    pub fn features(&self) -> &Features {
        &self.features
    }

    /// The broker's range for `api_key`, if it supports the API.
    pub fn broker_range(&self, api_key: i16) -> Option<VersionRange> {
        self.ranges.get(&api_key).copied()
    }

    /// How many APIs the broker listed.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the broker listed no API at all.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The highest version both sides support for an API, or
    /// [`Error::UnsupportedVersion`] naming the API and both ranges.
    pub fn pick(&self, api: &'static str, api_key: i16, ours: VersionRange) -> Result<i16, Error> {
        let theirs = self.broker_range(api_key);
        theirs
            .and_then(|t| t.intersect(&ours))
            .map(|common| common.max)
            .ok_or(Error::UnsupportedVersion { api, ours, theirs })
    }
}

/// Our range for a request type: the spec's, less the last version when the
/// spec marks it unstable and unstable versions are not enabled.
pub fn our_range(
    versions: VersionRange,
    latest_unstable: bool,
    allow_unstable: bool,
) -> VersionRange {
    if latest_unstable && !allow_unstable && versions.max > versions.min {
        VersionRange {
            min: versions.min,
            max: versions.max - 1,
        }
    } else {
        versions
    }
}

/// The error code at the front of an ApiVersions response body. It is the
/// first field in every version and never affected by flexible encoding, so
/// it tells how to decode the rest before decoding it.
pub(crate) fn peek_error_code(body: &[u8]) -> Option<i16> {
    (body.len() >= 2).then(|| i16::from_be_bytes([body[0], body[1]]))
}

/// The ApiVersions version to retry with after an UNSUPPORTED_VERSION answer
/// (whose body is v0-shaped): the highest the broker lists for ApiVersions,
/// capped by ours; v0 when it lists none. `None` when we already asked at
/// that version or lower, so the retry would loop.
pub(crate) fn fallback_version(broker: &ApiVersions, ours_max: i16, asked: i16) -> Option<i16> {
    let v = broker
        .broker_range(API_VERSIONS_KEY)
        .map_or(0, |r| r.max.min(ours_max));
    (v < asked).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn r(min: i16, max: i16) -> VersionRange {
        VersionRange { min, max }
    }

    #[test]
    fn picks_highest_common_version() {
        let b = ApiVersions::from_ranges([(3, 0, 12), (1, 4, 13), (0, 3, 9)]);
        assert_eq!(b.pick("Metadata", 3, r(0, 13)).unwrap(), 12);
        assert_eq!(b.pick("Fetch", 1, r(4, 17)).unwrap(), 13);
        assert_eq!(b.pick("Produce", 0, r(0, 5)).unwrap(), 5);
    }

    #[test]
    fn disjoint_or_missing_api_is_typed_error() {
        let b = ApiVersions::from_ranges([(1, 0, 3)]);
        match b.pick("Fetch", 1, r(4, 17)).unwrap_err() {
            Error::UnsupportedVersion { api, ours, theirs } => {
                assert_eq!((api, ours, theirs), ("Fetch", r(4, 17), Some(r(0, 3))));
            }
            e => panic!("{e:?}"),
        }
        match b.pick("DescribeQuorum", 55, r(0, 2)).unwrap_err() {
            Error::UnsupportedVersion { theirs: None, .. } => {}
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn broken_ranges_are_dropped() {
        let b = ApiVersions::from_ranges([(3, 5, 2)]);
        assert!(b.is_empty());
    }

    #[test]
    fn unstable_latest_is_skipped_unless_allowed() {
        assert_eq!(our_range(r(0, 5), true, false), r(0, 4));
        assert_eq!(our_range(r(0, 5), true, true), r(0, 5));
        assert_eq!(our_range(r(0, 5), false, false), r(0, 5));
        assert_eq!(our_range(r(0, 0), true, false), r(0, 0));
    }

    #[test]
    fn fallback_after_unsupported_version() {
        // The broker lists ApiVersions 0-2 in its v0-shaped error answer.
        let b = ApiVersions::from_ranges([(18, 0, 2), (3, 0, 9)]);
        assert_eq!(fallback_version(&b, 4, 4), Some(2));
        // It lists none (librdkafka's mock): retry at v0.
        let none = ApiVersions::default();
        assert_eq!(fallback_version(&none, 4, 3), Some(0));
        // Already at v0: give up instead of looping.
        assert_eq!(fallback_version(&none, 4, 0), None);
        // A broker that claims to support what it just refused: no loop.
        let liar = ApiVersions::from_ranges([(18, 0, 4)]);
        assert_eq!(fallback_version(&liar, 4, 4), None);
    }

    #[test]
    fn error_code_peek() {
        assert_eq!(peek_error_code(&[0, 35, 0, 0, 0, 0]), Some(35));
        assert_eq!(peek_error_code(&[0]), None);
    }
}
