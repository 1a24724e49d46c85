//! Any bytes, read as a request of any API at any version: decoding must
//! return a value or an error, never panic, hang or allocate beyond its
//! input; and a decoded value must re-encode, and those bytes must decode and encode to themselves.
//!
//! Input layout: API key (i16 BE), version (i16 BE), body.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use rkafka_protocol::messages::RequestKind;
use rkafka_protocol::ApiKey;

fuzz_target!(|data: &[u8]| {
    let Some((key, version, body)) = split(data) else {
        return;
    };
    let mut input = Bytes::copy_from_slice(body);
    if let Ok(msg) = RequestKind::decode(key, &mut input, version) {
        // Compare bytes, not values: a float field may hold NaN.
        let mut first = BytesMut::new();
        msg.encode(&mut first, version)
            .expect("a decoded request re-encodes");
        assert_eq!(first.len(), msg.encoded_size(version));
        let first = first.freeze();
        let again = RequestKind::decode(key, &mut first.clone(), version).expect("re-decodes");
        let mut second = BytesMut::new();
        again
            .encode(&mut second, version)
            .expect("re-encodes again");
        assert_eq!(second.freeze(), first);
    }
});

fn split(data: &[u8]) -> Option<(ApiKey, i16, &[u8])> {
    let (head, body) = data.split_at_checked(4)?;
    let key = ApiKey::try_from(i16::from_be_bytes([head[0], head[1]])).ok()?;
    Some((key, i16::from_be_bytes([head[2], head[3]]), body))
}
