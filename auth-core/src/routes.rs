//! The framework-neutral endpoint engine.
//!
//! A [`RouteSet`] is a [`Dialect`] plus an [`Authority`]: it matches method
//! and path under the mount point, enforces the body cap, reads the body
//! (JSON or form), lets the dialect call the authority, and renders the
//! dialect's response or error.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use auth_core::{AuthRequest, Authority, JwtKey, KeySet, RouteSet, Standard};
//! let authority = Authority::builder(KeySet::new(JwtKey::hs256("k", &[1u8; 32]).unwrap()).unwrap()).build();
//! let routes = RouteSet::new(authority, Standard::default());
//! let res = routes.handle(AuthRequest::new("GET", "/login")).await;
//! assert_eq!(res.status, 405);
//! assert_eq!(res.header("allow"), Some("POST"));
//! # })
//! ```

use std::sync::Arc;

use crate::authority::Authority;
use crate::body::Body;
use crate::cookies::{CookieMode, routes as cookie_routes};
use crate::dialect::{Action, Dialect, RouteContext};
use crate::error::AuthError;
use crate::response::{AuthRequest, AuthResponse};

/// The default body cap: 16 KiB is plenty for any login or refresh.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;

/// A dialect mounted on an authority. Cheap to clone.
#[derive(Clone)]
pub struct RouteSet {
    authority: Authority,
    dialect: Arc<dyn Dialect>,
    body_limit: usize,
    prefix: Arc<str>,
    cookies: Option<Arc<CookieMode>>,
}

/// [`RouteSet::cookies`] on a dialect that keeps its own wire format.
///
/// ```
/// # let authority = auth_core::Authority::hs256([1u8; 32]).unwrap().build();
/// use auth_core::{dialects::Drf, CookieMode, RouteSet};
/// let err = RouteSet::new(authority, Drf).cookies(CookieMode::new()).unwrap_err();
/// assert_eq!(err.to_string(), "cookie mode is for the standard dialect; `drf` keeps its wire format");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cookie mode is for the standard dialect; `{0}` keeps its wire format")]
pub struct CookieModeError(&'static str);

impl std::fmt::Debug for RouteSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteSet")
            .field("dialect", &self.dialect.name())
            .field("body_limit", &self.body_limit)
            .field("cookies", &self.cookies)
            .finish_non_exhaustive()
    }
}

/// Whether `config` has other claim names or `Basic` credentials than
/// `dialect` issues and reads its tokens with. A dialect that issues no
/// tokens (no login or sign-up route, such as [`Jwks`](crate::dialects::Jwks))
/// is mounted beside any authority.
fn configured_for_another(config: &crate::AuthorityConfig, dialect: &dyn Dialect) -> bool {
    let issues_tokens =
        dialect.routes().iter().any(|route| matches!(route.action, Action::Login | Action::Signup));
    let theirs = dialect.default_config();
    issues_tokens && (config.claim_style != theirs.claim_style || config.basic != theirs.basic)
}

impl RouteSet {
    /// Mounts `dialect` on `authority`, with [`DEFAULT_BODY_LIMIT`].
    ///
    /// The authority should be built with the dialect's configuration
    /// (`.config(dialect.default_config())`, then any lifetime you
    /// override): its claim names and `Basic` credentials are part of the
    /// wire format. Where they differ, an `error` is logged saying so, once
    /// per process (the routes still serve what the authority was
    /// configured for).
    pub fn new(authority: Authority, dialect: impl Dialect) -> Self {
        Self::from_shared(authority, Arc::new(dialect))
    }

    /// Mounts a dialect chosen at run time.
    ///
    /// ```
    /// # let authority = auth_core::Authority::builder(auth_core::KeySet::new(auth_core::JwtKey::hs256("k", &[1u8; 32]).unwrap()).unwrap()).build();
    /// use std::sync::Arc;
    /// use auth_core::{dialects, Dialect, RouteSet};
    /// let dialect: Arc<dyn Dialect> = Arc::new(dialects::Sachet);
    /// assert_eq!(RouteSet::from_shared(authority, dialect).dialect().name(), "sachet");
    /// ```
    pub fn from_shared(authority: Authority, dialect: Arc<dyn Dialect>) -> Self {
        // once per process (actix builds its route sets once per worker)
        static LOGGED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if configured_for_another(authority.config(), dialect.as_ref())
            && !LOGGED.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::error!(
                dialect = dialect.name(),
                "the authority was not configured for this dialect: its claim names or Basic credentials \
                 are not the ones the dialect's clients expect; build it with \
                 `.config(dialect.default_config())` and override only lifetimes and limits"
            );
        }
        Self { authority, dialect, body_limit: DEFAULT_BODY_LIMIT, prefix: "".into(), cookies: None }
    }

    /// Serves paths under `prefix` (e.g. `/users`) when the adapter passes
    /// full paths (the route set as a fallback service). With
    /// `Router::nest_service` / `web::scope` the framework strips the
    /// mount point and no prefix is needed.
    ///
    /// ```
    /// # let authority = auth_core::Authority::builder(auth_core::KeySet::new(auth_core::JwtKey::hs256("k", &[1u8; 32]).unwrap()).unwrap()).build();
    /// use auth_core::{Action, RouteSet, Standard};
    /// let routes = RouteSet::new(authority, Standard).at("/auth");
    /// assert_eq!(routes.route("POST", "/auth/login").ok(), Some(Action::Login));
    /// assert!(routes.route("POST", "/login").is_err());
    /// ```
    pub fn at(mut self, prefix: &str) -> Self {
        self.prefix = prefix.trim_end_matches('/').into();
        match self.cookies.take() {
            Some(mode) => self.set_cookies((*mode).clone()),
            None => self,
        }
    }

    /// Turns on cookie mode ([`CookieMode`]): login and refresh answer
    /// with the tokens in `HttpOnly` cookies (none in the body), refresh
    /// and logout read them from there, and login, refresh and logout are
    /// guarded against cross-site request forgery. For the
    /// [`Standard`](crate::Standard) dialect only: the others keep the
    /// wire formats of the APIs they reproduce ([`CookieModeError`]).
    /// Guard the app's routes with the same mode
    /// ([`AuthGuard::cookies`](crate::AuthGuard::cookies)).
    ///
    /// ```
    /// # let authority = auth_core::Authority::hs256([1u8; 32]).unwrap().build();
    /// use auth_core::{CookieMode, RouteSet, Standard};
    /// let routes = RouteSet::new(authority, Standard).cookies(CookieMode::new())?;
    /// assert!(routes.cookie_mode().is_some());
    /// # Ok::<(), auth_core::CookieModeError>(())
    /// ```
    pub fn cookies(self, mode: CookieMode) -> Result<Self, CookieModeError> {
        if !self.dialect.supports_cookies() {
            return Err(CookieModeError(self.dialect.name()));
        }
        Ok(self.set_cookies(mode))
    }

    /// Cookie mode on, its refresh cookie under this set's prefix if it has one.
    fn set_cookies(mut self, mode: CookieMode) -> Self {
        self.cookies = Some(Arc::new(mode.under(&self.prefix)));
        self
    }

    /// The [`Standard`](crate::Standard) routes in cookie mode: what
    /// [`cookies`](Self::cookies) gives, without a `Result` (the standard
    /// dialect always supports it).
    ///
    /// ```
    /// # let authority = auth_core::Authority::hs256([1u8; 32]).unwrap().build();
    /// use auth_core::{CookieMode, RouteSet};
    /// let routes = RouteSet::with_cookies(authority, CookieMode::new());
    /// assert_eq!(routes.dialect().name(), "standard");
    /// ```
    pub fn with_cookies(authority: Authority, mode: CookieMode) -> Self {
        Self::new(authority, crate::Standard).set_cookies(mode)
    }

    /// The cookie mode, when it is on.
    pub fn cookie_mode(&self) -> Option<&CookieMode> {
        self.cookies.as_deref()
    }

    /// The path below the prefix (`/` for the prefix itself), if under it.
    fn relative<'a>(&self, path: &'a str) -> Option<&'a str> {
        let rest = path.strip_prefix(&*self.prefix)?;
        match rest {
            "" => Some("/"),
            r if r.starts_with('/') => Some(r),
            _ => None,
        }
    }

    /// The prefix [`at`](Self::at) set (empty without one).
    #[cfg_attr(not(feature = "openapi"), allow(dead_code))]
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn shared_dialect(&self) -> Arc<dyn Dialect> {
        self.dialect.clone()
    }

    /// Sets the largest body accepted, in bytes (larger answers 413).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The body cap, for adapters that stop reading early.
    pub fn max_body(&self) -> usize {
        self.body_limit
    }

    /// The authority.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The dialect.
    pub fn dialect(&self) -> &dyn Dialect {
        self.dialect.as_ref()
    }

    /// Finds the action for a method and path, or the error that answers.
    pub fn route(&self, method: &str, path: &str) -> Result<Action, AuthError> {
        let path = self.relative(path).ok_or(AuthError::NotFound)?;
        let mut allow = Vec::new();
        for route in self.dialect.routes() {
            if route.path == path {
                if route.method.eq_ignore_ascii_case(method) {
                    return Ok(route.action);
                }
                allow.push(route.method);
            }
        }
        if allow.is_empty() { Err(AuthError::NotFound) } else { Err(AuthError::MethodNotAllowed { allow }) }
    }

    /// What adapters check before reading a body: the route exists for
    /// this method, and a declared `Content-Length` (raw header value) is
    /// within the limit. `Err` is the response to send at once.
    ///
    /// ```
    /// # let authority = auth_core::Authority::builder(auth_core::KeySet::new(auth_core::JwtKey::hs256("k", &[1u8; 32]).unwrap()).unwrap()).build();
    /// use auth_core::{RouteSet, Standard};
    /// let routes = RouteSet::new(authority, Standard).body_limit(10);
    /// assert!(routes.preflight("POST", "/login", Some(b"10")).is_ok());
    /// assert_eq!(routes.preflight("POST", "/login", Some(b"11")).unwrap_err().status, 413);
    /// assert_eq!(routes.preflight("GET", "/login", None).unwrap_err().status, 405);
    /// ```
    pub fn preflight(
        &self,
        method: &str,
        path: &str,
        content_length: Option<&[u8]>,
    ) -> Result<(), AuthResponse> {
        let action = self.route(method, path).map_err(|e| self.refused("unmatched", &e))?;
        let declared = content_length.and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.body_limit as u64) {
            return Err(self.refused(crate::observe::action_name(action), &AuthError::PayloadTooLarge));
        }
        Ok(())
    }

    /// The response for the body of `method path` that could not be read:
    /// 413 when it was over the limit, 400 otherwise.
    ///
    /// ```
    /// # let authority = auth_core::Authority::hs256([1u8; 32]).unwrap().build();
    /// let routes = auth_core::RouteSet::new(authority, auth_core::Standard);
    /// assert_eq!(routes.unreadable_body("POST", "/login", true).status, 413);
    /// ```
    pub fn unreadable_body(&self, method: &str, path: &str, too_large: bool) -> AuthResponse {
        let action = self.route(method, path).map_or("unmatched", crate::observe::action_name);
        self.refused(
            action,
            &if too_large {
                AuthError::PayloadTooLarge
            } else {
                AuthError::InvalidRequest("the request body could not be read".into())
            },
        )
    }

    /// A request refused before [`handle`](Self::handle), counted as
    /// `handle` counts its answers.
    fn refused(&self, action: &'static str, err: &AuthError) -> AuthResponse {
        crate::metrics::record::route(self.dialect.name(), action, err.outcome());
        self.reject(err)
    }

    /// Renders `err` in the dialect's envelope.
    pub fn reject(&self, err: &AuthError) -> AuthResponse {
        self.dialect.render_error(err).no_store()
    }

    /// Answers one request. Never fails: errors become the dialect's error
    /// response. Every answer carries `Cache-Control: no-store` and
    /// `Pragma: no-cache`.
    ///
    /// Each answer is counted ([`metrics`](crate::metrics)) and, for a
    /// login, sign-up, refresh, extend or logout route, written to the
    /// audit trail ([`audit`](crate::audit)).
    pub async fn handle(&self, request: AuthRequest) -> AuthResponse {
        let (labels, result) = match self.route(&request.method, &request.path) {
            Ok(action) => {
                let (result, trail) = crate::audit::traced(self.try_handle(action, &request)).await;
                (crate::observe::route(self, action, &request, &result, trail), result)
            }
            Err(err) => (("unmatched", err.outcome()), Err(err)),
        };
        crate::metrics::record::route(self.dialect.name(), labels.0, labels.1);
        match result {
            Ok(res) => res.no_store(),
            Err(err) => self.reject(&err),
        }
    }

    async fn try_handle(&self, action: Action, request: &AuthRequest) -> Result<AuthResponse, AuthError> {
        if request.body.len() > self.body_limit {
            return Err(AuthError::PayloadTooLarge);
        }
        let body = Body::parse(request.content_type.as_deref(), &request.body)?;
        let issued = Arc::default();
        let ctx = RouteContext {
            authority: &self.authority,
            request,
            body,
            issued: Arc::clone(&issued),
            csrf_claim: None,
        };
        let dialect = self.dialect.as_ref();
        let mut res = match (self.cookies.as_deref(), action) {
            (Some(mode), Action::Login) => cookie_routes::login(mode, ctx).await?,
            (Some(mode), Action::Refresh) => cookie_routes::refresh(mode, ctx, dialect).await?,
            (Some(mode), Action::Logout) => cookie_routes::logout(mode, ctx, dialect).await?,
            _ => dialect.handle(action, ctx).await?,
        };
        if (200..300).contains(&res.status)
            && let (Some(token), Some(ttl)) = (issued.get().cloned(), self.authority.config().device_ttl)
        {
            // A successful login: the client's proof for the login throttle next
            // time. In cookie mode only the HttpOnly cookie: no page script
            // needs it, so none gets to read it from a header.
            res.headers.push(("set-cookie", crate::device::set_cookie(&token, ttl)));
            if self.cookies.is_none() {
                res.headers.push((crate::device::DEVICE_TOKEN_HEADER, token));
            }
        }
        Ok(res)
    }
}

#[cfg(test)]
mod tests {
    use super::configured_for_another;
    use crate::dialects::{Drf, Jwks, Keytoken, Standard};
    use crate::{AuthorityConfig, Dialect as _};

    #[test]
    fn a_dialect_that_issues_tokens_wants_its_own_claims_and_credentials() {
        let plain = AuthorityConfig::default();
        assert!(!configured_for_another(&plain, &Standard));
        assert!(configured_for_another(&plain, &Drf), "drf's claim names");
        assert!(configured_for_another(&plain, &Keytoken::new(["demo"])), "keytoken's Basic key:token");
        // its own configuration, lifetimes overridden: fine
        let drf = Drf.default_config().access_ttl(std::time::Duration::from_secs(60));
        assert!(!configured_for_another(&drf, &Drf));
        // the key set route set issues nothing: it sits beside any authority
        assert!(!configured_for_another(&drf, &Jwks));
        assert!(!configured_for_another(&Keytoken::new(["demo"]).default_config(), &Jwks));
    }
}
