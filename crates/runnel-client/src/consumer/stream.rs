//! `Consumer::stream()`: the consumer as a `futures::Stream` of records.
//!
//! Owns: buffering one `poll()` batch and handing its records out one at a time. The next
//! `poll()` (and with it any auto-commit) starts only when the previous batch is used up,
//! so a commit never covers a record the stream has not yielded.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;

use super::consumer::Consumer;
use super::record::{ConsumerRecord, Records};
use crate::error::Result;

/// How long each `poll()` the stream runs may wait; the stream itself waits forever.
pub const STREAM_POLL_TIMEOUT_MS: u64 = 1_000;

type PollFuture<'a> = Pin<Box<dyn Future<Output = (&'a mut Consumer, Result<Records>)> + Send + 'a>>;

/// A stream of records from a consumer; see [`Consumer::stream`]. Ends only when the
/// consumer is closed; errors are yielded and the stream goes on after them.
pub struct RecordStream<'a> {
    consumer: Option<&'a mut Consumer>,
    buffered: VecDeque<ConsumerRecord>,
    polling: Option<PollFuture<'a>>,
}

impl<'a> RecordStream<'a> {
    pub(crate) fn new(consumer: &'a mut Consumer) -> RecordStream<'a> {
        RecordStream { consumer: Some(consumer), buffered: VecDeque::new(), polling: None }
    }
}

impl Stream for RecordStream<'_> {
    type Item = Result<ConsumerRecord>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(record) = this.buffered.pop_front() {
                return Poll::Ready(Some(Ok(record)));
            }
            if this.polling.is_none() {
                let Some(consumer) = this.consumer.take() else { return Poll::Ready(None) };
                this.polling = Some(Box::pin(async move {
                    let outcome = consumer.poll(Duration::from_millis(STREAM_POLL_TIMEOUT_MS)).await;
                    (consumer, outcome)
                }));
            }
            let Some(polling) = this.polling.as_mut() else { return Poll::Ready(None) };
            let (consumer, outcome) = match polling.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(done) => done,
            };
            this.polling = None;
            this.consumer = Some(consumer);
            match outcome {
                Ok(records) => this.buffered.extend(records),
                Err(crate::error::Error::Closed) => {
                    this.consumer = None;
                    return Poll::Ready(None);
                }
                Err(error) => return Poll::Ready(Some(Err(error))),
            }
        }
    }
}
