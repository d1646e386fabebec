//! [`ClientBody`]: what the client layer needs of a request body type.

use bytes::Bytes;
use http_body_util::Full;

/// A request body type the client layer can build its own requests with
/// (logins, refreshes) and, when possible, replay after a 401.
///
/// Implemented for `Full<Bytes>` and `String` (always replayable) and
/// `axum::body::Body` (a stream: never replayed). For another type (a
/// tonic body, a boxed body) implement it in your crate: `try_clone`
/// returns `None` for bodies that cannot be read twice.
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
