//! Turning the core's plain response into an axum response.

use auth_core::AuthResponse;
use axum::body::Body;
use http::{HeaderName, HeaderValue, Response, StatusCode};

/// Copies status, headers and body. Header values the core produced are
/// always valid; one that somehow is not is dropped rather than panicking.
pub(crate) fn to_http(res: AuthResponse) -> Response<Body> {
    let mut out = Response::new(Body::from(res.body));
    *out.status_mut() = StatusCode::from_u16(res.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    for (name, value) in res.headers {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.append(HeaderName::from_static(name), value);
        }
    }
    out
}
