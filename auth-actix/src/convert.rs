//! Turning the core's plain response into an actix response.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use auth_core::AuthResponse;

/// Copies status, headers and body.
pub(crate) fn to_http(res: AuthResponse) -> HttpResponse {
    let status = StatusCode::from_u16(res.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for (name, value) in res.headers {
        builder.append_header((name, value));
    }
    builder.body(res.body)
}
