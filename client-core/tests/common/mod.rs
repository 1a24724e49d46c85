//! A minimal Kafka responder written in the test, over any byte stream, for
//! faults and transports a real broker will not produce on demand. It
//! answers ApiVersions (0-3, v0-shaped UNSUPPORTED_VERSION above) and
//! Metadata (1-12, empty), and runs a fault script on the n-th Metadata.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rkafka_protocol::messages::{ApiVersionsRequest, MetadataRequest, MetadataResponse};
use rkafka_test_support::wire;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// What to do with a Metadata request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// Answer normally.
    None,
    /// Send bytes that are not a frame (negative size).
    Garbage,
    /// Announce a frame far larger than the client's limit.
    Oversized,
    /// Send half a frame, then close.
    Truncated,
    /// Close without answering.
    Close,
    /// Never answer.
    Silent,
    /// Answer with `throttle_time_ms` = [`THROTTLE_MS`] (KIP-219 quotas).
    Throttle,
}

/// The throttle time `Fault::Throttle` answers with.
pub const THROTTLE_MS: i32 = 400;

/// Counts connections and decides the fault per connection number (0-based).
pub struct Script {
    pub connections: AtomicUsize,
    pub fault_for: fn(usize) -> Fault,
}

/// Serves one connection.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, fault: Fault) {
    while let Some(mut f) = wire::read_frame(&mut s).await {
        let ver = f.version;
        match f.api_key {
            18 => {
                let corr = f.header::<ApiVersionsRequest>().correlation_id;
                let (resp, v) = wire::api_versions(&[(18, 0, 3), (3, 1, 12)], ver);
                wire::respond::<ApiVersionsRequest, _>(&mut s, corr, v, &resp).await;
            }
            3 => {
                let h = f.header::<MetadataRequest>();
                let corr = h.correlation_id.to_be_bytes();
                match fault {
                    Fault::None | Fault::Throttle => {
                        let throttle = if fault == Fault::Throttle {
                            THROTTLE_MS
                        } else {
                            0
                        };
                        let resp = MetadataResponse::default()
                            .with_controller_id(7)
                            .with_throttle_time_ms(throttle);
                        wire::respond::<MetadataRequest, _>(&mut s, h.correlation_id, ver, &resp)
                            .await;
                    }
                    Fault::Garbage => {
                        let _ = s.write_all(b"\xff\xff\xff\xf0not a kafka frame").await;
                    }
                    Fault::Oversized => {
                        let _ = s.write_all(&(512 * 1024 * 1024i32).to_be_bytes()).await;
                    }
                    Fault::Truncated => {
                        let mut out = 50i32.to_be_bytes().to_vec();
                        out.extend_from_slice(&corr);
                        out.extend_from_slice(b"partial");
                        let _ = s.write_all(&out).await;
                        return;
                    }
                    Fault::Close => return,
                    Fault::Silent => {
                        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                    }
                }
            }
            _ => return,
        }
    }
}

/// Starts a plaintext responder; connection n gets `script.fault_for(n)`.
pub async fn start(script: Arc<Script>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let n = script.connections.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(s, (script.fault_for)(n)));
        }
    });
    addr
}
pub mod sasl;
