//! The two tasks that own a broker connection: the writer puts request frames
//! on the wire, the reader takes response frames off it and routes them.
//!
//! # Why two tasks and one token
//! Each task owns its half of the socket, so a slow read never delays a write
//! and no lock guards either half. The two are joined by one
//! [`CancellationToken`]: whichever fails first records the cause and cancels
//! it, and the other stops too. Without that, a reader that hit EOF or a
//! framing error would exit while the writer kept accepting requests whose
//! responses nobody reads, and a writer that hit a write error would leave
//! the reader parked on `read` of a half-open socket: in both cases callers
//! would wait forever. With it, every waiter gets the error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::conn::inflight::{InFlight, Pending};
use crate::error::Error;
use crate::net::transport::BoxStream;

/// State shared by the handle and both tasks: a token, a write-once cell
/// and an atomic throttle deadline, never a lock.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) broker: String,
    pub(crate) token: CancellationToken,
    cause: OnceLock<Arc<Error>>,
    /// When the connection was made: the origin of `throttled_until_ms`.
    epoch: Instant,
    /// Until when (ms after `epoch`) the broker asked us to send nothing
    /// (KIP-219); only ever raised.
    throttled_until_ms: AtomicU64,
}

impl Shared {
    pub(crate) fn new(broker: String) -> Self {
        Self {
            broker,
            token: CancellationToken::new(),
            cause: OnceLock::new(),
            epoch: Instant::now(),
            throttled_until_ms: AtomicU64::new(0),
        }
    }

    /// Holds back every request not yet written for `wait` from now (or
    /// longer, when an earlier throttle ends later).
    pub(crate) fn throttle(&self, wait: Duration) {
        let until = (self.epoch.elapsed() + wait).as_millis();
        let until = u64::try_from(until).unwrap_or(u64::MAX);
        self.throttled_until_ms.fetch_max(until, Ordering::Relaxed);
    }

    /// How long requests must still be held back, if at all.
    fn throttle_remaining(&self) -> Option<Duration> {
        let until = Duration::from_millis(self.throttled_until_ms.load(Ordering::Relaxed));
        until
            .checked_sub(self.epoch.elapsed())
            .filter(|d| !d.is_zero())
    }

    /// Records the first failure and stops both tasks.
    pub(crate) fn poison(&self, e: Error) {
        let _ = self.cause.set(Arc::new(e));
        self.token.cancel();
    }

    /// The error for a request the dead connection never wrote.
    pub(crate) fn not_sent_error(&self) -> Error {
        Error::NotSent {
            cause: Arc::new(self.dead_error()),
        }
    }

    /// The error every request on a dead connection fails with.
    pub(crate) fn dead_error(&self) -> Error {
        match self.cause.get() {
            Some(cause) => match cause.as_ref() {
                Error::ConnectionClosed { .. } => (**cause).clone(),
                _ => Error::ConnectionPoisoned {
                    cause: cause.clone(),
                },
            },
            None => Error::ConnectionClosed {
                broker: self.broker.clone(),
            },
        }
    }
}

/// A request for the writer.
#[derive(Debug)]
pub(crate) struct Command {
    /// Request header + body without the size prefix; bytes 4..8 (the
    /// correlation id) are overwritten by the writer.
    pub(crate) frame: BytesMut,
    /// False for requests the broker does not answer (Produce with acks=0).
    pub(crate) expect_response: bool,
    pub(crate) reply: oneshot::Sender<Result<Bytes, Error>>,
    pub(crate) permit: Option<OwnedSemaphorePermit>,
    /// How long the broker has to answer once the request is written.
    pub(crate) timeout: Option<Duration>,
}

/// Check-then-parse framing: a frame is taken only once all of it is
/// buffered, and its size is checked before any room is made for it.
pub(crate) fn decode_frame(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, Error> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if size < 4 {
        // Every response starts with a 4-byte correlation id.
        return Err(Error::Protocol {
            reason: format!("response frame size {size} is too small"),
        });
    }
    let size = size as usize;
    if size > max {
        return Err(Error::FrameTooLarge { size, max });
    }
    if buf.len() < 4 + size {
        buf.reserve(4 + size - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(size).freeze()))
}

/// Reads frames and hands each to the oldest waiting request.
pub(crate) async fn reader(
    mut rd: ReadHalf<BoxStream>,
    mut registrations: mpsc::UnboundedReceiver<Pending>,
    shared: Arc<Shared>,
    max_frame: usize,
) {
    let mut inflight = InFlight::default();
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let failure = loop {
        match decode_frame(&mut buf, max_frame) {
            Err(e) => break Some(e),
            Ok(Some(frame)) => {
                // The writer registers a request before writing it, so its
                // registration is already queued when its response arrives.
                while let Ok(p) = registrations.try_recv() {
                    inflight.push(p);
                }
                if let Err(e) = inflight.complete(frame) {
                    break Some(e);
                }
                continue;
            }
            Ok(None) => {}
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(8 * 1024);
        }
        let deadline = inflight.next_deadline().map(tokio::time::Instant::from_std);
        tokio::select! {
            biased;
            () = shared.token.cancelled() => break None,
            Some(p) = registrations.recv() => inflight.push(p),
            // A request that reached the wire and got no answer in time: the
            // broker is presumed stuck (as the Java client presumes). Its
            // slot would otherwise stay taken for good, so the connection is
            // failed and rebuilt rather than left to clog with orphans.
            () = sleep_until_opt(deadline) => {
                if let Some(e) = inflight.expired(Instant::now(), &shared.broker) {
                    break Some(e);
                }
            }
            r = rd.read_buf(&mut buf) => match r {
                Ok(0) if buf.is_empty() => break Some(Error::ConnectionClosed {
                    broker: shared.broker.clone(),
                }),
                Ok(0) => break Some(Error::Protocol {
                    reason: format!(
                        "broker {} closed the connection in the middle of a response",
                        shared.broker
                    ),
                }),
                Ok(_) => {}
                Err(e) => break Some(io_error(&shared.broker, "read", e)),
            },
        }
    };
    if let Some(e) = failure {
        tracing::debug!(broker = %shared.broker, error = %e, in_flight = inflight.len(), "connection reader stopped");
        shared.poison(e);
    }
    let err = shared.dead_error();
    inflight.fail_all(&err);
    registrations.close();
    while let Ok(p) = registrations.try_recv() {
        let _ = p.reply.send(Err(err.clone()));
    }
}

/// Writes request frames, assigning correlation ids, and closes the
/// connection after `idle` without traffic (`connections.max.idle.ms`).
pub(crate) async fn writer(
    wr: WriteHalf<BoxStream>,
    mut commands: mpsc::Receiver<Command>,
    registrations: mpsc::UnboundedSender<Pending>,
    shared: Arc<Shared>,
    slots: Arc<Semaphore>,
    max_in_flight: usize,
    idle: Option<Duration>,
) {
    let mut wr = BufWriter::new(wr);
    let mut next_correlation: i32 = 0;
    let mut last_activity = Instant::now();
    let failure = loop {
        let idle_deadline = idle.map(|d| tokio::time::Instant::from_std(last_activity + d));
        let cmd = tokio::select! {
            biased;
            () = shared.token.cancelled() => break None,
            cmd = commands.recv() => match cmd {
                Some(cmd) => cmd,
                // Every handle is gone: nobody can send or wait any more.
                None => break Some(Error::ConnectionClosed { broker: shared.broker.clone() }),
            },
            () = sleep_until_opt(idle_deadline) => {
                if slots.available_permits() == max_in_flight {
                    tracing::debug!(broker = %shared.broker, "closing idle connection");
                    break Some(Error::ConnectionClosed { broker: shared.broker.clone() });
                }
                last_activity = Instant::now();
                continue;
            }
        };
        if let Some(wait) = shared.throttle_remaining() {
            // The broker throttled us (KIP-219): nothing goes out before the
            // time is up; the request's own timeout starts once it is written.
            tracing::debug!(broker = %shared.broker, wait_ms = wait.as_millis() as u64, "throttled by the broker");
            tokio::select! {
                biased;
                () = shared.token.cancelled() => break None,
                () = tokio::time::sleep(wait) => {}
            }
        }
        last_activity = Instant::now();
        if cmd.reply.is_closed() {
            // The caller gave up before its request reached the wire: it is
            // never sent, and dropping `cmd` frees its slot.
            continue;
        }
        let Command {
            mut frame,
            expect_response,
            reply,
            permit,
            timeout,
        } = cmd;
        let corr = next_correlation;
        next_correlation = next_correlation.wrapping_add(1) & i32::MAX;
        frame[4..8].copy_from_slice(&corr.to_be_bytes());
        let api_key = i16::from_be_bytes([frame[0], frame[1]]);
        let reply = if expect_response {
            let _ = registrations.send(Pending {
                correlation_id: corr,
                api_key,
                reply,
                sent_at: Instant::now(),
                deadline: timeout.map(|t| Instant::now() + t),
                _permit: permit,
            });
            None
        } else {
            Some(reply)
        };
        // Once started, a frame is written whole even if its caller goes
        // away: the caller's future does not own this write. Only the death
        // of the connection interrupts it, and then the stream is discarded.
        let size = (frame.len() as i32).to_be_bytes();
        let write = async {
            wr.write_all(&size).await?;
            wr.write_all(&frame).await?;
            // Coalesce: flush only when no further request is queued.
            if commands.is_empty() {
                wr.flush().await?;
            }
            Ok::<_, std::io::Error>(())
        };
        let res = tokio::select! {
            biased;
            () = shared.token.cancelled() => break None,
            res = write => res,
        };
        if let Err(e) = res {
            break Some(io_error(&shared.broker, "write", e));
        }
        if let Some(reply) = reply {
            let _ = reply.send(Ok(Bytes::new()));
        }
    };
    if let Some(e) = failure {
        tracing::debug!(broker = %shared.broker, error = %e, "connection writer stopped");
        shared.poison(e);
    }
    // Requests still queued never reached the wire.
    let err = shared.not_sent_error();
    commands.close();
    while let Ok(cmd) = commands.try_recv() {
        let _ = cmd.reply.send(Err(err.clone()));
    }
    let _ = wr.shutdown().await;
}

/// An I/O error, or a TLS error when rustls raised it: with TLS 1.3 a
/// rejected client certificate shows up as an alert on the first read after
/// the handshake, and the user should hear "TLS", not "read failed".
fn io_error(broker: &str, op: &'static str, e: std::io::Error) -> Error {
    if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) {
        Error::Tls {
            broker: broker.to_owned(),
            reason: crate::net::tls::describe(&e),
        }
    } else {
        Error::io(broker.to_owned(), op, e)
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_frames_wait_for_the_rest() {
        let mut whole = BytesMut::new();
        whole.extend_from_slice(&8i32.to_be_bytes());
        whole.extend_from_slice(&[0, 0, 0, 7, 1, 2, 3, 4]);
        whole.extend_from_slice(&4i32.to_be_bytes());
        whole.extend_from_slice(&[0, 0, 0, 8]);
        let mut buf = BytesMut::new();
        let mut frames = vec![];
        for b in whole.iter() {
            buf.extend_from_slice(&[*b]);
            while let Some(f) = decode_frame(&mut buf, 1024).unwrap() {
                frames.push(f);
            }
        }
        assert_eq!(
            frames,
            vec![
                Bytes::from_static(&[0, 0, 0, 7, 1, 2, 3, 4]),
                Bytes::from_static(&[0, 0, 0, 8]),
            ]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn random_chunking_yields_the_same_frames() {
        use rand::{Rng, SeedableRng};
        // Seeded so a failure reproduces; 200 streams of up to 20 frames cut
        // at random points, including inside the size prefix.
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x006b_6166_6b61);
        for _ in 0..200 {
            let frames: Vec<Vec<u8>> = (0..rng.random_range(1..20))
                .map(|_| {
                    let len = rng.random_range(4..300);
                    (0..len).map(|_| rng.random()).collect()
                })
                .collect();
            let mut wire = Vec::new();
            for f in &frames {
                wire.extend_from_slice(&(f.len() as i32).to_be_bytes());
                wire.extend_from_slice(f);
            }
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut rest = &wire[..];
            while !rest.is_empty() {
                let n = rng.random_range(1..=rest.len().min(64));
                buf.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                while let Some(f) = decode_frame(&mut buf, 1024).unwrap() {
                    got.push(f.to_vec());
                }
            }
            assert_eq!(got, frames);
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<crate::conn::RawConnection>();
        check::<crate::conn::BrokerConnection>();
        check::<crate::broker::Broker>();
        check::<crate::broker::BrokerConnections>();
        check::<crate::Error>();
    }

    #[test]
    fn oversized_frame_refused_before_allocating() {
        let mut buf = BytesMut::with_capacity(4);
        buf.extend_from_slice(&i32::MAX.to_be_bytes());
        let cap = buf.capacity();
        let e = decode_frame(&mut buf, 1 << 20).unwrap_err();
        assert!(
            matches!(e, Error::FrameTooLarge { size, max } if size == i32::MAX as usize && max == 1 << 20)
        );
        assert_eq!(
            buf.capacity(),
            cap,
            "no room was made for the refused frame"
        );
    }

    #[test]
    fn negative_or_tiny_sizes_are_protocol_errors() {
        for size in [-1i32, 0, 3] {
            let mut buf = BytesMut::from(&size.to_be_bytes()[..]);
            assert!(matches!(
                decode_frame(&mut buf, 100),
                Err(Error::Protocol { .. })
            ));
        }
    }
}
