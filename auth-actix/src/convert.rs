//! Turning the core's plain response into an actix response.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use auth_core::{AuthResponse, AuthorizationHeader};

/// Every `Authorization` value of a request, for the core to judge.
pub(crate) fn authorization(headers: &HeaderMap) -> AuthorizationHeader {
    AuthorizationHeader::from_values(headers.get_all(AUTHORIZATION).map(HeaderValue::as_bytes))
}

/// Copies status, headers and body.
pub(crate) fn to_http(res: AuthResponse) -> HttpResponse {
    let status = StatusCode::from_u16(res.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    // The core drops what is not a valid header, so no pair here can turn
    // the response into actix's 500.
    for (name, value) in res.wire_headers() {
        builder.append_header((name.as_ref(), value));
    }
    builder.body(res.body)
}
