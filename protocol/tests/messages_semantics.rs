//! The rules of the message format that round trips alone do not show:
//! fields a version cannot carry, null where a version forbids it, tagged
//! fields written only when set and in tag order, header versions, known
//! bytes, and bad input giving errors instead of panics.

use bytes::{Bytes, BytesMut};
use rkafka_protocol::arbitrary::Gen;
use rkafka_protocol::messages::fetch_request::ForgottenTopic;
use rkafka_protocol::messages::*;
use rkafka_protocol::{ApiKey, EncodeError, ErrorCode, Message, RawTaggedField, Request};

fn encode<M: Message>(m: &M, version: i16) -> Result<Bytes, EncodeError> {
    let mut buf = BytesMut::new();
    m.encode(&mut buf, version)?;
    Ok(buf.freeze())
}

#[test]
fn a_set_field_the_version_cannot_carry_is_an_error() {
    // ForgottenTopicsData arrived in v7 and is not ignorable.
    let req = FetchRequest::default()
        .with_forgotten_topics_data(vec![ForgottenTopic::default().with_topic("t".into())]);
    assert_eq!(
        encode(&req, 6),
        Err(EncodeError::FieldNotInVersion {
            message: "FetchRequest",
            field: "ForgottenTopicsData",
            version: 6
        })
    );
    assert!(encode(&req, 7).is_ok());
    // Left at its default it is fine in any version.
    assert!(encode(&FetchRequest::default(), 4).is_ok());
}

#[test]
fn an_ignorable_field_is_dropped_silently() {
    // RackId (v11+) is ignorable: v10 drops it, as the Java client does.
    let req = FetchRequest::default().with_rack_id("rack-1".into());
    let bytes = encode(&req, 10).unwrap();
    let back = FetchRequest::decode(&mut bytes.clone(), 10).unwrap();
    assert_eq!(back.rack_id, "");
    assert_eq!(bytes.len(), req.encoded_size(10));
}

#[test]
fn null_where_the_version_forbids_it_is_an_error() {
    // MetadataRequest.Topics is nullable from v1 only.
    let req = MetadataRequest::default().with_topics(None);
    assert_eq!(
        encode(&req, 0),
        Err(EncodeError::NullNotAllowed {
            message: "MetadataRequest",
            field: "Topics",
            version: 0
        })
    );
    let bytes = encode(&req, 1).unwrap();
    assert_eq!(
        &bytes[..],
        &[0xff, 0xff, 0xff, 0xff],
        "null array is length -1"
    );
    assert_eq!(
        MetadataRequest::decode(&mut bytes.clone(), 1)
            .unwrap()
            .topics,
        None
    );
}

#[test]
fn known_bytes_api_versions_request_v3() {
    let req = ApiVersionsRequest::default()
        .with_client_software_name("rkafka".into())
        .with_client_software_version("0.1".into());
    let bytes = encode(&req, 3).unwrap();
    // compact strings (length + 1), then an empty tag section.
    assert_eq!(&bytes[..], b"\x07rkafka\x040.1\x00");
}

#[test]
fn known_bytes_request_header_client_id_is_never_compact() {
    let h = RequestHeader::default()
        .with_request_api_key(18)
        .with_request_api_version(3)
        .with_correlation_id(7)
        .with_client_id(Some("c".into()));
    let bytes = encode(&h, 2).unwrap();
    assert_eq!(&bytes[..], b"\x00\x12\x00\x03\x00\x00\x00\x07\x00\x01c\x00");
}

#[test]
fn tagged_fields_are_written_only_when_set_and_in_tag_order() {
    let plain = FetchRequest::default();
    let set = FetchRequest::default()
        .with_cluster_id(Some("k".into()))
        .with_replica_state(
            fetch_request::ReplicaState::default()
                .with_replica_id(5)
                .with_replica_epoch(9),
        );
    let a = encode(&plain, 15).unwrap();
    let b = encode(&set, 15).unwrap();
    assert_eq!(a.last(), Some(&0), "no tagged fields: count 0");
    // Unknown tags go around the known ones in ascending order.
    let mut with_unknown = set.clone();
    with_unknown.unknown_tagged_fields = vec![RawTaggedField {
        tag: 7,
        data: Bytes::from_static(b"zz"),
    }];
    let c = encode(&with_unknown, 15).unwrap();
    let back = FetchRequest::decode(&mut c.clone(), 15).unwrap();
    assert_eq!(back, with_unknown);
    assert_eq!(FetchRequest::decode(&mut b.clone(), 15).unwrap(), set);
    // An unknown tag that collides with a written known tag is refused.
    let mut clash = set;
    clash.unknown_tagged_fields = vec![RawTaggedField {
        tag: 0,
        data: Bytes::from_static(b"\x00"),
    }];
    assert!(matches!(
        encode(&clash, 15),
        Err(EncodeError::DuplicateTag { tag: 0, .. })
    ));
}

#[test]
fn header_versions_follow_flexibility() {
    assert_eq!(FetchRequest::request_header_version(11), 1);
    assert_eq!(FetchRequest::request_header_version(12), 2);
    assert_eq!(FetchRequest::response_header_version(12), 1);
    assert_eq!(FetchRequest::response_header_version(11), 0);
    // ApiVersions answers with header v0 whatever the version.
    assert_eq!(ApiVersionsRequest::request_header_version(3), 2);
    assert_eq!(ApiVersionsRequest::response_header_version(3), 0);
    assert_eq!(<FetchRequest as Request>::API_KEY, ApiKey::Fetch);
}

// The flags are constants, so they are checked at compile time.
const _: () = assert!(<InitProducerIdRequest as Request>::LATEST_VERSION_UNSTABLE);
const _: () = assert!(!<FetchRequest as Request>::LATEST_VERSION_UNSTABLE);

#[test]
fn unstable_latest_versions_are_skipped_by_stable_versions() {
    assert_eq!(
        InitProducerIdRequest::stable_versions().max,
        InitProducerIdRequest::VERSIONS.max - 1
    );
    assert_eq!(FetchRequest::stable_versions(), FetchRequest::VERSIONS);
}

#[test]
fn api_keys_and_error_codes() {
    assert_eq!(ApiKey::ALL.len(), 93);
    assert_eq!(ApiKey::try_from(1).unwrap(), ApiKey::Fetch);
    assert!(ApiKey::try_from(9999).is_err());
    assert!(ApiKey::Fetch.is_broker_api());
    assert_eq!(ErrorCode::NOT_LEADER_OR_FOLLOWER.code(), 6);
    assert!(ErrorCode::NOT_LEADER_OR_FOLLOWER.is_retriable());
    assert!(!ErrorCode::TOPIC_AUTHORIZATION_FAILED.is_retriable());
    assert_eq!(ErrorCode::from(35).name(), "UNSUPPORTED_VERSION");
    assert_eq!(ErrorCode::from(-12345).name(), "UNKNOWN");
    // The table in shared/kafka-error-codes.tsv, read independently here.
    let tsv = include_str!("../../../shared/kafka-error-codes.tsv");
    let mut rows = 0;
    for line in tsv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let code = ErrorCode::from(cols[0].parse::<i16>().unwrap());
        assert_eq!(code.name(), cols[1]);
        assert_eq!(code.is_retriable(), cols[2] == "retriable", "{}", cols[1]);
        rows += 1;
    }
    assert_eq!(rows, ErrorCode::ALL.len());
}

/// Every prefix of a valid message is an error (never a panic), and random
/// byte flips give a value or an error (never a panic or a huge allocation).
#[test]
fn truncated_and_corrupted_input_is_an_error_not_a_panic() {
    let mut g = Gen::new(42);
    for key in ApiKey::ALL {
        let versions = ResponseKind::versions(key);
        for version in versions.min..=versions.max {
            let msg = ResponseKind::arbitrary(key, &mut g, version);
            let mut buf = BytesMut::new();
            msg.encode(&mut buf, version).unwrap();
            let full = buf.freeze();
            for cut in 0..full.len() {
                let mut input = full.slice(..cut);
                // A prefix may decode only if what is missing was all-optional;
                // it must never claim more bytes than it was given.
                if let Ok(back) = ResponseKind::decode(key, &mut input, version) {
                    assert_ne!(back, msg, "{key} v{version}: a prefix decoded to the whole");
                }
            }
            for _ in 0..8 {
                let mut bytes = full.to_vec();
                if bytes.is_empty() {
                    break;
                }
                let i = g.below(bytes.len() as u64) as usize;
                bytes[i] ^= 1 << g.below(8);
                let _ = ResponseKind::decode(key, &mut Bytes::from(bytes), version);
            }
        }
    }
}

#[test]
fn huge_lengths_do_not_allocate() {
    // A FetchResponse v4 claiming 2^31-1 topics in a 16-byte buffer.
    let mut bytes = vec![0, 0, 0, 0]; // throttle
    bytes.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
    bytes.extend_from_slice(&[0; 8]);
    assert!(FetchResponse::decode(&mut Bytes::from(bytes), 4).is_err());
    // A compact array count of u32::MAX.
    let bytes = Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(FetchResponse::decode(&mut bytes.clone(), 12).is_err());
}

#[test]
fn produce_request_carries_records_zero_copy() {
    let records = Bytes::from_static(b"opaque record batch bytes");
    let req = ProduceRequest::default().with_topic_data(vec![
        produce_request::TopicProduceData::default().with_partition_data(vec![
            produce_request::PartitionProduceData::default()
                .with_index(3)
                .with_records(Some(records.clone())),
        ]),
    ]);
    let bytes = encode(&req, 13).unwrap();
    let back = ProduceRequest::decode(&mut bytes.clone(), 13).unwrap();
    let got = back.topic_data[0].partition_data[0]
        .records
        .clone()
        .unwrap();
    assert_eq!(got, records);
    // The decoded slice points into the request buffer: no copy was made.
    let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
    assert!(range.contains(&(got.as_ptr() as usize)));
}
