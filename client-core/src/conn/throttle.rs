//! Broker quotas (KIP-219): when a response carries `throttle_time_ms > 0` at a
//! version where the broker answers at once instead of holding the response
//! back, the client itself must send nothing more on that connection until
//! the time is up, as the Java client does (`shouldClientThrottle`).
//!
//! Where the field sits and from which version the client throttles come from
//! the Kafka 4.3 message specs: for most APIs it is the first field of the
//! body; the versions are those whose spec says "on quota violation, brokers
//! send out responses before throttling", and every version of the APIs that
//! came after KIP-219.

use bytes::Bytes;
use rkafka_protocol::messages::ProduceResponse;
use rkafka_protocol::Message;

/// Where `throttle_time_ms` is, and from which version the client honours it.
enum Field {
    /// The first field of the body, from this version on.
    First(i16),
    /// After a leading 16-bit error code, from this version on.
    AfterErrorCode(i16),
    /// Produce: after the per-partition answers, from this version on.
    Produce(i16),
}

fn field(api_key: i16) -> Option<Field> {
    use Field::{AfterErrorCode, First, Produce};
    Some(match api_key {
        0 => Produce(6),
        1 => First(8),
        2 => First(3),
        3 => First(6),
        8 | 9 => First(4),
        10 | 12 | 13 | 14 | 15 | 16 | 20 | 32 => First(2),
        11 | 19 => First(3),
        // OffsetForLeaderEpoch carries the field only since v2, after KIP-219.
        23 => First(2),
        21 | 22 | 24 | 25 | 26 | 28 | 29 | 30 | 31 | 33 | 34 | 35 | 37 | 42 => First(1),
        47 => AfterErrorCode(0),
        // APIs added after KIP-219 whose body starts with the field.
        43..=46 | 48..=51 | 56 | 57 | 59..=75 | 76..=82 | 88..=92 => First(0),
        _ => return None,
    })
}

/// The throttle time (ms) the client must honour for a response body of
/// `api_key` at `version`; `None` when the response has none to honour.
pub(crate) fn client_throttle_ms(api_key: i16, version: i16, body: &Bytes) -> Option<u32> {
    let at = |offset: usize| {
        let b = body.get(offset..offset + 4)?;
        Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let ms = match field(api_key)? {
        Field::First(from) if version >= from => at(0)?,
        Field::AfterErrorCode(from) if version >= from => at(2)?,
        Field::Produce(from) if version >= from => {
            ProduceResponse::decode(&mut body.clone(), version)
                .ok()?
                .throttle_time_ms
        }
        _ => return None,
    };
    u32::try_from(ms).ok().filter(|&ms| ms > 0)
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use rkafka_protocol::messages::{
        FetchResponse, FindCoordinatorResponse, MetadataResponse, ShareFetchResponse,
    };

    use super::*;

    fn encoded<M: Message>(m: &M, version: i16) -> Bytes {
        let mut b = BytesMut::new();
        m.encode(&mut b, version).unwrap();
        b.freeze()
    }

    #[test]
    fn read_where_each_api_puts_it() {
        let md = MetadataResponse::default().with_throttle_time_ms(250);
        assert_eq!(client_throttle_ms(3, 12, &encoded(&md, 12)), Some(250));
        let fetch = FetchResponse::default().with_throttle_time_ms(7);
        assert_eq!(client_throttle_ms(1, 16, &encoded(&fetch, 16)), Some(7));
        let fc = FindCoordinatorResponse::default().with_throttle_time_ms(9);
        assert_eq!(client_throttle_ms(10, 4, &encoded(&fc, 4)), Some(9));
        let share = ShareFetchResponse::default().with_throttle_time_ms(11);
        assert_eq!(client_throttle_ms(78, 1, &encoded(&share, 1)), Some(11));
        let produce = ProduceResponse::default().with_throttle_time_ms(13);
        for v in [7, 9, 11] {
            assert_eq!(client_throttle_ms(0, v, &encoded(&produce, v)), Some(13));
        }
    }

    #[test]
    fn older_versions_zero_and_garbage_ask_nothing() {
        // Before KIP-219 the broker delays the response itself.
        let md = MetadataResponse::default().with_throttle_time_ms(250);
        assert_eq!(client_throttle_ms(3, 5, &encoded(&md, 5)), None);
        let zero = MetadataResponse::default();
        assert_eq!(client_throttle_ms(3, 12, &encoded(&zero, 12)), None);
        assert_eq!(
            client_throttle_ms(3, 12, &Bytes::from_static(b"\xff\xff\xff\xff")),
            None
        );
        assert_eq!(
            client_throttle_ms(3, 12, &Bytes::from_static(b"\x00")),
            None
        );
        assert_eq!(client_throttle_ms(0, 9, &Bytes::from_static(b"\x05")), None);
        assert_eq!(client_throttle_ms(36, 2, &encoded(&md, 12)), None);
    }
}
