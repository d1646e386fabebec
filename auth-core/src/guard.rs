//! Deciding whether a request to a protected resource gets through.
//!
//! A [`AuthGuard`] is what both adapters' middleware and extractors call: it
//! reads the `Authorization` value, checks it through the
//! [`Authority`](crate::Authority), and on failure renders the one response
//! both frameworks send.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use auth_core::{Authority, AuthGuard, JwtKey, KeySet, Scheme};
//! let authority = Authority::builder(KeySet::new(JwtKey::hs256("k", &[1u8; 32]).unwrap()).unwrap()).build();
//! let guard = AuthGuard::new(authority);
//! let err = guard.check(None).await.unwrap_err();
//! let res = guard.reject(&err);
//! assert_eq!(res.status, 401);
//! assert_eq!(res.header("www-authenticate"), Some(r#"Bearer realm="api""#));
//! # })
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::authority::{Authority, Now};
use crate::check::{Check, CheckResult};
use crate::claims::AuthIdentity;
use crate::client::Peer;
use crate::cookies::{BrowserHeaders, CookieMode, access_cookie, check_bound};
use crate::dialect::Dialect;
use crate::error::AuthError;
use crate::header::{
    AuthorizationHeader, AuthorizationRef, Credentials, Presented, accepted_in, credentials_in,
    parse_presented,
};
use crate::response::AuthResponse;
use crate::routes::RouteSet;
use crate::scheme::Scheme;

/// Renders an error's JSON body in the application's own shape. Status and
/// headers (`WWW-Authenticate`...) are still the core's. Any
/// `Fn(&AuthError) -> serde_json::Value` is one.
///
/// ```
/// use auth_core::{AuthError, ErrorRenderer};
/// let render = |err: &AuthError| serde_json::json!({"message": err.to_string()});
/// assert_eq!(render.render(&AuthError::MissingCredentials)["message"], "authentication is required");
/// ```
pub trait ErrorRenderer: Send + Sync + 'static {
    /// The JSON body for `err`.
    fn render(&self, err: &AuthError) -> serde_json::Value;

    /// The status for `err` (default: the core's).
    fn status(&self, err: &AuthError) -> u16 {
        err.status()
    }

    /// The JSON shape of the bodies this renders with `status`, for the
    /// OpenAPI description of the routes a guard protects (default: any
    /// JSON value).
    fn error_shape(&self, status: u16) -> crate::describe::Shape {
        let _ = status;
        crate::describe::Shape::Any
    }
}

/// Renders errors the way a dialect does (its envelope and statuses), so
/// protected routes answer like the API the dialect reproduces.
#[derive(Clone)]
pub struct DialectErrors(pub Arc<dyn Dialect>);

impl ErrorRenderer for DialectErrors {
    fn render(&self, err: &AuthError) -> serde_json::Value {
        self.0.error_body(err)
    }

    fn status(&self, err: &AuthError) -> u16 {
        self.0.error_status(err)
    }

    fn error_shape(&self, status: u16) -> crate::describe::Shape {
        self.0.error_shape(status)
    }
}

impl<F> ErrorRenderer for F
where
    F: Fn(&AuthError) -> serde_json::Value + Send + Sync + 'static,
{
    fn render(&self, err: &AuthError) -> serde_json::Value {
        self(err)
    }
}

/// The checks in front of a protected resource: which schemes count,
/// whether anonymous requests pass, the realm, and how errors look.
/// Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AuthGuard(Arc<Settings>);

#[derive(Clone)]
struct Settings {
    authority: Authority,
    schemes: Vec<Scheme>,
    optional: bool,
    realm: String,
    renderer: Option<Arc<dyn ErrorRenderer>>,
    cookies: Option<CookieMode>,
    /// When this guard last warned of a cookie it cannot read.
    cookie_warned_at: Arc<AtomicI64>,
}

impl std::fmt::Debug for AuthGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthGuard")
            .field("schemes", &self.0.schemes)
            .field("optional", &self.0.optional)
            .field("realm", &self.0.realm)
            .field("cookies", &self.0.cookies)
            .finish_non_exhaustive()
    }
}

/// What an extractor without a guard logs: the fix, for both frameworks.
const NO_GUARD: &str = "an auth extractor (Authenticated, MaybeAuthenticated, RequireRole) ran on a route \
     that no auth layer guards: add `.route_layer(authority.layer())` to the axum Router (or \
     `.layer(Extension(guard))`), or `.wrap(authority.middleware())` to the actix-web resource or scope; \
     for optional routes use `authority.layer().optional()` / `authority.middleware().optional()`";

/// Whether a log line rate-limited to once a minute by `logged_at` is due
/// now (and, if so, records that it was written): any client can trigger
/// the lines that use it.
fn once_a_minute(logged_at: &AtomicI64) -> bool {
    let now = crate::time::now();
    let last = logged_at.load(Ordering::Relaxed);
    now.saturating_sub(last) >= 60
        && logged_at.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
}

/// Logs (at most once a minute per guard) that a request brought cookie
/// mode's access cookie to a guard that does not read cookies: the layer
/// or middleware lacks `.cookies(mode)`. Only on the way to a 401.
fn warn_if_cookie_mode_cookie(browser: &BrowserHeaders, logged_at: &AtomicI64) {
    let carried = [true, false].into_iter().any(|secure| browser.cookie(access_cookie(secure)).is_some());
    if carried && once_a_minute(logged_at) {
        tracing::warn!(
            "a request carried cookie mode's access cookie to a guard that does not read cookies, and was \
             refused: give the layer or middleware the route set's mode (`authority.layer().cookies(mode)`, \
             `authority.middleware().cookies(mode)`)"
        );
    }
}

impl AuthGuard {
    /// A guard that requires a `Bearer` token, in realm `api`.
    pub fn new(authority: Authority) -> Self {
        Self(Arc::new(Settings {
            authority,
            schemes: vec![Scheme::Bearer],
            optional: false,
            realm: "api".into(),
            renderer: None,
            cookies: None,
            cookie_warned_at: Arc::new(AtomicI64::new(i64::MIN)),
        }))
    }

    fn settings(&mut self) -> &mut Settings {
        Arc::make_mut(&mut self.0)
    }

    /// A guard for the protected routes of an app that mounts `routes`:
    /// the dialect's scheme, and errors in the dialect's envelope.
    ///
    /// ```
    /// # let authority = auth_core::Authority::builder(auth_core::KeySet::new(auth_core::JwtKey::hs256("k", &[1u8; 32]).unwrap()).unwrap()).build();
    /// use auth_core::{dialects, AuthGuard, RouteSet, Scheme};
    /// let routes = RouteSet::new(authority, dialects::Drf::default());
    /// assert_eq!(AuthGuard::for_routes(&routes).challenge_scheme(), Scheme::Token);
    /// ```
    pub fn for_routes(routes: &RouteSet) -> Self {
        let mut guard = Self::new(routes.authority().clone()).schemes(&[routes.dialect().scheme()]);
        guard.settings().renderer = Some(Arc::new(DialectErrors(routes.shared_dialect())));
        guard
    }

    /// Which schemes are accepted; the first one names the challenge.
    ///
    /// ```
    /// # let authority = auth_core::Authority::builder(auth_core::KeySet::new(auth_core::JwtKey::hs256("k", &[1u8; 32]).unwrap()).unwrap()).build();
    /// use auth_core::{AuthGuard, Scheme};
    /// let guard = AuthGuard::new(authority).schemes(&[Scheme::Token, Scheme::Bearer]);
    /// assert_eq!(guard.challenge_scheme(), Scheme::Token);
    /// ```
    pub fn schemes(mut self, schemes: &[Scheme]) -> Self {
        if !schemes.is_empty() {
            self.settings().schemes = schemes.to_vec();
        }
        self
    }

    /// Lets requests without credentials through (a present but invalid
    /// credential is still refused).
    pub fn optional(mut self, optional: bool) -> Self {
        self.settings().optional = optional;
        self
    }

    /// Sets the realm named in challenges.
    pub fn realm(mut self, realm: &str) -> Self {
        self.settings().realm = realm.into();
        self
    }

    /// Also reads the access token from cookie mode's cookie when the
    /// request has no `Authorization` header of an accepted scheme (a
    /// header wins, and needs no CSRF check). An unsafe request (not
    /// `GET`, `HEAD` or `OPTIONS`) authenticated by the cookie must pass
    /// both CSRF layers, or is refused with 403 (see [`CookieMode`]).
    /// Adapters call [`begin_browser`](Self::begin_browser) for it.
    ///
    /// ```
    /// # let authority = auth_core::Authority::hs256([1u8; 32]).unwrap().build();
    /// use auth_core::{AuthGuard, CookieMode};
    /// let guard = AuthGuard::new(authority).cookies(CookieMode::new());
    /// assert!(guard.cookie_mode().is_some());
    /// ```
    pub fn cookies(mut self, mode: CookieMode) -> Self {
        self.settings().cookies = Some(mode);
        self
    }

    /// The headers an adapter adds to the answer of a request this guard
    /// let through (`Cache-Control` only where the handler set none): in
    /// cookie mode `Cache-Control: private, no-store` and `Vary: Cookie`,
    /// since a shared cache keys on neither the cookie nor the identity;
    /// none otherwise.
    ///
    /// ```
    /// # let authority = auth_core::Authority::hs256([1u8; 32]).unwrap().build();
    /// use auth_core::{AuthGuard, CookieMode};
    /// assert!(AuthGuard::new(authority.clone()).admitted_headers().is_empty());
    /// let guard = AuthGuard::new(authority).cookies(CookieMode::new());
    /// assert_eq!(guard.admitted_headers(), [("cache-control", "private, no-store"), ("vary", "Cookie")]);
    /// ```
    pub fn admitted_headers(&self) -> &'static [(&'static str, &'static str)] {
        const COOKIE_MODE: &[(&str, &str)] = &[("cache-control", "private, no-store"), ("vary", "Cookie")];
        if self.0.cookies.is_some() { COOKIE_MODE } else { &[] }
    }

    /// When a stream opened with `identity` must end: the first second a
    /// new call with the same token is refused. For our JWTs that is their
    /// expiry plus the leeway verification grants; for opaque credentials
    /// (keytoken's, which carry no `jti`) their expiry, as their check
    /// grants none. `None` for an identity no token carries (a `Basic`
    /// password check).
    ///
    /// ```
    /// use auth_core::{AuthGuard, AuthIdentity, Claims};
    /// let guard = AuthGuard::new(auth_core::Authority::hs256([1u8; 32]).unwrap().build());
    /// let jwt = Claims { exp: 1_900, iat: Some(1_000), jti: Some("t1".into()), ..Default::default() };
    /// assert_eq!(guard.stream_deadline(&AuthIdentity::new(jwt, Vec::new())), Some(1_905)); // 5 s leeway
    /// let opaque = Claims { exp: 1_900, iat: Some(1_000), ..Default::default() };
    /// assert_eq!(guard.stream_deadline(&AuthIdentity::new(opaque, Vec::new())), Some(1_900));
    /// ```
    pub fn stream_deadline(&self, identity: &AuthIdentity) -> Option<i64> {
        let leeway =
            if identity.claims.jti.is_some() { self.0.authority.config().validation.leeway } else { 0 };
        identity.stream_deadline().map(|exp| exp.saturating_add(leeway))
    }

    /// The cookie mode, when the guard reads cookies.
    pub fn cookie_mode(&self) -> Option<&CookieMode> {
        self.0.cookies.as_ref()
    }

    /// Renders error bodies with `renderer`.
    pub fn render_errors_with(mut self, renderer: impl ErrorRenderer) -> Self {
        self.settings().renderer = Some(Arc::new(renderer));
        self
    }

    /// The authority behind this guard.
    pub fn authority(&self) -> &Authority {
        &self.0.authority
    }

    /// The schemes accepted, in order.
    #[cfg_attr(not(feature = "openapi"), allow(dead_code))]
    pub(crate) fn accepted_schemes(&self) -> &[Scheme] {
        &self.0.schemes
    }

    /// The JSON shape of this guard's error bodies with `status`.
    #[cfg_attr(not(feature = "openapi"), allow(dead_code))]
    pub(crate) fn error_shape(&self, status: u16) -> crate::describe::Shape {
        self.0.renderer.as_ref().map_or(crate::describe::OAUTH_ERROR, |r| r.error_shape(status))
    }

    /// Whether anonymous requests pass.
    pub fn is_optional(&self) -> bool {
        self.0.optional
    }

    /// The scheme challenges name.
    pub fn challenge_scheme(&self) -> Scheme {
        self.0.schemes.first().copied().unwrap_or(Scheme::Bearer)
    }

    /// Reads credentials of an accepted scheme from one header value:
    /// `Ok(None)` when there are none, or only of another scheme (whatever
    /// its value: this route does not read it).
    pub fn credentials(&self, authorization: Option<&[u8]>) -> Result<Option<Credentials>, AuthError> {
        Ok(credentials_in(authorization, &self.0.schemes)?)
    }

    /// What a middleware calls for each request: the verdict at once when
    /// no I/O is needed (a `Bearer`/`Token` token verified or found in the
    /// verified-token cache, a store that answers in memory, no principal
    /// check), else a future to await. `peer` is called only for `Basic`
    /// credentials (the login throttle counts by address). A request
    /// without credentials is refused unless the guard is optional.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let authority = auth_core::Authority::builder(auth_core::KeySet::new(auth_core::JwtKey::hs256("k", &[1u8; 32]).unwrap()).unwrap()).build();
    /// use auth_core::{AuthorizationRef, Check, AuthGuard, Peer};
    /// let guard = AuthGuard::new(authority);
    /// let check = guard.begin(AuthorizationRef::Absent, Peer::default);
    /// assert!(matches!(check, Check::Ready(Err(_))));
    /// assert_eq!(check.outcome().await.unwrap_err().status(), 401);
    /// # })
    /// ```
    pub fn begin(&self, header: AuthorizationRef<'_>, peer: impl FnOnce() -> Peer) -> Check {
        self.start(header, peer, !self.0.optional)
    }

    /// [`begin`](Self::begin) for a guard in cookie mode: with no
    /// `Authorization` credentials of an accepted scheme, the access
    /// cookie of `browser` (called only then), and for an unsafe `method`
    /// the CSRF checks. Without cookie mode, this is `begin`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let authority = auth_core::Authority::hs256([1u8; 32]).unwrap().build();
    /// use auth_core::{AuthGuard, AuthorizationRef, BrowserHeaders, CookieMode, Peer};
    /// let guard = AuthGuard::new(authority).cookies(CookieMode::new());
    /// let forged = || BrowserHeaders {
    ///     cookies: vec!["__Host-access_token=a.b.c".into()],
    ///     fetch_site: Some("cross-site".into()),
    ///     ..BrowserHeaders::default()
    /// };
    /// let check = guard.begin_browser(AuthorizationRef::Absent, "POST", forged, Peer::default);
    /// assert_eq!(check.outcome().await.unwrap_err().status(), 403);
    /// # })
    /// ```
    pub fn begin_browser(
        &self,
        header: AuthorizationRef<'_>,
        method: &str,
        browser: impl FnOnce() -> BrowserHeaders,
        peer: impl FnOnce() -> Peer,
    ) -> Check {
        let required = !self.0.optional;
        // Credentials in the header (or a broken header): the header decides.
        self.start_or(header, peer, || match &self.0.cookies {
            Some(mode) => self.by_cookie(mode, method, browser(), required),
            None => {
                if required {
                    warn_if_cookie_mode_cookie(&browser(), &self.0.cookie_warned_at);
                }
                Self::absent(required)
            }
        })
    }

    /// The check of a request without `Authorization` credentials, by
    /// cookie mode's access cookie and, for an unsafe `method`, both CSRF
    /// layers.
    fn by_cookie(&self, mode: &CookieMode, method: &str, browser: BrowserHeaders, required: bool) -> Check {
        let Some(token) = browser.cookie(mode.access_cookie()) else { return Self::absent(required) };
        if let Err(refused) = mode.check_site(method, &browser) {
            return Check::Ready(Err(AuthError::Csrf(refused)));
        }
        let check = self.presented(Scheme::Bearer, token.as_bytes(), Peer::default);
        if !crate::cookies::is_unsafe_method(method) {
            return check;
        }
        let bound = move |outcome: CheckResult| match outcome {
            Ok(Some(identity)) => match check_bound(&identity, &browser) {
                Ok(_) => Ok(Some(identity)),
                Err(refused) => Err(AuthError::Csrf(refused)),
            },
            other => other,
        };
        match check {
            Check::Ready(outcome) => Check::Ready(bound(outcome)),
            Check::Pending(pending) => Check::later(async move { bound(pending.await) }),
        }
    }

    /// [`begin`](Self::begin) as in optional mode, whatever this guard's
    /// mode: `Ok(None)` without credentials.
    fn begin_identify(&self, header: AuthorizationRef<'_>, peer: impl FnOnce() -> Peer) -> Check {
        self.start(header, peer, false)
    }

    /// The rule every extractor follows, in both adapters: the identity a
    /// middleware already put in the request (`found`); else the verdict
    /// of the guard that middleware left in the request (`Ok(None)`: there
    /// were no credentials); else, with no guard at all, a wiring mistake:
    /// 500 `server_error`, and an `error` logged (at most once a minute)
    /// that names the fix (never a silent pass, never a 503 that looks like
    /// an outage).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use auth_core::{AuthorizationRef, AuthGuard, Peer};
    /// let none = AuthGuard::extract(None, None, AuthorizationRef::Absent, Peer::default);
    /// assert_eq!(none.outcome().await.unwrap_err().status(), 500);
    /// # })
    /// ```
    pub fn extract(
        found: Option<&AuthIdentity>,
        guard: Option<&AuthGuard>,
        header: AuthorizationRef<'_>,
        peer: impl FnOnce() -> Peer,
    ) -> Check {
        match (found, guard) {
            (Some(identity), _) => Check::Ready(Ok(Some(identity.clone()))),
            (None, Some(guard)) => guard.begin_identify(header, peer),
            (None, None) => {
                static LOGGED_AT: AtomicI64 = AtomicI64::new(i64::MIN);
                if once_a_minute(&LOGGED_AT) {
                    tracing::error!("{NO_GUARD}");
                }
                Check::Ready(Err(AuthError::Misconfigured(NO_GUARD)))
            }
        }
    }

    fn start(&self, header: AuthorizationRef<'_>, peer: impl FnOnce() -> Peer, required: bool) -> Check {
        self.start_or(header, peer, || Self::absent(required))
    }

    /// The verdict on a request without credentials of an accepted scheme.
    fn absent(required: bool) -> Check {
        Check::Ready(if required { Err(AuthError::MissingCredentials) } else { Ok(None) })
    }

    /// The check of the `Authorization` header, or `without` when it holds
    /// no credentials of an accepted scheme.
    fn start_or(
        &self,
        header: AuthorizationRef<'_>,
        peer: impl FnOnce() -> Peer,
        without: impl FnOnce() -> Check,
    ) -> Check {
        let accepted = match header.value().and_then(|v| accepted_in(v, &self.0.schemes)) {
            Ok(accepted) => accepted,
            Err(e) => return Check::Ready(Err(e.into())),
        };
        match accepted {
            Some((scheme, rest)) => self.presented(scheme, rest, peer),
            None => without(),
        }
        .observed()
    }

    /// The check of credentials of `scheme`; `peer` is called only for a
    /// `Basic` password (the login throttle counts by address), a revoked
    /// token and a token whose liveness needs I/O (the audit trail of a
    /// revoked token names who presented it).
    fn presented(&self, scheme: Scheme, rest: &[u8], peer: impl FnOnce() -> Peer) -> Check {
        let authority = &self.0.authority;
        // A token whose exact bytes were verified before needs no parsing.
        if scheme != Scheme::Basic
            && let Some(now) = authority.authenticate_cached_now(rest)
        {
            return Self::decided(authority, now, peer);
        }
        match parse_presented(scheme, rest) {
            Err(e) => Check::Ready(Err(e.into())),
            Ok(Presented::Token(_, token)) => {
                Self::decided(authority, authority.authenticate_uncached_now(token), peer)
            }
            Ok(Presented::Basic(credentials)) => {
                // Only a password check is throttled by address.
                let peer = peer();
                let client = authority.login_client(&peer);
                let (addr, user_agent) = (client.addr, peer.user_agent);
                let authority = authority.clone();
                Check::later(async move {
                    let checked = crate::audit::traced(authority.authenticate_from(&credentials, client));
                    let (result, trail) = checked.await;
                    crate::observe::basic_checked(&result, &trail, addr, user_agent.as_deref());
                    result.map(Some)
                })
            }
        }
    }

    /// The check for a token's verdict: ready, or the liveness checks that
    /// need I/O.
    fn decided(authority: &Authority, now: Now, peer: impl FnOnce() -> Peer) -> Check {
        match now {
            Now::Done(outcome) => Check::Ready(outcome.map(Some)),
            Now::Revoked(identity) => Check::Ready(Err(authority.revoked_token(&identity, Some(&peer())))),
            Now::Later(identity, now) => {
                // taken now: the future outlives the request's headers
                let peer = peer();
                let authority = authority.clone();
                Check::later(async move { authority.check_live(identity, now, Some(&peer)).await.map(Some) })
            }
        }
    }

    /// Authenticates a request from its raw `Authorization` value.
    /// `Ok(None)` only in optional mode, for a request without credentials.
    pub async fn check(&self, authorization: Option<&[u8]>) -> Result<Option<AuthIdentity>, AuthError> {
        let header = authorization.map_or(AuthorizationRef::Absent, AuthorizationRef::One);
        self.begin(header, Peer::default).outcome().await
    }

    /// [`check`](Self::check) for the request's `Authorization` header(s)
    /// as the adapter found them (a repeated header is 400
    /// `invalid_request`), from `peer`, so that `Basic` password guesses
    /// are throttled per client address too.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let authority = auth_core::Authority::hs256([1u8; 32]).unwrap().build();
    /// use auth_core::{AuthorizationHeader, AuthGuard, Peer};
    /// let guard = AuthGuard::new(authority);
    /// let peer = Peer::new(Some("192.0.2.1".parse().unwrap()));
    /// let err = guard.check_request(&AuthorizationHeader::Absent, &peer).await.unwrap_err();
    /// assert_eq!(err.status(), 401);
    /// let two = AuthorizationHeader::from_values([&b"Bearer a.b.c"[..], b"Bearer d.e.f"]);
    /// assert_eq!(guard.check_request(&two, &peer).await.unwrap_err().status(), 400);
    /// # })
    /// ```
    pub async fn check_request(
        &self,
        header: &AuthorizationHeader,
        peer: &Peer,
    ) -> Result<Option<AuthIdentity>, AuthError> {
        self.begin(header.as_ref(), || peer.clone()).outcome().await
    }

    /// The response for a refused request: the core's status and headers,
    /// the body from the renderer when one is set.
    pub fn reject(&self, err: &AuthError) -> AuthResponse {
        let scheme = self.challenge_scheme();
        match &self.0.renderer {
            Some(r) => {
                err.with_headers(AuthResponse::json(r.status(err), &r.render(err)), scheme, &self.0.realm)
            }
            None => err.to_response(scheme, &self.0.realm),
        }
    }
}

/// An error together with the response it renders: what the adapters'
/// extractors reject with, so both frameworks answer the same.
///
/// ```
/// use auth_core::{AuthError, Rejection, Scheme};
/// let r = Rejection::new(AuthError::MissingCredentials, None, Scheme::Token);
/// assert_eq!(r.response.header("www-authenticate"), Some(r#"Token realm="api""#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The core's error.
    pub error: AuthError,
    /// The response for it.
    pub response: AuthResponse,
}

impl Rejection {
    /// Rendered by `guard` when there is one (its scheme, realm and error
    /// shape), else in the default shape with a challenge for `scheme`.
    pub fn new(error: AuthError, guard: Option<&AuthGuard>, scheme: Scheme) -> Self {
        let response = match guard {
            Some(g) => g.reject(&error),
            None => error.to_response(scheme, "api"),
        };
        Self { error, response }
    }

    /// `error`, rendered by `guard` when there is one, else for `Bearer`.
    pub fn from_guard(error: AuthError, guard: Option<&AuthGuard>) -> Self {
        let scheme = guard.map_or(Scheme::Bearer, AuthGuard::challenge_scheme);
        Self::new(error, guard, scheme)
    }
}
