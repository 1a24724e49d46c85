//! A minimal Kafka responder written in the test, over any byte stream, for
//! faults and transports a real broker will not produce on demand. It
//! answers ApiVersions (0-3, v0-shaped UNSUPPORTED_VERSION above) and
//! Metadata (1-12, empty), and runs a fault script on the n-th Metadata.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use rkafka_protocol::messages::api_versions_response::ApiVersion;
use rkafka_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse, RequestHeader,
};
use rkafka_protocol::{Message, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
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

fn api_versions_body(asked: i16) -> (BytesMut, i16) {
    let ours = [(18, 0, 3), (3, 1, 12)];
    let list = ours
        .iter()
        .map(|&(k, min, max)| {
            ApiVersion::default()
                .with_api_key(k)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect();
    let (resp, v) = if asked > 3 {
        (
            ApiVersionsResponse::default()
                .with_error_code(35)
                .with_api_keys(list),
            0,
        )
    } else {
        (ApiVersionsResponse::default().with_api_keys(list), asked)
    };
    let mut b = BytesMut::new();
    resp.encode(&mut b, v).unwrap();
    (b, v)
}

async fn write_response<S: AsyncWrite + Unpin>(
    s: &mut S,
    corr: i32,
    flexible_header: bool,
    body: &[u8],
) {
    let mut out = Vec::new();
    let len = 4 + usize::from(flexible_header) + body.len();
    out.extend_from_slice(&(len as i32).to_be_bytes());
    out.extend_from_slice(&corr.to_be_bytes());
    if flexible_header {
        out.push(0);
    }
    out.extend_from_slice(body);
    let _ = s.write_all(&out).await;
}

/// Serves one connection.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, fault: Fault) {
    loop {
        let Ok(size) = s.read_i32().await else { return };
        let mut v = vec![0; size as usize];
        if s.read_exact(&mut v).await.is_err() {
            return;
        }
        let mut buf = Bytes::from(v);
        let key = i16::from_be_bytes([buf[0], buf[1]]);
        let ver = i16::from_be_bytes([buf[2], buf[3]]);
        match key {
            18 => {
                let hv = ApiVersionsRequest::request_header_version(ver);
                let h = RequestHeader::decode(&mut buf, hv).unwrap();
                let (body, _) = api_versions_body(ver);
                write_response(&mut s, h.correlation_id, false, &body).await;
            }
            3 => {
                let h =
                    RequestHeader::decode(&mut buf, MetadataRequest::request_header_version(ver))
                        .unwrap();
                let corr = h.correlation_id.to_be_bytes();
                match fault {
                    Fault::None | Fault::Throttle => {
                        let throttle = if fault == Fault::Throttle {
                            THROTTLE_MS
                        } else {
                            0
                        };
                        let mut b = BytesMut::new();
                        MetadataResponse::default()
                            .with_controller_id(7)
                            .with_throttle_time_ms(throttle)
                            .encode(&mut b, ver)
                            .unwrap();
                        write_response(&mut s, h.correlation_id, ver >= 9, &b).await;
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
