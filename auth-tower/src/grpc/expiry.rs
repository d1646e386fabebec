//! [`ExpiringBody`]: a gRPC answer that ends with `UNAUTHENTICATED` when the
//! token it was opened with expires.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body::{Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::Instant;

pin_project! {
    /// The inner body, cut off at the deadline with the trailers of
    /// [`auth_core::grpc::expired_trailers`]. A body that ends first ends as
    /// it would have.
    pub(crate) struct ExpiringBody {
        #[pin]
        inner: Body,
        // the timer, armed only once the inner body waits (a unary answer
        // that is ready at once never registers one)
        #[pin]
        timer: Option<tokio::time::Sleep>,
        deadline: Instant,
        done: bool,
    }
}

impl ExpiringBody {
    /// `inner`, cut off at `deadline` (seconds since the epoch: the first
    /// second a new call with the token is refused).
    pub(crate) fn new(inner: Body, deadline: i64) -> Self {
        let at = std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(deadline).unwrap_or(0));
        let left = at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO);
        Self { inner, timer: None, deadline: Instant::now() + left, done: false }
    }
}

fn expired() -> HeaderMap {
    let mut trailers = HeaderMap::new();
    for (name, value) in auth_core::grpc::expired_trailers() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            trailers.insert(HeaderName::from_static(name), value);
        }
    }
    trailers
}

impl http_body::Body for ExpiringBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        // The deadline first, by the clock: a stream that always has a
        // frame ready is cut off too.
        if Instant::now() >= *this.deadline {
            *this.done = true;
            return Poll::Ready(Some(Ok(Frame::trailers(expired()))));
        }
        match this.inner.poll_frame(cx) {
            Poll::Ready(None) => {
                *this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(frame)) => Poll::Ready(Some(frame)),
            Poll::Pending => {
                // Waiting for the inner body: be woken at the deadline too.
                if this.timer.is_none() {
                    this.timer.set(Some(tokio::time::sleep_until(*this.deadline)));
                }
                match this.timer.as_pin_mut().map(|timer| timer.poll(cx)) {
                    Some(Poll::Ready(())) => {
                        *this.done = true;
                        Poll::Ready(Some(Ok(Frame::trailers(expired()))))
                    }
                    _ => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
