//! Broker connections: one reader task and one writer task per connection,
//! driven through cloneable handles.
//!
//! - [`RawConnection`]: the channel-based handle moving raw frames, with
//!   pipelining, correlation ids, timeouts and poisoning.
//! - [`BrokerConnection`]: typed requests at negotiated versions over it.
//! - `io`: the reader and writer tasks and the size-prefixed framing.
//! - `inflight`: the FIFO of requests awaiting responses.
//! - [`versions`]: the broker's version table and the version choice.
//! - `auth`: the SASL exchange and re-authentication (KIP-368).

pub(crate) mod auth;
mod handle;
mod inflight;
mod io;
pub(crate) mod typed;
pub mod versions;

pub use self::handle::{ConnOptions, RawConnection};
pub use self::typed::BrokerConnection;
pub use self::versions::ApiVersions;
