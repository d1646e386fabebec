//! Turning the core's plain response into an axum response.

use auth_core::{AuthResponse, AuthorizationHeader};
use axum::body::Body;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

/// Every `Authorization` value of a request, for the core to judge.
pub(crate) fn authorization(headers: &HeaderMap) -> AuthorizationHeader {
    AuthorizationHeader::from_values(headers.get_all(AUTHORIZATION).iter().map(HeaderValue::as_bytes))
}

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
