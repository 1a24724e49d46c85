//! The SASL exchange on the wire (SaslHandshake v1 + SaslAuthenticate) and
//! re-authentication before the session expires (KIP-368).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng as _;
use rkafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use rkafka_protocol::{ErrorCode, Message, Request};

use crate::config::ConnectionConfig;
use crate::conn::handle::{RawConnection, WeakRawConnection};
use crate::conn::typed::send_typed;
use crate::conn::versions::{our_range, ApiVersions};
use crate::error::{Error, SaslError};
use crate::sasl::{SaslConfig, Step};

fn pick<R: Request>(versions: &ApiVersions, cfg: &ConnectionConfig) -> Result<i16, Error> {
    let ours = our_range(
        R::VERSIONS,
        R::LATEST_VERSION_UNSTABLE,
        cfg.allow_unstable_versions,
    );
    versions.pick(R::API_KEY.name(), R::API_KEY as i16, ours)
}

/// Authenticates `raw` with `sasl`; returns the session lifetime when the
/// broker announced one (re-authentication is then due before it ends).
///
/// `slotted == false` is for re-authentication: the caller already holds
/// every in-flight slot, so no other request interleaves with the exchange.
pub(crate) async fn authenticate(
    raw: &RawConnection,
    versions: &ApiVersions,
    cfg: &ConnectionConfig,
    sasl: &SaslConfig,
    slotted: bool,
) -> Result<Option<Duration>, Error> {
    let mechanism = sasl.mechanism();
    // SaslHandshake v0 means raw (unframed) SASL tokens, which predate
    // SaslAuthenticate; every broker since Kafka 1.0 supports v1.
    let hs_version = pick::<SaslHandshakeRequest>(versions, cfg)?;
    if hs_version < 1 {
        return Err(Error::UnsupportedVersion {
            api: SaslHandshakeRequest::NAME,
            ours: rkafka_protocol::VersionRange {
                min: 1,
                max: SaslHandshakeRequest::VERSIONS.max,
            },
            theirs: versions.broker_range(SaslHandshakeRequest::API_KEY as i16),
        });
    }
    let auth_version = pick::<SaslAuthenticateRequest>(versions, cfg)?;
    let send_timeout = cfg.request_timeout;
    let hs = send_typed(
        raw,
        &cfg.client_id,
        &SaslHandshakeRequest::default().with_mechanism(mechanism.to_owned()),
        hs_version,
        send_timeout,
        slotted,
    )
    .await?;
    match ErrorCode::from(hs.error_code) {
        c if c.is_ok() => {}
        c if c == ErrorCode::UNSUPPORTED_SASL_MECHANISM => {
            return Err(SaslError::MechanismNotEnabled {
                mechanism: mechanism.into(),
                enabled: hs.mechanisms,
            }
            .into())
        }
        c => {
            return Err(SaslError::AuthenticationFailed {
                mechanism: mechanism.into(),
                message: Some(format!("SaslHandshake failed with {}", c.name())),
            }
            .into())
        }
    }
    let (mut exchange, mut message) = sasl.start().await?;
    loop {
        let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(message));
        let resp = send_typed(
            raw,
            &cfg.client_id,
            &req,
            auth_version,
            send_timeout,
            slotted,
        )
        .await?;
        if resp.error_code != 0 {
            let broker_msg = resp.error_message.filter(|m| !m.is_empty());
            return Err(SaslError::AuthenticationFailed {
                mechanism: mechanism.into(),
                message: broker_msg.or_else(|| exchange.server_error().map(str::to_owned)),
            }
            .into());
        }
        match exchange.step(&resp.auth_bytes)? {
            Step::Send(next) => message = next,
            Step::Done => {
                let ms = resp.session_lifetime_ms;
                return Ok((ms > 0).then(|| Duration::from_millis(ms as u64)));
            }
        }
    }
}

/// When to re-authenticate: at a random point between 85 % and 95 % of the
/// session lifetime, like the Java client, so that many connections
/// authenticated together do not all re-authenticate together.
pub(crate) fn reauth_delay(lifetime: Duration) -> Duration {
    lifetime.mul_f64(rand::rng().random_range(0.85..0.95))
}

/// Re-authenticates the connection before each session ends, between
/// requests: it waits until no request is in flight and holds new ones back
/// (by taking every in-flight slot) while the exchange runs. A failure
/// poisons the connection, which the broker would close at expiry anyway.
pub(crate) fn spawn_reauth(
    conn: WeakRawConnection,
    versions: Arc<ApiVersions>,
    cfg: Arc<ConnectionConfig>,
    first_lifetime: Duration,
) {
    tokio::spawn(async move {
        let Some(sasl) = cfg.sasl.clone() else { return };
        let mut lifetime = first_lifetime;
        loop {
            tokio::select! {
                () = tokio::time::sleep(reauth_delay(lifetime)) => {}
                () = conn.closed() => return,
            }
            let Some(raw) = conn.upgrade() else { return };
            let Ok(_all_slots) = raw.exclusive().await else {
                return;
            };
            match authenticate(&raw, &versions, &cfg, &sasl, false).await {
                Ok(Some(next)) => {
                    tracing::debug!(
                        broker = raw.broker(),
                        lifetime_ms = next.as_millis() as u64,
                        "re-authenticated"
                    );
                    lifetime = next;
                }
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(broker = raw.broker(), error = %e, "re-authentication failed; closing connection");
                    raw.poison(e);
                    return;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reauth_between_85_and_95_percent() {
        let l = Duration::from_secs(100);
        for _ in 0..1000 {
            let d = reauth_delay(l);
            assert!(
                d >= Duration::from_secs(85) && d < Duration::from_secs(95),
                "{d:?}"
            );
        }
    }
}
