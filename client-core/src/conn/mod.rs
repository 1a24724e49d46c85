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
//! - `throttle`: where responses carry `throttle_time_ms` and when the
//!   client must honour it (KIP-219).
//!
//! # Invariants
//! The code relies on these; a change that breaks one breaks the stream.
//!
//! 1. **Whole frames only.** Only the writer task writes, and it writes a
//!    frame to the end once it has taken it from the queue; a caller's
//!    future never owns a write, so cancelling it cannot cut a frame.
//! 2. **Register before write.** The writer hands the reader a request's
//!    pending entry before writing the request, so its response can never
//!    arrive unexpected.
//! 3. **FIFO answers.** Kafka answers one connection's requests in order; a
//!    response whose correlation id is not the oldest pending one is a
//!    protocol error and poisons the connection.
//! 4. **Slots live with the request.** The in-flight permit moves from the
//!    caller into the pending entry and is released when the response
//!    arrives (or the connection dies), never when the caller gives up: an
//!    orphaned response is read and dropped, and the broker's limit holds.
//! 5. **First failure wins.** The first error is stored once (`OnceLock`)
//!    and the shared token cancelled; both tasks stop, every waiter gets
//!    that error, and callers learn whether their request was written
//!    ([`crate::Error::NotSent`] when it certainly was not).
//! 6. **A stuck broker ends the connection.** A written request unanswered
//!    within its timeout fails the connection, as Java does on
//!    `request.timeout.ms`, instead of leaving its slot taken for good.
//! 7. **Re-authentication runs between requests.** It takes every in-flight
//!    slot first, so it starts only when nothing is in flight and nothing
//!    interleaves with the SASL exchange.
//! 8. **No lock between handle and tasks.** Handles talk to the tasks by
//!    channels; the only shared state is the token, the write-once cause and
//!    an atomic throttle deadline.
//! 9. **Throttling delays writes, not answers.** A typed response asking the
//!    client to throttle (KIP-219) raises the connection's throttle deadline;
//!    the writer holds every request not yet written until then, so the
//!    broker sees nothing from us while it throttles, and responses already
//!    on their way are still read.

pub(crate) mod auth;
mod handle;
mod inflight;
mod io;
mod throttle;
pub(crate) mod typed;
pub mod versions;

pub use self::handle::{ConnOptions, RawConnection};
pub use self::typed::BrokerConnection;
pub use self::versions::{ApiVersions, Features};
