//! The handle to a connection's tasks: a command channel, a slot semaphore
//! and the shared token. Cloning is cheap; the connection closes when the
//! last clone is dropped.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::conn::io::{self, Command, Shared};
use crate::error::Error;
use crate::net::transport::BoxStream;

/// Tuning of one connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnOptions {
    /// `max.in.flight.requests.per.connection`: requests written but not yet
    /// answered. Further callers wait for a slot.
    pub max_in_flight: usize,
    /// The largest response frame accepted; larger ones poison the connection
    /// before anything is allocated for them.
    pub max_response_size: usize,
    /// `connections.max.idle.ms`: close after this long without traffic.
    pub idle_timeout: Option<Duration>,
}

impl Default for ConnOptions {
    fn default() -> Self {
        Self {
            max_in_flight: 5,
            max_response_size: 100 * 1024 * 1024,
            idle_timeout: Some(Duration::from_millis(540_000)),
        }
    }
}

/// A connection to one broker that moves raw frames: the layer below typed
/// requests, and the escape hatch for requests this crate does not model.
///
/// Requests are pipelined up to `max_in_flight`; responses are matched by
/// correlation id, which the connection assigns.
#[derive(Clone, Debug)]
pub struct RawConnection {
    inner: Arc<Inner>,
}

/// A [`RawConnection`] reference that lets the connection close when every
/// strong handle is gone (for background tasks such as re-authentication).
#[derive(Clone, Debug)]
pub(crate) struct WeakRawConnection {
    inner: std::sync::Weak<Inner>,
    token: tokio_util::sync::CancellationToken,
}

impl WeakRawConnection {
    pub(crate) fn upgrade(&self) -> Option<RawConnection> {
        self.inner.upgrade().map(|inner| RawConnection { inner })
    }

    /// Resolves when the connection dies.
    pub(crate) async fn closed(&self) {
        self.token.cancelled().await
    }
}

#[derive(Debug)]
struct Inner {
    commands: mpsc::Sender<Command>,
    slots: Arc<Semaphore>,
    shared: Arc<Shared>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone: stop the tasks rather than wait for the
        // writer to notice the closed channel after the idle timeout.
        self.shared.token.cancel();
    }
}

impl RawConnection {
    /// Starts the reader and writer tasks over `stream`.
    ///
    /// Must be called within a Tokio runtime.
    pub fn spawn(stream: BoxStream, broker: impl Into<String>, opts: ConnOptions) -> Self {
        let max_in_flight = opts.max_in_flight.max(1);
        let shared = Arc::new(Shared::new(broker.into()));
        let slots = Arc::new(Semaphore::new(max_in_flight));
        let (cmd_tx, cmd_rx) = mpsc::channel(max_in_flight);
        let (reg_tx, reg_rx) = mpsc::unbounded_channel();
        let (rd, wr) = tokio::io::split(stream);
        tokio::spawn(io::reader(
            rd,
            reg_rx,
            shared.clone(),
            opts.max_response_size,
        ));
        tokio::spawn(io::writer(
            wr,
            cmd_rx,
            reg_tx,
            shared.clone(),
            slots.clone(),
            max_in_flight,
            opts.idle_timeout,
        ));
        Self {
            inner: Arc::new(Inner {
                commands: cmd_tx,
                slots,
                shared,
            }),
        }
    }

    /// The broker address.
    pub fn broker(&self) -> &str {
        &self.inner.shared.broker
    }

    /// How many requests hold an in-flight slot right now (sent or being
    /// sent, awaiting their response): the load used to pick the least
    /// loaded broker for requests any broker can answer.
    pub fn in_flight(&self) -> usize {
        self.max_in_flight()
            .saturating_sub(self.inner.slots.available_permits())
    }

    /// Whether the connection has failed or closed.
    pub fn is_closed(&self) -> bool {
        self.inner.shared.token.is_cancelled()
    }

    /// Resolves when the connection has failed or closed.
    ///
    /// # Cancel safety
    /// Cancel safe: it only observes.
    pub async fn closed(&self) {
        self.inner.shared.token.cancelled().await
    }

    /// The error requests on this connection fail with once it is dead.
    pub fn close_reason(&self) -> Option<Error> {
        self.is_closed().then(|| self.inner.shared.dead_error())
    }

    /// Closes the connection; waiting requests fail with `ConnectionClosed`.
    pub fn close(&self) {
        self.inner.shared.poison(Error::ConnectionClosed {
            broker: self.inner.shared.broker.clone(),
        });
    }

    /// Sends one request frame (request header + body, no size prefix) and
    /// waits up to `timeout` for its response frame (response header + body,
    /// no size prefix). The correlation id in the frame (bytes 4..8) is
    /// replaced by the connection's. With `expect_response == false`
    /// (Produce with acks=0) it resolves to an empty `Bytes` once written.
    ///
    /// If the request was written and no response arrives within
    /// `timeout`, the broker is presumed stuck (as the Java client presumes
    /// on `request.timeout.ms`): the connection fails, every waiter gets the
    /// timeout, and the next request reconnects. Long-polling requests
    /// (Fetch) must pass a timeout beyond their wait time.
    ///
    /// # Cancel safety
    /// Cancel safe: if the future is dropped before the writer takes the
    /// request, it is never sent; once taken it is written whole and its
    /// response is read and discarded, so the stream stays in step and the
    /// in-flight slot is freed when that response arrives.
    pub async fn send_frame(
        &self,
        frame: BytesMut,
        expect_response: bool,
        timeout: Duration,
    ) -> Result<Bytes, Error> {
        if frame.len() < 8 {
            return Err(Error::Protocol {
                reason: format!("request frame of {} bytes lacks a header", frame.len()),
            });
        }
        let what = || {
            let key = i16::from_be_bytes([frame[0], frame[1]]);
            let ver = i16::from_be_bytes([frame[2], frame[3]]);
            format!("request (api key {key} v{ver}) to broker {}", self.broker())
        };
        let what = what();
        tokio::time::timeout(
            timeout,
            self.send_inner(frame, expect_response, true, timeout),
        )
        .await
        .map_err(|_| Error::Timeout {
            what,
            after: timeout,
        })?
    }

    /// Like [`Self::send_frame`]; `slotted == false` skips taking an
    /// in-flight slot, for the re-authentication exchange, which runs while
    /// its caller holds every slot (see [`Self::exclusive`]).
    pub(crate) async fn send_frame_with(
        &self,
        frame: BytesMut,
        timeout: Duration,
        slotted: bool,
    ) -> Result<Bytes, Error> {
        if slotted {
            return self.send_frame(frame, true, timeout).await;
        }
        tokio::time::timeout(timeout, self.send_inner(frame, true, false, timeout))
            .await
            .map_err(|_| Error::Timeout {
                what: format!("re-authentication with broker {}", self.broker()),
                after: timeout,
            })?
    }

    /// Holds back requests not yet written for `wait` (a broker's
    /// `throttle_time_ms`, KIP-219).
    pub(crate) fn throttle(&self, wait: Duration) {
        self.inner.shared.throttle(wait);
    }

    /// Fails the connection with `e`: every waiter gets it.
    pub(crate) fn poison(&self, e: Error) {
        self.inner.shared.poison(e);
    }

    /// A handle that does not keep the connection open.
    pub(crate) fn downgrade(&self) -> WeakRawConnection {
        WeakRawConnection {
            inner: Arc::downgrade(&self.inner),
            token: self.inner.shared.token.clone(),
        }
    }

    /// Takes every in-flight slot: resolves once no request is in flight and
    /// keeps new ones out until the returned permit is dropped.
    pub(crate) async fn exclusive(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Error> {
        let n = self.inner.slots.clone();
        let total = u32::try_from(self.max_in_flight()).unwrap_or(u32::MAX);
        tokio::select! {
            p = n.acquire_many_owned(total) => p.map_err(|_| self.inner.shared.dead_error()),
            () = self.closed() => Err(self.inner.shared.dead_error()),
        }
    }

    fn max_in_flight(&self) -> usize {
        self.inner.commands.max_capacity()
    }

    async fn send_inner(
        &self,
        frame: BytesMut,
        expect_response: bool,
        slotted: bool,
        timeout: Duration,
    ) -> Result<Bytes, Error> {
        let shared = &self.inner.shared;
        let permit = if slotted {
            let permit = tokio::select! {
                p = self.inner.slots.clone().acquire_owned() => p,
                () = shared.token.cancelled() => return Err(shared.not_sent_error()),
            };
            Some(permit.map_err(|_| shared.not_sent_error())?)
        } else {
            None
        };
        let (tx, rx) = oneshot::channel();
        let cmd = Command {
            frame,
            expect_response,
            reply: tx,
            permit,
            timeout: Some(timeout),
        };
        self.inner
            .commands
            .send(cmd)
            .await
            .map_err(|_| shared.not_sent_error())?;
        match rx.await {
            Ok(r) => r,
            // The tasks dropped the request without answering: they died.
            Err(_) => Err(shared.dead_error()),
        }
    }
}
