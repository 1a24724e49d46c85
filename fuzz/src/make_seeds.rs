//! Writes the seed corpus (`fuzz/seeds/<target>/`): a few valid messages of
//! every API and version, in the targets' input layout, so fuzzing starts
//! from inputs that reach deep into each decoder.

use std::path::Path;

use bytes::BytesMut;
use rkafka_protocol::arbitrary::Gen;
use rkafka_protocol::messages::{RequestKind, ResponseKind};
use rkafka_protocol::ApiKey;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    for target in ["decode_response", "decode_request"] {
        std::fs::create_dir_all(root.join(target))?;
    }
    let mut g = Gen::new(7);
    for key in ApiKey::ALL {
        let v = RequestKind::versions(key);
        for version in v.min..=v.max {
            let mut head = BytesMut::new();
            head.extend_from_slice(&(key as i16).to_be_bytes());
            head.extend_from_slice(&version.to_be_bytes());
            let mut req = head.clone();
            RequestKind::arbitrary(key, &mut g, version).encode(&mut req, version).unwrap();
            let mut resp = head;
            ResponseKind::arbitrary(key, &mut g, version).encode(&mut resp, version).unwrap();
            let name = format!("{}_v{version}", key.name());
            std::fs::write(root.join("decode_request").join(&name), &req)?;
            std::fs::write(root.join("decode_response").join(&name), &resp)?;
        }
    }
    Ok(())
}
