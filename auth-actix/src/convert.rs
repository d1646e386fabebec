//! Turning the core's plain response into an actix response.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use auth_core::{AuthResponse, AuthorizationRef, BrowserHeaders, Peer};

/// Every `Authorization` value of a request, borrowed, for the core to judge.
pub(crate) fn authorization(headers: &HeaderMap) -> AuthorizationRef<'_> {
    AuthorizationRef::from_values(headers.get_all(AUTHORIZATION).map(HeaderValue::as_bytes))
}

/// Who sent the request: the TCP peer and every `X-Forwarded-For` value
/// (the core decides whether to believe them; actix's own
/// `connection_info().realip_remote_addr()` believes anybody), the device
/// token and the `User-Agent` (for the audit trail).
pub(crate) fn peer(headers: &HeaderMap, peer_addr: Option<std::net::SocketAddr>) -> Peer {
    let forwarded_for = headers
        .get_all("x-forwarded-for")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let cookies = headers.get_all(actix_web::http::header::COOKIE).map(HeaderValue::as_bytes);
    let device = auth_core::device_token_in(
        headers.get(auth_core::DEVICE_TOKEN_HEADER).map(HeaderValue::as_bytes),
        cookies,
    );
    let mut peer = Peer::new(peer_addr.map(|a| a.ip()));
    peer.forwarded_for = forwarded_for;
    peer.device_token = device;
    // for the audit trail only
    peer.user_agent = headers
        .get(actix_web::http::header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    peer
}

/// What cookie mode judges of a request: its cookies, `Origin`,
/// `Sec-Fetch-Site`, `Host` (the URI's authority for HTTP/2) and
/// `X-CSRF-Token`.
pub(crate) fn browser(headers: &HeaderMap, uri: &actix_web::http::Uri) -> BrowserHeaders {
    let mut browser = BrowserHeaders::from_lookup(|name| headers.get_all(name).map(HeaderValue::as_bytes));
    if browser.host.is_none() {
        browser.host = uri.authority().map(|a| a.as_str().to_owned());
    }
    browser
}

/// Adds a guard's [`admitted_headers`](auth_core::AuthGuard::admitted_headers)
/// to an answer: `cache-control` only where it has none, the others appended.
pub(crate) fn add_admitted(headers: &mut HeaderMap, admitted: &[(&'static str, &'static str)]) {
    use actix_web::http::header::{CACHE_CONTROL, HeaderName};
    for (name, value) in admitted {
        if *name == "cache-control" && headers.contains_key(CACHE_CONTROL) {
            continue;
        }
        headers.append(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
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
