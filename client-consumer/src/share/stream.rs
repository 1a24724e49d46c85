//! [`ShareStream`]: a [`ShareConsumer`] as a `futures_core::Stream`.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;

use super::consumer::ShareConsumer;
use super::error::ShareError;
use super::record::ShareRecord;

type PollFuture = Pin<
    Box<dyn Future<Output = (Box<ShareConsumer>, Result<Vec<ShareRecord>, ShareError>)> + Send>,
>;

enum State {
    Idle(Box<ShareConsumer>, VecDeque<ShareRecord>),
    Polling(PollFuture),
    Done,
}

/// Records one at a time, polling when the last batch is used up. Between
/// items, [`ShareStream::consumer_mut`] gives the consumer back for
/// acknowledgements (explicit mode) and commits. Ends after
/// [`ShareError::Closed`].
pub struct ShareStream {
    state: State,
    poll_timeout: Duration,
}

impl std::fmt::Debug for ShareStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareStream").finish_non_exhaustive()
    }
}

impl ShareConsumer {
    /// This consumer as a stream; each underlying poll waits up to
    /// `poll_timeout` (an empty poll just polls again).
    pub fn into_stream(self, poll_timeout: Duration) -> ShareStream {
        ShareStream {
            state: State::Idle(Box::new(self), VecDeque::new()),
            poll_timeout,
        }
    }
}

impl ShareStream {
    /// The consumer, between items (`None` while a poll is running).
    pub fn consumer_mut(&mut self) -> Option<&mut ShareConsumer> {
        match &mut self.state {
            State::Idle(c, _) => Some(c),
            _ => None,
        }
    }

    /// The consumer back, with the records not yet yielded (`None` while a
    /// poll is running or after the stream ended).
    pub fn into_inner(self) -> Option<(ShareConsumer, Vec<ShareRecord>)> {
        match self.state {
            State::Idle(c, buf) => Some((*c, buf.into())),
            _ => None,
        }
    }
}

impl Stream for ShareStream {
    type Item = Result<ShareRecord, ShareError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match std::mem::replace(&mut this.state, State::Done) {
                State::Done => return Poll::Ready(None),
                State::Idle(c, mut buf) => {
                    if let Some(r) = buf.pop_front() {
                        this.state = State::Idle(c, buf);
                        return Poll::Ready(Some(Ok(r)));
                    }
                    let timeout = this.poll_timeout;
                    this.state = State::Polling(Box::pin(async move {
                        let mut c = c;
                        let r = c.poll(timeout).await;
                        (c, r)
                    }));
                }
                State::Polling(mut fut) => match fut.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.state = State::Polling(fut);
                        return Poll::Pending;
                    }
                    Poll::Ready((c, Ok(records))) => this.state = State::Idle(c, records.into()),
                    Poll::Ready((_, Err(ShareError::Closed))) => return Poll::Ready(None),
                    Poll::Ready((c, Err(e))) => {
                        this.state = State::Idle(c, VecDeque::new());
                        return Poll::Ready(Some(Err(e)));
                    }
                },
            }
        }
    }
}
