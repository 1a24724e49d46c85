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
    for target in ["decode_response", "decode_request", "record_batches"] {
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
            RequestKind::arbitrary(key, &mut g, version)
                .encode(&mut req, version)
                .unwrap();
            let mut resp = head;
            ResponseKind::arbitrary(key, &mut g, version)
                .encode(&mut resp, version)
                .unwrap();
            let name = format!("{}_v{version}", key.name());
            std::fs::write(root.join("decode_request").join(&name), &req)?;
            std::fs::write(root.join("decode_response").join(&name), &resp)?;
        }
    }
    write_batch_seeds(&root.join("record_batches"))
}

/// Small batches of every codec, each twice: with CRC checks on and off.
fn write_batch_seeds(dir: &Path) -> std::io::Result<()> {
    use rkafka_protocol::records::{Compression, Header, NewRecord, RecordBatchBuilder};
    let headers = [
        Header::new("h", Some(&b"v"[..])),
        Header::new("n", None::<&[u8]>),
    ];
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let mut b = RecordBatchBuilder::new()
            .compression(codec)
            .producer(7, 1, 0);
        for i in 0..4u8 {
            let value = [i; 24];
            b.push(&NewRecord {
                timestamp: 1_700_000_000_000 + i64::from(i),
                key: (i % 2 == 0).then_some(&value[..3]),
                value: Some(&value),
                headers: if i == 1 { &headers } else { &[] },
            })
            .expect("seed record");
        }
        let batch = b.finish().expect("seed batch");
        for flag in [0u8, 1] {
            let mut seed = vec![flag];
            seed.extend_from_slice(&batch);
            // Two batches back to back and a cut-off third: the fetch shape.
            seed.extend_from_slice(&batch);
            seed.extend_from_slice(&batch[..batch.len() / 2]);
            std::fs::write(dir.join(format!("{codec:?}_{flag}")), seed)?;
        }
    }
    Ok(())
}
