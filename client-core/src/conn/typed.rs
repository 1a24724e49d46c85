//! Typed requests over a [`RawConnection`]: header encoding, version choice,
//! response decoding, and the ApiVersions negotiation every connection starts
//! with.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rkafka_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use rkafka_protocol::{ErrorCode, Message, Request};
use tracing::Instrument as _;

use crate::config::ConnectionConfig;
use crate::conn::handle::RawConnection;
use crate::conn::throttle;
use crate::conn::versions::{fallback_version, our_range, peek_error_code, ApiVersions, Features};
use crate::error::Error;

/// A connection that has negotiated versions (and authenticated, when SASL
/// is configured): the handle for typed requests. Cheap to clone.
#[derive(Clone, Debug)]
pub struct BrokerConnection {
    raw: RawConnection,
    versions: Arc<ApiVersions>,
    cfg: Arc<ConnectionConfig>,
}

impl BrokerConnection {
    pub(crate) fn new(
        raw: RawConnection,
        versions: Arc<ApiVersions>,
        cfg: Arc<ConnectionConfig>,
    ) -> Self {
        Self { raw, versions, cfg }
    }

    /// Sends `req` at the highest version both sides support.
    ///
    /// # Errors
    /// [`Error::UnsupportedVersion`] when the broker lacks the API or shares
    /// no version of it; the transport errors of [`RawConnection::send_frame`].
    ///
    /// # Cancel safety
    /// Cancel safe: a request dropped before it reached the wire is never
    /// sent; one already written has its response read and discarded.
    pub async fn send<R: Request>(&self, req: R) -> Result<R::Response, Error> {
        let version = self.version_for::<R>()?;
        self.send_version(req, version).await
    }

    /// Sends `req` at `version`, which the caller chose (it must lie in the
    /// broker's range or the broker will close the connection).
    ///
    /// # Cancel safety
    /// As [`Self::send`].
    pub async fn send_version<R: Request>(
        &self,
        req: R,
        version: i16,
    ) -> Result<R::Response, Error> {
        self.send_with_timeout(req, version, self.cfg.request_timeout)
            .await
    }

    /// Sends `req` at `version`, allowing `timeout` for the answer instead of
    /// `request.timeout.ms`: for long polls (Fetch with `max_wait_ms`,
    /// JoinGroup during a rebalance), whose answer legitimately takes longer.
    /// A request that reached the wire and is not answered in time fails the
    /// connection (see [`RawConnection::send_frame`]).
    ///
    /// # Cancel safety
    /// As [`Self::send`].
    pub async fn send_with_timeout<R: Request>(
        &self,
        req: R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, Error> {
        self.send_ref(&req, version, timeout).await
    }

    /// [`Self::send_with_timeout`] by reference, so a caller can resend the
    /// same request after [`Error::NotSent`] without cloning it.
    pub(crate) async fn send_ref<R: Request>(
        &self,
        req: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, Error> {
        send_typed(&self.raw, &self.cfg.client_id, req, version, timeout, true).await
    }

    /// Sends `req` at `version` for a request the broker does not answer
    /// (Produce with `acks=0`): returns once it is written.
    ///
    /// # Cancel safety
    /// As [`Self::send`].
    pub async fn send_unanswered<R: Request>(&self, req: &R, version: i16) -> Result<(), Error> {
        let frame = encode_request(req, version, &self.cfg.client_id)?;
        self.raw
            .send_frame(frame, false, self.cfg.request_timeout)
            .await
            .map(drop)
    }

    /// `request.timeout.ms`.
    pub(crate) fn request_timeout(&self) -> Duration {
        self.cfg.request_timeout
    }

    /// The version [`Self::send`] would use for `R`.
    pub fn version_for<R: Request>(&self) -> Result<i16, Error> {
        let ours = our_range(
            R::VERSIONS,
            R::LATEST_VERSION_UNSTABLE,
            self.cfg.allow_unstable_versions,
        );
        self.versions
            .pick(R::API_KEY.name(), R::API_KEY as i16, ours)
    }

    /// The broker's announced version ranges.
    pub fn api_versions(&self) -> &ApiVersions {
        &self.versions
    }

    /// The raw-frame layer, for requests this crate does not model.
    pub fn raw(&self) -> &RawConnection {
        &self.raw
    }

    /// The broker address.
    pub fn broker(&self) -> &str {
        self.raw.broker()
    }

    /// Whether the connection has failed or closed.
    pub fn is_closed(&self) -> bool {
        self.raw.is_closed()
    }
}

/// Encodes header + body (no size prefix) with correlation id 0; the writer
/// task fills in the real one.
pub(crate) fn encode_request<R: Request>(
    req: &R,
    version: i16,
    client_id: &str,
) -> Result<BytesMut, Error> {
    let what = || format!("{} v{version}", R::NAME);
    if !R::VERSIONS.contains(version) {
        return Err(Error::Encode {
            what: what(),
            source: rkafka_protocol::EncodeError::UnsupportedVersion {
                message: R::NAME,
                version,
            },
        });
    }
    let header_version = R::request_header_version(version);
    let header = RequestHeader::default()
        .with_request_api_key(R::API_KEY as i16)
        .with_request_api_version(version)
        .with_correlation_id(0)
        .with_client_id(Some(client_id.to_owned()));
    let mut buf =
        BytesMut::with_capacity(header.encoded_size(header_version) + req.encoded_size(version));
    header
        .encode(&mut buf, header_version)
        .map_err(|source| Error::Encode {
            what: what(),
            source,
        })?;
    req.encode(&mut buf, version)
        .map_err(|source| Error::Encode {
            what: what(),
            source,
        })?;
    Ok(buf)
}

/// Sends one typed request and decodes its response, in a tracing span.
pub(crate) async fn send_typed<R: Request>(
    raw: &RawConnection,
    client_id: &str,
    req: &R,
    version: i16,
    timeout: Duration,
    slotted: bool,
) -> Result<R::Response, Error> {
    let span = tracing::debug_span!(
        "kafka_request",
        api = R::API_KEY.name(),
        version,
        broker = raw.broker(),
        correlation_id = tracing::field::Empty,
    );
    // Recorded on this handle, not on `Span::current()`: that needs a
    // subscriber that tracks the current span, and not every one does.
    let this_span = span.clone();
    async move {
        let start = Instant::now();
        let frame = encode_request(req, version, client_id)?;
        let result = async {
            let mut resp = raw.send_frame_with(frame, timeout, slotted).await?;
            let what = || format!("{} v{version}", <R::Response as Message>::NAME);
            let header = ResponseHeader::decode(&mut resp, R::response_header_version(version))
                .map_err(|source| Error::Decode {
                    what: what(),
                    source,
                })?;
            this_span.record("correlation_id", header.correlation_id);
            if let Some(ms) = throttle::client_throttle_ms(R::API_KEY as i16, version, &resp) {
                tracing::debug!(throttle_time_ms = ms, "the broker throttles this client");
                raw.throttle(Duration::from_millis(u64::from(ms)));
            }
            decode_body::<R::Response>(&mut resp, version, &what())
        }
        .await;
        let elapsed_us = start.elapsed().as_micros() as u64;
        match &result {
            Ok(_) => tracing::debug!(elapsed_us, "response"),
            Err(e) => tracing::debug!(elapsed_us, error = %e, "request failed"),
        }
        result
    }
    .instrument(span)
    .await
}

fn decode_body<M: Message>(buf: &mut bytes::Bytes, version: i16, what: &str) -> Result<M, Error> {
    let body = M::decode(buf, version).map_err(|source| Error::Decode {
        what: what.to_owned(),
        source,
    })?;
    if !buf.is_empty() {
        // Newer brokers may append fields we do not know in non-flexible
        // versions only by bug; the body we understood is still valid.
        tracing::debug!(
            remaining = buf.len(),
            what,
            "ignored trailing bytes in response"
        );
    }
    Ok(body)
}

/// Turns an ApiVersions response into the version table, keeping the
/// supported and finalized features it announced.
pub(crate) fn table_from(resp: &ApiVersionsResponse) -> ApiVersions {
    let features = Features {
        finalized_epoch: resp.finalized_features_epoch,
        finalized: resp
            .finalized_features
            .iter()
            .map(|f| (f.name.clone(), f.max_version_level))
            .collect(),
        supported: resp
            .supported_features
            .iter()
            .filter(|f| f.min_version <= f.max_version)
            .map(|f| {
                let range = rkafka_protocol::VersionRange {
                    min: f.min_version,
                    max: f.max_version,
                };
                (f.name.clone(), range)
            })
            .collect(),
    };
    ApiVersions::from_ranges(
        resp.api_keys
            .iter()
            .map(|k| (k.api_key, k.min_version, k.max_version)),
    )
    .with_features(features)
}

/// Decodes an ApiVersions response body sent in answer to version `asked`.
///
/// When the broker does not support `asked`, it answers UNSUPPORTED_VERSION
/// with a v0-shaped body (so older clients can read it): the error code is
/// peeked first to pick the version to decode with.
pub(crate) fn decode_api_versions(
    body: &mut bytes::Bytes,
    asked: i16,
) -> Result<ApiVersionsResponse, Error> {
    let version = match peek_error_code(body) {
        Some(code) if code == ErrorCode::UNSUPPORTED_VERSION.code() => 0,
        _ => asked,
    };
    let whole = body.clone();
    match decode_body(body, version, &format!("ApiVersionsResponse v{version}")) {
        // librdkafka's mock cluster answers UNSUPPORTED_VERSION in the
        // asked (flexible) shape instead of v0; Java reads it at the asked
        // version then, and so do we.
        Err(e) if version != asked => {
            *body = whole;
            decode_body(body, asked, &format!("ApiVersionsResponse v{asked}")).map_err(|_| e)
        }
        r => r,
    }
}

/// Runs the ApiVersions exchange: highest stable version first, falling back
/// once to the version the broker names when it answers UNSUPPORTED_VERSION.
pub(crate) async fn negotiate(
    raw: &RawConnection,
    cfg: &ConnectionConfig,
) -> Result<ApiVersions, Error> {
    let ours = our_range(
        ApiVersionsRequest::VERSIONS,
        ApiVersionsRequest::LATEST_VERSION_UNSTABLE,
        cfg.allow_unstable_versions,
    );
    let req = ApiVersionsRequest::default()
        .with_client_software_name(cfg.client_software_name.clone())
        .with_client_software_version(cfg.client_software_version.clone());
    let mut version = ours.max;
    loop {
        let span = tracing::debug_span!("api_versions", broker = raw.broker(), version);
        let frame = encode_request(&req, version, &cfg.client_id)?;
        let mut resp = raw
            .send_frame(frame, true, cfg.request_timeout)
            .instrument(span)
            .await?;
        // ApiVersions responses always use header v0, whatever the version.
        ResponseHeader::decode(&mut resp, 0).map_err(|source| Error::Decode {
            what: "ApiVersions response header".into(),
            source,
        })?;
        let body = decode_api_versions(&mut resp, version)?;
        let table = table_from(&body);
        match ErrorCode::from(body.error_code) {
            code if code.is_ok() => return Ok(table),
            code if code == ErrorCode::UNSUPPORTED_VERSION => {
                match fallback_version(&table, ours.max, version) {
                    Some(v) => {
                        tracing::debug!(
                            broker = raw.broker(),
                            from = version,
                            to = v,
                            "ApiVersions fallback"
                        );
                        version = v;
                    }
                    None => {
                        return Err(Error::UnsupportedVersion {
                            api: "ApiVersions",
                            ours,
                            theirs: table.broker_range(ApiVersionsRequest::API_KEY as i16),
                        })
                    }
                }
            }
            code => {
                return Err(Error::Protocol {
                    reason: format!("ApiVersions failed with {} ({})", code.name(), code.code()),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, Bytes};

    #[test]
    fn unsupported_version_answer_is_decoded_as_v0() {
        // The v0-shaped body a broker sends for a v4 request it cannot read:
        // error 35, one listed API (ApiVersions 0-2).
        let mut b = BytesMut::new();
        b.put_i16(35);
        b.put_i32(1);
        b.put_i16(18);
        b.put_i16(0);
        b.put_i16(2);
        let mut body: Bytes = b.freeze();
        let resp = decode_api_versions(&mut body, 4).unwrap();
        assert_eq!(resp.error_code, 35);
        let table = table_from(&resp);
        assert_eq!(fallback_version(&table, 4, 4), Some(2));
    }

    #[test]
    fn unsupported_version_in_the_asked_shape_is_read_too() {
        // librdkafka 2.16's mock answers a v3 request like this: error 35,
        // compact array of zero keys, throttle, no tags, then stray bytes.
        let mut body = Bytes::from_static(&[
            0x00, 0x23, 0x01, 0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
        ]);
        let resp = decode_api_versions(&mut body, 3).unwrap();
        assert_eq!(resp.error_code, 35);
        assert_eq!(fallback_version(&table_from(&resp), 3, 3), Some(0));
    }

    #[test]
    fn features_are_kept_from_a_v3_answer() {
        use rkafka_protocol::messages::api_versions_response::{
            ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
        };
        use rkafka_protocol::Message;
        let resp = ApiVersionsResponse::default()
            .with_api_keys(vec![ApiVersion::default()
                .with_api_key(0)
                .with_min_version(3)
                .with_max_version(12)])
            .with_supported_features(vec![SupportedFeatureKey::default()
                .with_name("transaction.version".into())
                .with_min_version(0)
                .with_max_version(2)])
            .with_finalized_features_epoch(7)
            .with_finalized_features(vec![FinalizedFeatureKey::default()
                .with_name("transaction.version".into())
                .with_min_version_level(2)
                .with_max_version_level(2)]);
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 3).unwrap();
        let mut body = buf.freeze();
        let table = table_from(&decode_api_versions(&mut body, 3).unwrap());
        let f = table.features();
        assert_eq!(f.finalized_epoch, 7);
        assert_eq!(f.finalized("transaction.version"), Some(2));
        assert_eq!(f.finalized("group.version"), None);
        assert_eq!(
            f.supported["transaction.version"],
            rkafka_protocol::VersionRange { min: 0, max: 2 }
        );
        // Below v3 nothing is announced: no finalized level, epoch unknown.
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 2).unwrap();
        let mut body = buf.freeze();
        let old = table_from(&decode_api_versions(&mut body, 2).unwrap());
        assert_eq!(old.features().finalized_epoch, -1);
        assert_eq!(old.features().finalized("transaction.version"), None);
        assert_eq!(old.broker_range(0).map(|r| r.max), Some(12));
    }

    #[test]
    fn request_header_carries_key_version_and_client_id() {
        let req = ApiVersionsRequest::default();
        let frame = encode_request(&req, 2, "cid").unwrap();
        // api key 18, version 2, correlation 0, client id "cid", empty body.
        assert_eq!(
            &frame[..],
            &[0, 18, 0, 2, 0, 0, 0, 0, 0, 3, b'c', b'i', b'd']
        );
        assert!(encode_request(&req, 99, "cid").is_err());
    }
}
