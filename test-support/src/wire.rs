//! Kafka framing for responders written in a test: read a request frame,
//! decode its header, write an answer.

use bytes::{Bytes, BytesMut};
use rkafka_protocol::messages::api_versions_response::ApiVersion;
use rkafka_protocol::messages::{ApiVersionsResponse, RequestHeader};
use rkafka_protocol::{Message, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// One request as it arrived: its API key and version, and its bytes from
/// the request header on.
#[derive(Debug)]
pub struct Frame {
    /// The request's API key.
    pub api_key: i16,
    /// The request's version.
    pub version: i16,
    /// The request header and body, not yet decoded.
    pub buf: Bytes,
}

impl Frame {
    /// Decodes the request header (as request `R` at this version), leaving
    /// the body in [`Frame::buf`].
    pub fn header<R: Request>(&mut self) -> RequestHeader {
        RequestHeader::decode(&mut self.buf, R::request_header_version(self.version))
            .expect("a request header")
    }

    /// Decodes the header and the body as request `R`; returns the header's
    /// correlation id and the request.
    pub fn request<R: Request>(&mut self) -> (i32, R) {
        let header = self.header::<R>();
        let request = R::decode(&mut self.buf, self.version).expect("a request body");
        (header.correlation_id, request)
    }
}

/// Reads the next request frame; `None` once the stream ends or breaks.
pub async fn read_frame<S: AsyncRead + Unpin>(s: &mut S) -> Option<Frame> {
    let size = s.read_i32().await.ok()?;
    let mut v = vec![0; size.max(0) as usize];
    s.read_exact(&mut v).await.ok()?;
    let buf = Bytes::from(v);
    Some(Frame {
        api_key: i16::from_be_bytes([buf[0], buf[1]]),
        version: i16::from_be_bytes([buf[2], buf[3]]),
        buf,
    })
}

/// Writes one response frame: size, correlation id, an empty tagged-field
/// section when `flexible_header` (response header v1), then `body`.
/// Write errors are ignored (the client may have gone).
pub async fn write_frame<S: AsyncWrite + Unpin>(
    s: &mut S,
    correlation_id: i32,
    flexible_header: bool,
    body: &[u8],
) {
    let mut out = Vec::new();
    let len = 4 + usize::from(flexible_header) + body.len();
    out.extend_from_slice(&(len as i32).to_be_bytes());
    out.extend_from_slice(&correlation_id.to_be_bytes());
    if flexible_header {
        out.push(0);
    }
    out.extend_from_slice(body);
    let _ = s.write_all(&out).await;
}

/// Encodes `body` at `version` and writes it as the answer to request `R`,
/// with the response header version `R` uses there.
pub async fn respond<R: Request, S: AsyncWrite + Unpin>(
    s: &mut S,
    correlation_id: i32,
    version: i16,
    body: &impl Message,
) {
    let mut b = BytesMut::new();
    body.encode(&mut b, version).expect("an encodable response");
    let flexible = R::response_header_version(version) >= 1;
    write_frame(s, correlation_id, flexible, &b).await;
}

/// The ApiVersions answer to a request at version `asked`, listing `apis`
/// as (api key, min version, max version), and the version to encode it
/// at: as asked up to 3, else UNSUPPORTED_VERSION at v0, as a broker does.
pub fn api_versions(apis: &[(i16, i16, i16)], asked: i16) -> (ApiVersionsResponse, i16) {
    let list = apis
        .iter()
        .map(|&(k, min, max)| {
            ApiVersion::default()
                .with_api_key(k)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect();
    let resp = ApiVersionsResponse::default().with_api_keys(list);
    if asked > 3 {
        (resp.with_error_code(35), 0)
    } else {
        (resp, asked)
    }
}
