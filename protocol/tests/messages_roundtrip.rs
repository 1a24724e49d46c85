//! Property round trips for every message at every valid version:
//! value → bytes → value (a random value holding exactly the fields the
//! version has) and bytes → value → bytes, with the encoded size checked
//! against the bytes written.

use bytes::{Bytes, BytesMut};
use rkafka_protocol::arbitrary::{Arbitrary, Gen};
use rkafka_protocol::messages::*;
use rkafka_protocol::{ApiKey, Message};

/// Random values per message and version; enough to hit null/empty/default
/// and non-default branches of every field many times.
const CASES: u64 = 64;

fn round_trip<T>(
    value: &T,
    encode: impl Fn(&T, &mut BytesMut) -> usize,
    decode: impl Fn(&mut Bytes) -> T,
    what: &str,
) where
    T: PartialEq + std::fmt::Debug,
{
    let mut buf = BytesMut::new();
    let size = encode(value, &mut buf);
    assert_eq!(
        size,
        buf.len(),
        "{what}: encoded_size disagrees with encode"
    );
    let bytes = buf.freeze();
    let mut input = bytes.clone();
    let back = decode(&mut input);
    assert!(
        input.is_empty(),
        "{what}: {} bytes left after decode",
        input.len()
    );
    assert_eq!(&back, value, "{what}: value changed in a round trip");
    let mut again = BytesMut::new();
    encode(&back, &mut again);
    assert_eq!(
        again.freeze(),
        bytes,
        "{what}: bytes changed in a round trip"
    );
}

fn seed(key: ApiKey, version: i16, case: u64) -> u64 {
    (key as u64) << 32 | (version as u64) << 16 | case
}

#[test]
fn every_request_and_response_at_every_version() {
    let mut pairs = 0;
    for key in ApiKey::ALL {
        let versions = RequestKind::versions(key);
        for version in versions.min..=versions.max {
            pairs += 1;
            for case in 0..CASES {
                let mut g = Gen::new(seed(key, version, case));
                let what = format!("{key} v{version} request case {case}");
                let req = RequestKind::arbitrary(key, &mut g, version);
                round_trip(
                    &req,
                    |m, b| {
                        m.encode(b, version)
                            .unwrap_or_else(|e| panic!("{what}: {e}"));
                        m.encoded_size(version)
                    },
                    |b| {
                        RequestKind::decode(key, b, version)
                            .unwrap_or_else(|e| panic!("{what}: {e}"))
                    },
                    &what,
                );
                let what = format!("{key} v{version} response case {case}");
                let resp = ResponseKind::arbitrary(key, &mut g, version);
                round_trip(
                    &resp,
                    |m, b| {
                        m.encode(b, version)
                            .unwrap_or_else(|e| panic!("{what}: {e}"));
                        m.encoded_size(version)
                    },
                    |b| {
                        ResponseKind::decode(key, b, version)
                            .unwrap_or_else(|e| panic!("{what}: {e}"))
                    },
                    &what,
                );
            }
        }
    }
    // Kafka 4.3 has 302 (API, version) pairs; guard against a generator
    // change that silently drops some.
    assert!(pairs >= 302, "only {pairs} API versions were checked");
}

fn check_message<T: Message + Arbitrary>() {
    for version in T::VERSIONS.min..=T::VERSIONS.max {
        for case in 0..CASES {
            let mut g = Gen::new((version as u64) << 16 | case);
            let value = T::arbitrary(&mut g, version);
            let what = format!("{} v{version} case {case}", T::NAME);
            round_trip(
                &value,
                |m, b| {
                    m.encode(b, version)
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                    m.encoded_size(version)
                },
                |b| T::decode(b, version).unwrap_or_else(|e| panic!("{what}: {e}")),
                &what,
            );
        }
    }
}

#[test]
fn headers_and_data_structs() {
    check_message::<RequestHeader>();
    check_message::<ResponseHeader>();
    check_message::<ConsumerProtocolAssignment>();
    check_message::<ConsumerProtocolSubscription>();
    check_message::<ControlRecordTypeSchema>();
    check_message::<DefaultPrincipalData>();
    check_message::<EndTxnMarker>();
    check_message::<KRaftVersionRecord>();
    check_message::<LeaderChangeMessage>();
    check_message::<SnapshotFooterRecord>();
    check_message::<SnapshotHeaderRecord>();
    check_message::<VotersRecord>();
}

#[test]
fn unsupported_versions_are_errors_not_panics() {
    for key in ApiKey::ALL {
        let v = RequestKind::versions(key);
        let mut g = Gen::new(1);
        for bad in [v.max + 1, -1, i16::MAX] {
            let mut input = Bytes::from_static(&[0; 64]);
            assert!(
                RequestKind::decode(key, &mut input, bad).is_err(),
                "{key} v{bad}"
            );
            assert!(
                ResponseKind::decode(key, &mut input, bad).is_err(),
                "{key} v{bad}"
            );
        }
        if v.min <= v.max {
            let req = RequestKind::arbitrary(key, &mut g, v.max);
            assert!(
                req.encode(&mut BytesMut::new(), v.max + 1).is_err(),
                "{key}"
            );
        }
    }
}
