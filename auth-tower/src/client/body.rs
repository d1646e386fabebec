//! [`ClientBody`]: what the client layer needs of a request body type.

use bytes::Bytes;
use http_body_util::Full;

/// A request body type the client layer can build its own requests with
/// (logins, refreshes) and, when possible, replay after a 401.
///
/// Implemented for `Full<Bytes>` and `String` (always replayable) and
/// `axum::body::Body` (a stream: never replayed). For a body type of
/// another crate (a boxed body), give the layer a [`BodyPolicy`] instead
/// ([`AuthClientLayer::with_bodies`](super::AuthClientLayer::with_bodies));
/// tonic's has one, `GrpcBodies` (feature `grpc-client`).
///
/// ```
/// use auth_tower::client::ClientBody;
/// use http_body_util::Full;
/// let body = <Full<bytes::Bytes> as ClientBody>::from_bytes("{}".into());
/// assert!(body.try_clone().is_some());
/// assert!(<axum::body::Body as ClientBody>::from_bytes("{}".into()).try_clone().is_none());
/// ```
pub trait ClientBody: Sized {
    /// A body holding `bytes`.
    fn from_bytes(bytes: Bytes) -> Self;
    /// The same body again, or `None` when it cannot be replayed.
    fn try_clone(&self) -> Option<Self>;
}

impl ClientBody for Full<Bytes> {
    fn from_bytes(bytes: Bytes) -> Self {
        Full::new(bytes)
    }

    fn try_clone(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl ClientBody for String {
    fn from_bytes(bytes: Bytes) -> Self {
        // The layer only builds JSON and form bodies: always UTF-8.
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn try_clone(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl ClientBody for axum::body::Body {
    fn from_bytes(bytes: Bytes) -> Self {
        axum::body::Body::from(bytes)
    }

    fn try_clone(&self) -> Option<Self> {
        None
    }
}

/// How the client layer builds and replays bodies of type `B`: the way to
/// use a body type neither this crate nor yours defines (the orphan rule
/// keeps you from implementing [`ClientBody`] for it).
///
/// ```
/// use auth_tower::client::BodyPolicy;
/// use bytes::Bytes;
/// use http_body_util::{BodyExt, Full, combinators::BoxBody};
///
/// /// Boxed bodies: built from bytes, never replayed.
/// #[derive(Clone)]
/// struct Boxed;
/// impl BodyPolicy<BoxBody<Bytes, std::convert::Infallible>> for Boxed {
///     fn build(&self, bytes: Bytes) -> BoxBody<Bytes, std::convert::Infallible> {
///         Full::new(bytes).boxed()
///     }
///     fn try_clone(&self, _: &BoxBody<Bytes, std::convert::Infallible>) -> Option<BoxBody<Bytes, std::convert::Infallible>> {
///         None
///     }
/// }
/// # let _ = Boxed.build(Bytes::new());
/// ```
pub trait BodyPolicy<B>: Clone + Send + Sync + 'static {
    /// A body holding `bytes`.
    fn build(&self, bytes: Bytes) -> B;
    /// The same body again, or `None` when it cannot be replayed.
    fn try_clone(&self, body: &B) -> Option<B>;
    /// Readies a request's body before it is sent: returns the body to
    /// send and, when the request can be sent once more after a refusal,
    /// the body to send then. The default sends `body` itself and replays
    /// [`try_clone`](Self::try_clone)'s copy; a policy for stream bodies
    /// can look at what the stream holds first, as
    /// [`GrpcBodies`](super::GrpcBodies) does (a body whose frames are all
    /// ready is kept to be replayed; a stream still waiting is sent as it
    /// is, once).
    fn prepare_replay(&self, body: B) -> (B, Option<B>) {
        let copy = self.try_clone(&body);
        (body, copy)
    }
}

/// The default [`BodyPolicy`]: the body type's own [`ClientBody`] impl.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientBodies;

impl<B: ClientBody> BodyPolicy<B> for ClientBodies {
    fn build(&self, bytes: Bytes) -> B {
        B::from_bytes(bytes)
    }

    fn try_clone(&self, body: &B) -> Option<B> {
        body.try_clone()
    }
}
