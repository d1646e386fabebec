//! [`GrpcBodies`]: tonic's request bodies for the client layer (feature
//! `grpc-client`).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::Full;
use tonic::Status;
use tonic::body::Body;

use super::body::BodyPolicy;

/// The default [`GrpcBodies::max_replay_len`]: 1 MiB.
pub const DEFAULT_GRPC_REPLAY_LEN: usize = 1024 * 1024;

/// The [`BodyPolicy`] for `tonic::body::Body`, tonic's request body: what
/// [`AuthClientLayer::grpc`](super::AuthClientLayer::grpc) uses.
///
/// tonic hands every call's messages to the channel as a stream body, a
/// unary call's too: nothing in the type tells a unary call from a
/// streaming one, and the body cannot be cloned. So before a call is
/// sent, the policy reads the frames its body has ready, without waiting:
/// - the body ends within [`max_replay_len`](Self::max_replay_len) bytes
///   (a unary call, whose one message tonic has already encoded; a
///   client stream of messages that were all there): the call is sent
///   from those frames and can be replayed once after an
///   `UNAUTHENTICATED`;
/// - the stream is still waiting for a message (a client or
///   bidirectional stream fed as it goes), or it is longer: the frames
///   read are sent first, then the rest of the stream as it comes; the
///   call is sent once, and a refusal is the caller's answer (the next
///   call has a renewed credential).
///
/// Nothing is copied: the frames are tonic's own buffers, kept until the
/// answer comes.
///
/// ```
/// use auth_tower::client::{BodyPolicy, GrpcBodies};
/// use http_body_util::Full;
/// use tonic::body::Body;
///
/// let policy = GrpcBodies::default();
/// let (_send, replay) = policy.prepare_replay(Body::new(Full::new(bytes::Bytes::from_static(b"\0\0\0\0\x02hi"))));
/// assert!(replay.is_some(), "a whole body is kept to be replayed");
///
/// let waiting = futures_util::stream::pending::<Result<http_body::Frame<bytes::Bytes>, tonic::Status>>();
/// let (_send, replay) = policy.prepare_replay(Body::new(http_body_util::StreamBody::new(waiting)));
/// assert!(replay.is_none(), "a stream still waiting is sent once");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct GrpcBodies {
    max_replay_len: usize,
}

impl Default for GrpcBodies {
    fn default() -> Self {
        Self { max_replay_len: DEFAULT_GRPC_REPLAY_LEN }
    }
}

impl GrpcBodies {
    /// Bodies up to [`DEFAULT_GRPC_REPLAY_LEN`] bytes are replayed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replays bodies of at most `len` bytes (gRPC framing included); a
    /// longer one is sent once. `0` replays empty bodies only.
    ///
    /// ```
    /// let policy = auth_tower::client::GrpcBodies::new().max_replay_len(64 * 1024);
    /// # let _ = policy;
    /// ```
    pub fn max_replay_len(mut self, len: usize) -> Self {
        self.max_replay_len = len;
        self
    }
}

impl BodyPolicy<Body> for GrpcBodies {
    fn build(&self, bytes: Bytes) -> Body {
        Body::new(Full::new(bytes))
    }

    /// Only an empty body can be copied without reading it.
    fn try_clone(&self, body: &Body) -> Option<Body> {
        body.is_end_stream().then(Body::empty)
    }

    fn prepare_replay(&self, body: Body) -> (Body, Option<Body>) {
        read_ready(body, self.max_replay_len)
    }
}

/// Reads the frames `body` has ready, up to `limit` bytes of data: if it
/// ends, two bodies of those frames; otherwise one that sends them and
/// then the rest of `body`, and no replay.
///
/// The body is polled with a waker that does nothing: a stream that is
/// not ready registers it and is polled again, with the real one, by the
/// connection that sends the body (a stream wakes only its last poller).
fn read_ready(mut body: Body, limit: usize) -> (Body, Option<Body>) {
    let mut cx = Context::from_waker(Waker::noop());
    let mut read = Frames::default();
    let rest = loop {
        if body.is_end_stream() {
            break Rest::Done;
        }
        match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(None) => break Rest::Done,
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => {
                    read.len = read.len.saturating_add(data.len());
                    read.data.push_back(data);
                    if read.len > limit {
                        break Rest::Body(body);
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        read.trailers = Some(trailers);
                    }
                }
            },
            Poll::Ready(Some(Err(status))) => break Rest::Failed(Some(status)),
            Poll::Pending => break Rest::Body(body),
        }
    };
    match rest {
        Rest::Done => {
            let copy = read.clone();
            (
                Body::new(Replay { read, rest: Rest::Done }),
                Some(Body::new(Replay { read: copy, rest: Rest::Done })),
            )
        }
        rest => (Body::new(Replay { read, rest }), None),
    }
}

/// Frames read ahead.
#[derive(Clone, Default)]
struct Frames {
    data: VecDeque<Bytes>,
    trailers: Option<HeaderMap>,
    len: usize,
}

/// What follows the frames read ahead.
enum Rest {
    /// The body ended.
    Done,
    /// The body, still to be read.
    Body(Body),
    /// The body failed with this (sent once).
    Failed(Option<Status>),
}

/// A body read ahead: its frames, then the rest.
struct Replay {
    read: Frames,
    rest: Rest,
}

impl http_body::Body for Replay {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if let Some(data) = this.read.data.pop_front() {
            this.read.len -= data.len();
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if let Some(trailers) = this.read.trailers.take() {
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        match &mut this.rest {
            Rest::Done => Poll::Ready(None),
            Rest::Body(body) => Pin::new(body).poll_frame(cx),
            Rest::Failed(status) => Poll::Ready(status.take().map(Err)),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.read.data.is_empty()
            && self.read.trailers.is_none()
            && match &self.rest {
                Rest::Done => true,
                Rest::Body(body) => body.is_end_stream(),
                Rest::Failed(status) => status.is_none(),
            }
    }

    fn size_hint(&self) -> SizeHint {
        let read = u64::try_from(self.read.len).unwrap_or(u64::MAX);
        match &self.rest {
            Rest::Done => SizeHint::with_exact(read),
            Rest::Body(body) => {
                let rest = body.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(rest.lower().saturating_add(read));
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper.saturating_add(read));
                }
                hint
            }
            Rest::Failed(_) => SizeHint::with_exact(read),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    type FrameList = Vec<Result<Frame<Bytes>, Status>>;

    fn stream(frames: FrameList) -> Body {
        Body::new(StreamBody::new(futures_util::stream::iter(frames)))
    }

    async fn bytes_of(body: Body) -> Result<Bytes, Status> {
        Ok(body.collect().await?.to_bytes())
    }

    #[tokio::test]
    async fn a_body_whose_frames_are_all_ready_is_sent_and_replayed_whole() {
        let frames =
            vec![Ok(Frame::data(Bytes::from_static(b"ab"))), Ok(Frame::data(Bytes::from_static(b"cd")))];
        let (send, replay) = GrpcBodies::new().prepare_replay(stream(frames));
        assert_eq!(send.size_hint().exact(), Some(4));
        assert_eq!(bytes_of(send).await.unwrap(), "abcd");
        assert_eq!(bytes_of(replay.expect("replayable")).await.unwrap(), "abcd");

        let (send, replay) = GrpcBodies::new().prepare_replay(Body::empty());
        assert!(send.is_end_stream());
        assert!(replay.expect("an empty body is replayable").is_end_stream());
    }

    #[tokio::test]
    async fn trailers_are_kept() {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-t", http::HeaderValue::from_static("1"));
        let frames = vec![Ok(Frame::data(Bytes::from_static(b"ab"))), Ok(Frame::trailers(trailers))];
        let (_, replay) = GrpcBodies::new().prepare_replay(stream(frames));
        let collected = replay.expect("replayable").collect().await.unwrap();
        assert_eq!(collected.trailers().and_then(|t| t.get("x-t")).map(|v| v.as_bytes()), Some(&b"1"[..]));
    }

    #[tokio::test]
    async fn a_waiting_stream_is_sent_once_with_the_frames_read_first() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Status>>(4);
        tx.send(Ok(Frame::data(Bytes::from_static(b"first ")))).await.unwrap();
        let rx = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
        let (send, replay) = GrpcBodies::new().prepare_replay(Body::new(StreamBody::new(rx)));
        assert!(replay.is_none());
        assert!(!send.is_end_stream());
        let reader = tokio::spawn(bytes_of(send));
        // the stream goes on after the layer looked at it: the connection's waker is woken
        tx.send(Ok(Frame::data(Bytes::from_static(b"then second")))).await.unwrap();
        drop(tx);
        assert_eq!(reader.await.unwrap().unwrap(), "first then second");
    }

    #[tokio::test]
    async fn a_body_longer_than_the_limit_is_sent_once_and_whole() {
        let frames = (0..4).map(|_| Ok(Frame::data(Bytes::from_static(b"0123456789")))).collect();
        let (send, replay) = GrpcBodies::new().max_replay_len(15).prepare_replay(stream(frames));
        assert!(replay.is_none());
        assert_eq!(bytes_of(send).await.unwrap().len(), 40);
    }

    #[tokio::test]
    async fn a_failed_stream_is_sent_once_and_fails_after_its_frames() {
        let frames = vec![Ok(Frame::data(Bytes::from_static(b"ab"))), Err(Status::internal("boom"))];
        let (send, replay) = GrpcBodies::new().prepare_replay(stream(frames));
        assert!(replay.is_none());
        let mut send = send;
        let first = send.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "ab");
        assert_eq!(send.frame().await.unwrap().unwrap_err().message(), "boom");
        assert!(send.frame().await.is_none());
    }
}
