//! Turning the core's plain response into an axum response.

use std::net::SocketAddr;

use auth_core::{AuthResponse, AuthorizationRef, BrowserHeaders, Peer};
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::header::AUTHORIZATION;
use http::{Extensions, HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

/// Every `Authorization` value of a request, borrowed, for the core to judge.
pub(crate) fn authorization(headers: &HeaderMap) -> AuthorizationRef<'_> {
    AuthorizationRef::from_values(headers.get_all(AUTHORIZATION).iter().map(HeaderValue::as_bytes))
}

/// Who sent the request: the TCP peer, when the server was started with
/// `into_make_service_with_connect_info::<SocketAddr>()` (or, with the
/// `grpc` feature, is a tonic server), and every
/// `X-Forwarded-For` value (the core decides whether to believe them),
/// the device token of the `Device-Token` header or cookie, and the
/// `User-Agent` (for the audit trail).
pub(crate) fn peer(headers: &HeaderMap, extensions: &Extensions) -> Peer {
    let addr = extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    // a tonic server records its peer its own way
    #[cfg(feature = "grpc")]
    let addr = addr.or_else(|| {
        let tonic_peer = extensions.get::<tonic::transport::server::TcpConnectInfo>();
        tonic_peer.and_then(tonic::transport::server::TcpConnectInfo::remote_addr).map(|a| a.ip())
    });
    let forwarded_for = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let cookies = headers.get_all(http::header::COOKIE).iter().map(HeaderValue::as_bytes);
    let device = auth_core::device_token_in(
        headers.get(auth_core::DEVICE_TOKEN_HEADER).map(HeaderValue::as_bytes),
        cookies,
    );
    let mut peer = Peer::new(addr);
    peer.forwarded_for = forwarded_for;
    peer.device_token = device;
    // for the audit trail only
    peer.user_agent =
        headers.get(http::header::USER_AGENT).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    peer
}

/// What cookie mode judges of a request: its cookies, `Origin`,
/// `Sec-Fetch-Site`, `Host` (the URI's authority for HTTP/2, which has no
/// `Host` header) and `X-CSRF-Token`.
pub(crate) fn browser(headers: &HeaderMap, uri: &http::Uri) -> BrowserHeaders {
    let mut browser =
        BrowserHeaders::from_lookup(|name| headers.get_all(name).iter().map(HeaderValue::as_bytes));
    if browser.host.is_none() {
        browser.host = uri.authority().map(|a| a.as_str().to_owned());
    }
    browser
}

/// Adds a guard's [`admitted_headers`](auth_core::AuthGuard::admitted_headers)
/// to an answer: `cache-control` only where it has none, the others appended.
pub(crate) fn add_admitted(headers: &mut HeaderMap, admitted: &[(&'static str, &'static str)]) {
    for (name, value) in admitted {
        if *name == "cache-control" && headers.contains_key(http::header::CACHE_CONTROL) {
            continue;
        }
        headers.append(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
}

/// Copies status, headers and body; the headers as the core lets them on
/// the wire ([`AuthResponse::wire_headers`]), so a custom dialect's odd
/// header name is dropped and logged, never a panic.
pub(crate) fn to_http(mut res: AuthResponse) -> Response<Body> {
    let mut out = Response::new(Body::from(std::mem::take(&mut res.body)));
    *out.status_mut() = StatusCode::from_u16(res.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    for (name, value) in res.wire_headers() {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
        {
            headers.append(name, value);
        }
    }
    out
}
