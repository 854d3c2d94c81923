//! [`AnswerBody`]: an answer on its way to the client, counted in the
//! server-wide budget of answer bytes held ([`ByteBudget`]) until the client
//! has taken it (hyper has been handed its last byte), or its connection is
//! gone (dropped by the write deadline, or closed).
//!
//! A large answer (an execution's JSON can be tens of MB) is handed to
//! hyper in copies of [`CHUNK`] bytes: hyper then holds a few small chunks
//! per connection, not slices that keep the whole answer alive after the
//! budget has been given back. An answer that does not fit in what is left
//! of the budget is replaced by a `503` before a byte of it is sent.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body as AxumBody, Bytes};
use axum::http::Response;
use axum::response::IntoResponse;
use hyper::body::{Body, Buf, Frame, SizeHint};

use crate::byte_budget::{ByteBudget, Held};
use crate::conn_io::InFlight;
use crate::error::ApiError;

/// The most bytes handed to hyper at once.
const CHUNK: usize = 16 << 10;

/// An answer body, holding its place in the budget until sent.
pub(crate) struct AnswerBody {
    inner: AxumBody,
    /// What is left of a frame larger than [`CHUNK`].
    pending: Bytes,
    held: Held,
    in_flight: Option<InFlight>,
}

/// `response`, counted in `budget` while it is sent; the request stays in
/// flight on its connection (`in_flight`) until then.
pub(crate) fn answer(
    response: Response<AxumBody>,
    budget: &ByteBudget,
    in_flight: InFlight,
) -> Response<AnswerBody> {
    let size = response.body().size_hint().exact();
    let held = match size.map(|n| (n, usize::try_from(n).ok().and_then(|n| budget.try_take(n)))) {
        None => Held::none(),
        Some((_, Some(held))) => held,
        Some((n, None)) => {
            let message = if n > budget.total() as u64 {
                format!(
                    "the answer is {n} bytes, more than the server sends at once ({} bytes, --max-answer-memory)",
                    budget.total()
                )
            } else {
                format!(
                    "the server holds {} bytes of answers for clients at most and has too little left for this one ({n} bytes); try again",
                    budget.total()
                )
            };
            let refused = ApiError::unavailable(message).into_response();
            return refused.map(|inner| AnswerBody::new(inner, Held::none(), in_flight));
        }
    };
    response.map(|inner| AnswerBody::new(inner, held, in_flight))
}

impl AnswerBody {
    fn new(inner: AxumBody, held: Held, in_flight: InFlight) -> AnswerBody {
        AnswerBody {
            inner,
            pending: Bytes::new(),
            held,
            in_flight: Some(in_flight),
        }
    }

    fn next_chunk(&mut self) -> Bytes {
        let n = self.pending.len().min(CHUNK);
        let chunk = Bytes::copy_from_slice(&self.pending[..n]);
        self.pending.advance(n);
        if self.pending.is_empty() {
            // Frees the whole frame now, not when the body is dropped.
            self.pending = Bytes::new();
        }
        chunk
    }

    fn finish(&mut self) {
        self.held = Held::none();
        self.in_flight = None;
    }
}

impl Body for AnswerBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if !this.pending.is_empty() {
            return Poll::Ready(Some(Ok(Frame::data(this.next_chunk()))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) if data.len() > CHUNK => {
                    this.pending = data;
                    Poll::Ready(Some(Ok(Frame::data(this.next_chunk()))))
                }
                Ok(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            Poll::Ready(Some(Err(e))) => {
                this.finish();
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let pending = self.pending.len() as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower().saturating_add(pending));
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(pending));
        }
        hint
    }
}
