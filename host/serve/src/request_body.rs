//! [`RequestBody`]: a request's body as the API reads it, under the
//! server-wide budget of body bytes held ([`ByteBudget`]) and with
//! deadlines on the client: a body that stops arriving for `body_timeout`,
//! or trickles slower than `body_min_rate` once its first `body_timeout` is
//! over, ends in an error (answered `408`), and a body that would pass the
//! budget ends in one too (answered `503`).
//!
//! The bytes taken stay taken until the request is answered (its handler
//! is done with what it parsed): they go to the request's [`Taken`], which
//! the connection drops then.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::byte_budget::{ByteBudget, Held};

/// The body bytes one request holds, until it is answered.
#[derive(Clone, Default)]
pub(crate) struct Taken(Arc<Mutex<Option<Held>>>);

impl Taken {
    fn add(&self, held: Held) {
        let mut taken = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match taken.as_mut() {
            Some(all) => all.merge(held),
            None => *taken = Some(held),
        }
    }

    /// Gives every byte back: the request is answered.
    pub(crate) fn give_back(&self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
    }
}

/// Why a body could not be read whole.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    /// Taking it would pass the server's budget of body bytes.
    #[error(
        "the server holds {budget} bytes of request bodies at most and has too little left for this one; try again"
    )]
    OverBudget {
        /// The budget.
        budget: usize,
    },
    /// The client stopped sending it, or sent it too slowly.
    #[error("the request body stopped arriving in time ({0})")]
    Stalled(String),
    /// The connection failed while it was read.
    #[error("the request body could not be read: {0}")]
    Read(#[source] hyper::Error),
}

/// The limits a body is read under.
#[derive(Clone)]
pub(crate) struct BodyLimits {
    pub budget: ByteBudget,
    pub timeout: Duration,
    pub min_rate: u64,
}

/// A request body, read under [`BodyLimits`].
pub(crate) struct RequestBody {
    inner: Incoming,
    limits: BodyLimits,
    taken: Taken,
    /// When the first byte was waited for (set on the first poll).
    began: Option<Instant>,
    received: u64,
    deadline: Option<Pin<Box<Sleep>>>,
    failed: bool,
}

impl RequestBody {
    pub(crate) fn new(inner: Incoming, limits: BodyLimits, taken: Taken) -> RequestBody {
        RequestBody {
            inner,
            limits,
            taken,
            began: None,
            received: 0,
            deadline: None,
            failed: false,
        }
    }

    /// The next moment the body must have made progress by: `timeout`
    /// from now, but no later than its rate allows.
    fn next_deadline(&self, now: Instant) -> Instant {
        let began = self.began.unwrap_or(now);
        let idle = now + self.limits.timeout;
        let earned = if self.limits.min_rate == 0 {
            Duration::MAX
        } else {
            Duration::from_secs_f64(self.received as f64 / self.limits.min_rate as f64)
        };
        let by_rate = began
            .checked_add(self.limits.timeout.saturating_add(earned))
            .unwrap_or(idle);
        idle.min(by_rate)
    }

    fn reset_deadline(&mut self) {
        let now = Instant::now();
        let at = self.next_deadline(now);
        match &mut self.deadline {
            Some(sleep) => sleep.as_mut().reset(at),
            None => self.deadline = Some(Box::pin(tokio::time::sleep_until(at))),
        }
    }

    fn fail(&mut self, error: BodyError) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.failed = true;
        Poll::Ready(Some(Err(error)))
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        if this.began.is_none() {
            this.began = Some(Instant::now());
            this.reset_deadline();
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let Some(held) = this.limits.budget.try_take(data.len()) else {
                        let budget = this.limits.budget.total();
                        return this.fail(BodyError::OverBudget { budget });
                    };
                    this.taken.add(held);
                    this.received += data.len() as u64;
                    this.reset_deadline();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => this.fail(BodyError::Read(e)),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let passed = this
                    .deadline
                    .as_mut()
                    .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
                if !passed {
                    return Poll::Pending;
                }
                let why = format!(
                    "no byte for {:?}, or slower than {} bytes/s on average",
                    this.limits.timeout, this.limits.min_rate
                );
                this.fail(BodyError::Stalled(why))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
