//! Broker connections: one reader task and one writer task per connection,
//! driven through a cloneable handle.
//!
//! - [`handle`]: [`RawConnection`], the channel-based handle moving raw frames.
//! - `io`: the reader and writer tasks and the size-prefixed framing.
//! - `inflight`: the FIFO of requests awaiting responses.

mod handle;
mod inflight;
mod io;
pub mod versions;

pub use self::handle::{ConnOptions, RawConnection};
pub use self::versions::ApiVersions;
