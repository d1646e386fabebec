//! The framework-neutral request and response types the adapters translate,
//! and the rendering of an [`AuthError`] into a response (here rather than
//! in `error`, which then depends on neither this module nor `header`).

use crate::client::Peer;
use crate::error::{AuthError, UNAVAILABLE_RETRY_AFTER};
use crate::header::AuthorizationHeader;
use crate::scheme::Scheme;

/// A request as the core sees it: what an adapter copies out of its
/// framework's request. Paths are relative to the route set's mount point.
///
/// ```
/// use auth_core::AuthRequest;
/// let req = AuthRequest::new("POST", "/login")
///     .with_content_type("application/json")
///     .with_body(br#"{"username":"a","password":"b"}"#.to_vec());
/// assert_eq!(req.method, "POST");
/// ```
#[derive(Clone, Default)]
pub struct AuthRequest {
    /// The HTTP method, upper case (`GET`, `POST`...).
    pub method: String,
    /// The path below the mount point, starting with `/`.
    pub path: String,
    /// The `Authorization` header(s).
    pub authorization: AuthorizationHeader,
    /// The `Content-Type` header value, if any.
    pub content_type: Option<String>,
    /// The body bytes (already limited by the adapter).
    pub body: Vec<u8>,
    /// Who sent it: the TCP peer and any `X-Forwarded-For` (the login
    /// throttle counts per client address).
    pub peer: Peer,
    /// The cookies and the `Origin`, `Sec-Fetch-Site`, `Host` and
    /// `X-CSRF-Token` headers, which a route set in cookie mode judges.
    pub browser: crate::cookies::BrowserHeaders,
}

impl AuthRequest {
    /// A request with a method and a path and nothing else.
    pub fn new(method: impl Into<String>, path: impl Into<String>) -> Self {
        Self { method: method.into(), path: path.into(), ..Self::default() }
    }

    /// Sets the one `Authorization` header value.
    pub fn with_authorization(mut self, value: impl Into<Vec<u8>>) -> Self {
        self.authorization = AuthorizationHeader::One(value.into());
        self
    }

    /// Sets the `Content-Type` header value.
    pub fn with_content_type(mut self, value: impl Into<String>) -> Self {
        self.content_type = Some(value.into());
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the sender.
    ///
    /// ```
    /// let req = auth_core::AuthRequest::new("POST", "/login")
    ///     .with_peer(auth_core::Peer::new(Some("192.0.2.7".parse().unwrap())));
    /// assert!(req.peer.addr.is_some());
    /// ```
    pub fn with_peer(mut self, peer: Peer) -> Self {
        self.peer = peer;
        self
    }
}

/// Never prints the credentials or the body (it may hold a password).
impl std::fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("authorization", &self.authorization)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .field("peer", &self.peer)
            .field("browser", &self.browser)
            .finish()
    }
}

/// A response as the core decides it: status, headers (lower-case names)
/// and body bytes. Adapters copy it into their framework's response.
///
/// ```
/// use auth_core::AuthResponse;
/// let res = AuthResponse::json(200, &serde_json::json!({"ok": true}));
/// assert_eq!(res.header("content-type"), Some("application/json"));
/// assert_eq!(res.body, br#"{"ok":true}"#);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AuthResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(&'static str, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// Never prints a cookie's value or the body (either may hold a token).
///
/// ```
/// let mut res = auth_core::AuthResponse::json(200, &serde_json::json!({"access_token": "eyJ.x.y"}));
/// res.headers.push(("set-cookie", "__Host-access_token=eyJ.x.y; HttpOnly".into()));
/// let printed = format!("{res:?}");
/// assert!(!printed.contains("eyJ") && printed.contains("__Host-access_token=<redacted>"));
/// ```
impl std::fmt::Debug for AuthResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, std::borrow::Cow<'_, str>)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                if name.eq_ignore_ascii_case(crate::device::DEVICE_TOKEN_HEADER) {
                    return (*name, "<redacted>".into());
                }
                match (name.eq_ignore_ascii_case("set-cookie"), value.split_once('=')) {
                    (true, Some((cookie, _))) => (*name, format!("{cookie}=<redacted>").into()),
                    _ => (*name, value.as_str().into()),
                }
            })
            .collect();
        f.debug_struct("AuthResponse")
            .field("status", &self.status)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl AuthResponse {
    /// A JSON response with `Cache-Control: no-store` and `Pragma:
    /// no-cache` (RFC 6749 section 5.1: token responses must not be cached).
    pub fn json<T: serde::Serialize + ?Sized>(status: u16, value: &T) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        Self { status, headers: vec![("content-type", "application/json".to_owned())], body }.no_store()
    }

    /// Adds `Cache-Control: no-store` and `Pragma: no-cache` where missing:
    /// what every answer of a token endpoint carries.
    ///
    /// ```
    /// let res = auth_core::AuthResponse::empty(204).no_store();
    /// assert_eq!(res.header("cache-control"), Some("no-store"));
    /// assert_eq!(res.header("pragma"), Some("no-cache"));
    /// ```
    pub fn no_store(mut self) -> Self {
        if self.header("cache-control").is_some() {
            // Already decided (no-store, or public for a published key set).
            return self;
        }
        for (name, value) in [("cache-control", "no-store"), ("pragma", "no-cache")] {
            if self.header(name).is_none() {
                self.headers.push((name, value.to_owned()));
            }
        }
        self
    }

    /// Marks a public, non-secret answer (a published key set) as
    /// cacheable for `max_age` seconds, replacing `no-store`.
    ///
    /// ```
    /// let res = auth_core::AuthResponse::json(200, &serde_json::json!({"keys": []})).cacheable(300);
    /// assert_eq!(res.header("cache-control"), Some("public, max-age=300"));
    /// assert_eq!(res.header("pragma"), None);
    /// assert_eq!(res.clone().no_store(), res);
    /// ```
    pub fn cacheable(mut self, max_age: u64) -> Self {
        self.headers.retain(|(name, _)| *name != "cache-control" && *name != "pragma");
        self.headers.push(("cache-control", format!("public, max-age={max_age}")));
        self
    }

    /// An empty response (`204 No Content` and friends).
    pub fn empty(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: Vec::new() }
    }

    /// The headers as they go on the wire: names lower-cased, and any pair
    /// that is not a valid header (a name that is not an RFC 9110 token, a
    /// value with a control character) dropped with an error in the log
    /// rather than a panic or a 500. What both adapters copy out.
    ///
    /// ```
    /// let mut res = auth_core::AuthResponse::empty(200);
    /// res.headers.push(("X-Custom", "1".into()));
    /// res.headers.push(("bad name", "2".into()));
    /// res.headers.push(("x-split", "a\r\nb".into()));
    /// let wire: Vec<_> = res.wire_headers().collect();
    /// assert_eq!(wire, [("x-custom".into(), "1")]);
    /// ```
    pub fn wire_headers(&self) -> impl Iterator<Item = (std::borrow::Cow<'static, str>, &str)> {
        self.headers.iter().filter_map(|(name, value)| {
            let name_ok = !name.is_empty() && name.bytes().all(crate::header::is_tchar);
            let value_ok = value.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f));
            if name_ok && value_ok {
                // Borrowed in the usual case: the core's names are lower case.
                let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                    std::borrow::Cow::Owned(name.to_ascii_lowercase())
                } else {
                    std::borrow::Cow::Borrowed(*name)
                };
                Some((name, value.as_str()))
            } else {
                tracing::error!(header = %name, "dropping an invalid response header");
                None
            }
        })
    }

    /// The first value of a header, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON (for tests and clients).
    pub fn json_body(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Rendering an error: the default response, or a dialect's body with the
/// error's headers.
impl AuthError {
    /// Status, headers and the default JSON body together.
    ///
    /// ```
    /// use auth_core::{AuthError, Scheme};
    /// let res = AuthError::MissingCredentials.to_response(Scheme::Bearer, "api");
    /// assert_eq!(res.status, 401);
    /// assert_eq!(res.header("www-authenticate"), Some(r#"Bearer realm="api""#));
    /// ```
    pub fn to_response(&self, scheme: Scheme, realm: &str) -> AuthResponse {
        self.with_headers(AuthResponse::json(self.status(), &self.body()), scheme, realm)
    }

    /// Adds this error's `WWW-Authenticate`, `Allow` and `Retry-After`
    /// headers to a response a dialect rendered in its own shape. The
    /// challenge is only added while the response keeps this error's status
    /// (a dialect that answers bad credentials with 400 sends none).
    pub fn with_headers(&self, mut res: AuthResponse, scheme: Scheme, realm: &str) -> AuthResponse {
        if res.status == self.status()
            && let Some(challenge) = self.challenge(scheme, realm)
        {
            res.headers.push(("www-authenticate", challenge));
        }
        match self {
            Self::MethodNotAllowed { allow } => res.headers.push(("allow", allow.join(", "))),
            Self::TooManyAttempts { retry_after } | Self::Busy { retry_after } => {
                res.headers.push(("retry-after", retry_after.to_string()))
            }
            Self::Unavailable => res.headers.push(("retry-after", UNAVAILABLE_RETRY_AFTER.to_string())),
            _ => {}
        }
        res
    }
}
