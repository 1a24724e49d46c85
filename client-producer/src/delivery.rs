//! The future a `send` returns: resolves when the record is written.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use crate::error::ProducerError;
use crate::record::RecordMetadata;

/// Resolves to where the record was written, or why it was not. Dropping it
/// does not cancel the send.
#[derive(Debug)]
#[must_use = "the record is sent either way; await this to learn the outcome"]
pub struct DeliveryFuture {
    pub(crate) rx: oneshot::Receiver<Result<RecordMetadata, ProducerError>>,
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata, ProducerError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(ProducerError::Closed)))
    }
}
