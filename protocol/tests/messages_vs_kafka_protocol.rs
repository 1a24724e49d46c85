//! Cross-implementation check against the `kafka-protocol` crate, an
//! independent code generator over the same specs (Kafka 4.1).
//!
//! For every API and every version both crates know: a random message is
//! encoded by rkafka, decoded by kafka-protocol and encoded again by it; the
//! bytes must be identical, and rkafka must decode kafka-protocol's bytes
//! back to the original value. That checks both directions: our bytes read
//! correctly in theirs, and theirs in ours.

use bytes::BytesMut;
use kafka_protocol::messages as kp;
use rkafka_protocol::arbitrary::Gen;
use rkafka_protocol::messages::{RequestKind, ResponseKind};
use rkafka_protocol::ApiKey;

const CASES: u64 = 32;

/// (API, first version) pairs not compared, each with the reason; a pair is
/// skipped from its version up. Every other version both crates list is
/// byte-identical between Kafka 4.1's and 4.3's specs.
const SPEC_GAP: &[(ApiKey, i16, &str)] = &[
    (
        ApiKey::OffsetCommit,
        10,
        "v10 is latestVersionUnstable; kafka-protocol's ApiKey::valid_versions lists it but its message type refuses it",
    ),
    (
        ApiKey::OffsetFetch,
        10,
        "v10 is latestVersionUnstable; kafka-protocol's ApiKey::valid_versions lists it but its message type refuses it",
    ),
    (
        ApiKey::InitProducerId,
        6,
        "v6 is latestVersionUnstable; kafka-protocol's ApiKey::valid_versions lists it but its message type refuses it",
    ),
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Request,
    Response,
}

fn check(key: ApiKey, version: i16, side: Side, g: &mut Gen) -> Result<(), String> {
    let kp_key =
        kp::ApiKey::try_from(key as i16).map_err(|_| "kafka-protocol lacks the API".to_string())?;
    let mut ours = BytesMut::new();
    let original_req;
    let original_resp;
    match side {
        Side::Request => {
            original_req = Some(RequestKind::arbitrary(key, g, version));
            original_resp = None;
            original_req
                .as_ref()
                .unwrap()
                .encode(&mut ours, version)
                .map_err(|e| e.to_string())?;
        }
        Side::Response => {
            original_resp = Some(ResponseKind::arbitrary(key, g, version));
            original_req = None;
            original_resp
                .as_ref()
                .unwrap()
                .encode(&mut ours, version)
                .map_err(|e| e.to_string())?;
        }
    }
    let ours = ours.freeze();
    let mut input = ours.clone();
    let mut theirs = BytesMut::new();
    match side {
        Side::Request => kp::RequestKind::decode(kp_key, &mut input, version)
            .and_then(|m| m.encode(&mut theirs, version)),
        Side::Response => kp::ResponseKind::decode(kp_key, &mut input, version)
            .and_then(|m| m.encode(&mut theirs, version)),
    }
    .map_err(|e| format!("kafka-protocol could not read our bytes: {e:#}"))?;
    if !input.is_empty() {
        return Err(format!(
            "kafka-protocol left {} of our bytes unread",
            input.len()
        ));
    }
    let theirs = theirs.freeze();
    if theirs != ours {
        return Err(format!(
            "bytes differ:\n ours   {:02x?}\n theirs {:02x?}",
            &ours[..],
            &theirs[..]
        ));
    }
    let mut input = theirs.clone();
    let same = match side {
        Side::Request => {
            RequestKind::decode(key, &mut input, version).map(|m| Some(m) == original_req)
        }
        Side::Response => {
            ResponseKind::decode(key, &mut input, version).map(|m| Some(m) == original_resp)
        }
    }
    .map_err(|e| format!("we could not read kafka-protocol's bytes: {e}"))?;
    if !same || !input.is_empty() {
        return Err("kafka-protocol's bytes decode to a different value".into());
    }
    Ok(())
}

#[test]
fn every_shared_api_version_matches_kafka_protocol() {
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut not_in_kp = Vec::new();
    for key in ApiKey::ALL {
        let ours = RequestKind::versions(key);
        let Ok(kp_key) = kp::ApiKey::try_from(key as i16) else {
            not_in_kp.push(key);
            continue;
        };
        let theirs = kp_key.valid_versions();
        for version in ours.min.max(theirs.min)..=ours.max.min(theirs.max) {
            if SPEC_GAP
                .iter()
                .any(|(k, from, _)| *k == key && version >= *from)
            {
                continue;
            }
            for side in [Side::Request, Side::Response] {
                for case in 0..CASES {
                    let mut g = Gen::new((key as u64) << 32 | (version as u64) << 16 | case);
                    checked += 1;
                    if let Err(e) = check(key, version, side, &mut g) {
                        failures.push(format!("{key} v{version} {side:?} case {case}: {e}"));
                        break;
                    }
                }
            }
        }
    }
    eprintln!("checked {checked} messages; APIs kafka-protocol 0.18 lacks: {not_in_kp:?}");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 10_000, "only {checked} messages were checked");
}
