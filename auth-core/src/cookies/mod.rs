//! Cookie mode: tokens in hardened cookies for browser apps, with CSRF
//! protection that cannot be forged from another site.
//!
//! In cookie mode a [`RouteSet`](crate::RouteSet) of the
//! [`Standard`](crate::Standard) dialect answers a login or a refresh with
//! cookies instead of tokens in the JSON body, and an
//! [`AuthGuard`](crate::AuthGuard) reads the access token from its cookie
//! when the request has no `Authorization` header. Three cookies:
//!
//! | cookie | holds | attributes | why |
//! |---|---|---|---|
//! | `__Host-access_token` | the access token | `Path=/; HttpOnly; Secure; SameSite=Lax`, `Max-Age` = the token's lifetime | `HttpOnly`: no script (an injected one included) can read it. `__Host-` makes the browser refuse it unless it is `Secure`, has `Path=/` and no `Domain`, so a sibling subdomain cannot plant or shadow it. `SameSite=Lax`: not sent with another site's `POST`s. |
//! | `__Secure-refresh_token` | the refresh token | `Path=<mount>/refresh; HttpOnly; Secure; SameSite=Lax`, `Max-Age` = the token's lifetime | sent to the refresh route and nowhere else, so a request that leaks or logs ordinary cookies never carries it. |
//! | `__Host-csrf_token` | the CSRF value (no token) | `Path=/; Secure; SameSite=Lax`, **not** `HttpOnly`, `Max-Age` = the refresh token's | the page's script reads it and echoes it in `X-CSRF-Token`; a page of another site cannot read it. |
//!
//! `SameSite` is configurable ([`CookieMode::same_site`]): `Strict` also
//! drops the cookies on top-level navigations from other sites (links into
//! the app arrive logged out), `None` sends them everywhere and leaves CSRF
//! to the two layers below alone. Tokens never appear in the JSON body in
//! cookie mode: a login or refresh answers `{"expires_in", "csrf_token"}`.
//!
//! **CSRF, two independent layers**, applied when the credential came from
//! a cookie (an `Authorization` header wins over the cookie and needs
//! neither, since a browser never adds one by itself), and to login,
//! refresh and logout of a route set in cookie mode:
//!
//! 1. *Fetch Metadata and `Origin`*: a request with an unsafe method
//!    (anything but `GET`, `HEAD`, `OPTIONS`) carrying
//!    `Sec-Fetch-Site: cross-site`, or an `Origin` that is not allowed, is
//!    refused with 403 before anything else is looked at. The allowed
//!    origins are the request's own (`Origin` naming the `Host` the request
//!    was sent to, over `https`, or `http` on a loopback host) unless
//!    configured ([`CookieMode::allow_origin`]); `Origin: null` is refused.
//! 2. *A double-submit value bound to the session*: each login draws a
//!    random CSRF value, puts its SHA-256 in the tokens' `csrf` claim and
//!    the value itself in the readable cookie. An unsafe request must send
//!    it back in `X-CSRF-Token`; it is hashed and compared in constant time
//!    with the claim of the token that came with the request. A missing
//!    value, a wrong one, or another session's is refused with 403.
//!
//! A refusal is `403 {"error": "access_denied", "error_description": ...}`
//! ([`CsrfRejection`] says which rule).
//!
//! Logout revokes the login's tokens and clears the three cookies. A
//! logout that arrives without the access cookie (the browser dropped it
//! when the token expired) answers 401 and keeps them: the page refreshes
//! once and logs out again, so the refresh token is revoked too. A refresh
//! that fails (the token expired, was revoked by a logout that won the
//! race, or was reused) answers 401 and clears the cookies, so a refresh
//! racing a logout never puts the session back.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use auth_core::{AuthRequest, Authority, CookieMode, MemoryUsers, Principal, RouteSet, Standard};
//!
//! let users = MemoryUsers::new();
//! users.add_user(Principal::new("1", "alice"), "s3cret").await.unwrap();
//! let authority = Authority::hs256([42u8; 32]).unwrap().users(users).build();
//! let cookies = CookieMode::new(); // the route set is mounted at /auth
//! let routes = RouteSet::new(authority, Standard).cookies(cookies).unwrap();
//!
//! let mut login = AuthRequest::new("POST", "/login").with_body(r#"{"username":"alice","password":"s3cret"}"#);
//! login.browser.origin = Some("https://app.example".into());
//! login.browser.host = Some("app.example".into());
//! let res = routes.handle(login).await;
//! assert_eq!(res.status, 200);
//! let set: Vec<&str> = res.headers.iter().filter(|(n, _)| *n == "set-cookie").map(|(_, v)| v.as_str()).collect();
//! assert!(set.iter().any(|c| c.starts_with("__Host-access_token=") && c.contains("HttpOnly")));
//! assert!(set.iter().any(|c| c.starts_with("__Secure-refresh_token=") && c.contains("Path=/auth/refresh")));
//! assert!(res.json_body().unwrap().get("access_token").is_none());
//!
//! // the same login from another site's page is refused before the password is checked
//! let mut forged = AuthRequest::new("POST", "/login").with_body(r#"{"username":"alice","password":"s3cret"}"#);
//! forged.browser.fetch_site = Some("cross-site".into());
//! assert_eq!(routes.handle(forged).await.status, 403);
//! # })
//! ```

mod browser;
mod csrf;
mod origin;
pub(crate) mod routes;
mod set;

pub use browser::BrowserHeaders;
pub use csrf::CsrfRejection;
pub(crate) use csrf::{CSRF_CLAIM, bound_csrf, check_bound, check_site, is_unsafe_method};
pub(crate) use origin::Origin;
pub use origin::OriginError;

/// The access token's cookie name: `__Host-` prefixed where the cookies
/// are `Secure` (browsers refuse the prefix otherwise).
pub(crate) fn access_cookie(secure: bool) -> &'static str {
    if secure { "__Host-access_token" } else { "access_token" }
}

/// The request header an unsafe request echoes the CSRF value in (lower case).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Where the standard dialect is usually mounted, and so the default path
/// prefix of the refresh cookie: `/auth/refresh`.
pub const DEFAULT_COOKIE_MOUNT: &str = "/auth";

/// The `SameSite` attribute of the cookies.
///
/// ```
/// use auth_core::SameSite;
/// assert_eq!("strict".parse::<SameSite>(), Ok(SameSite::Strict));
/// assert_eq!(SameSite::default(), SameSite::Lax);
/// assert!("sometimes".parse::<SameSite>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// Sent only with requests from the app's own site.
    Strict,
    /// Also sent with top-level `GET` navigations from other sites (links
    /// into the app keep the login); never with their `POST`s or `fetch`es.
    #[default]
    Lax,
    /// Sent with every request, from any site (needs `Secure`); CSRF is then
    /// left to the Fetch Metadata, `Origin` and double-submit checks.
    None,
}

impl std::str::FromStr for SameSite {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "strict" => Ok(Self::Strict),
            "lax" => Ok(Self::Lax),
            "none" => Ok(Self::None),
            other => Err(format!("`{other}` is not a SameSite value: expected strict, lax or none")),
        }
    }
}

impl SameSite {
    fn to_cookie(self) -> cookie::SameSite {
        match self {
            Self::Strict => cookie::SameSite::Strict,
            Self::Lax => cookie::SameSite::Lax,
            Self::None => cookie::SameSite::None,
        }
    }
}

/// How cookie mode sets and checks its cookies: shared by the route set
/// that issues them and the guards that read them. Cheap to clone.
///
/// ```
/// use auth_core::{CookieMode, SameSite};
/// let mode = CookieMode::new()
///     .same_site(SameSite::Strict)
///     .allow_origin("https://app.example.com")
///     .unwrap();
/// assert_eq!(mode.access_cookie(), "__Host-access_token");
/// assert_eq!(mode.refresh_path(), "/auth/refresh");
/// assert!(CookieMode::new().allow_origin("https://app.example.com/path").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct CookieMode {
    same_site: SameSite,
    secure: bool,
    mount: String,
    allowed: Vec<Origin>,
}

impl Default for CookieMode {
    fn default() -> Self {
        Self::new()
    }
}

impl CookieMode {
    /// `Secure` cookies with `__Host-`/`__Secure-` names, `SameSite=Lax`,
    /// the refresh cookie under [`DEFAULT_COOKIE_MOUNT`], and only the
    /// request's own origin allowed.
    pub fn new() -> Self {
        Self {
            same_site: SameSite::Lax,
            secure: true,
            mount: DEFAULT_COOKIE_MOUNT.into(),
            allowed: Vec::new(),
        }
    }

    /// Sets the cookies' `SameSite` attribute (default `Lax`).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// Where the route set is mounted (default `/auth`): the refresh
    /// cookie's `Path` is this plus `/refresh`, so browsers send it to the
    /// refresh route only. A route set given a prefix with
    /// [`RouteSet::at`](crate::RouteSet::at) uses that prefix instead.
    ///
    /// ```
    /// assert_eq!(auth_core::CookieMode::new().mounted_at("/api/auth/").refresh_path(), "/api/auth/refresh");
    /// ```
    pub fn mounted_at(mut self, mount: &str) -> Self {
        self.mount = mount.trim_end_matches('/').into();
        self
    }

    /// Allows unsafe requests whose `Origin` is `origin`
    /// (`scheme://host[:port]`, no path), besides none by default: once
    /// any origin is configured, the request's own origin is allowed only
    /// if it is listed too. For a page served from another origin than the
    /// API, or a proxy that rewrites `Host`.
    pub fn allow_origin(mut self, origin: &str) -> Result<Self, OriginError> {
        self.allowed.push(Origin::parse(origin)?);
        Ok(self)
    }

    /// **Development only**: cookies without `Secure` (and so without the
    /// `__Host-`/`__Secure-` prefixes, which browsers refuse on cookies that
    /// are not `Secure`), for a browser that reaches the app over plain
    /// `http` on a name other than `localhost` or `127.0.0.1` (Chromium
    /// and Firefox treat those two as secure already: local development
    /// does not need this). Logs a warning each time it is turned on.
    ///
    /// ```
    /// let mode = auth_core::CookieMode::new().insecure_development();
    /// assert_eq!(mode.access_cookie(), "access_token");
    /// ```
    pub fn insecure_development(mut self) -> Self {
        tracing::warn!(
            "cookie mode without `Secure` cookies: tokens travel in clear over plain http; \
             never use this outside development"
        );
        if self.same_site == SameSite::None {
            tracing::warn!("SameSite=None without Secure: browsers refuse such cookies");
        }
        self.secure = false;
        self
    }

    /// Whether the cookies are `Secure`.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The `SameSite` attribute.
    pub fn same_site_value(&self) -> SameSite {
        self.same_site
    }

    /// The name of the access token's cookie.
    pub fn access_cookie(&self) -> &'static str {
        access_cookie(self.secure)
    }

    /// The name of the refresh token's cookie.
    pub fn refresh_cookie(&self) -> &'static str {
        if self.secure { "__Secure-refresh_token" } else { "refresh_token" }
    }

    /// The name of the readable cookie holding the CSRF value.
    ///
    /// ```
    /// assert_eq!(auth_core::CookieMode::new().csrf_cookie(), "__Host-csrf_token");
    /// ```
    pub fn csrf_cookie(&self) -> &'static str {
        if self.secure { "__Host-csrf_token" } else { "csrf_token" }
    }

    /// The refresh cookie's `Path`.
    pub fn refresh_path(&self) -> String {
        format!("{}/refresh", self.mount)
    }

    /// The same mode with the refresh cookie under `prefix` (a route set's
    /// [`at`](crate::RouteSet::at)), when one is given.
    pub(crate) fn under(mut self, prefix: &str) -> Self {
        if !prefix.is_empty() {
            self.mount = prefix.into();
        }
        self
    }

    /// Layer 1 for `method` and `browser`: [`check_site`] with this mode's origins.
    pub(crate) fn check_site(&self, method: &str, browser: &BrowserHeaders) -> Result<(), CsrfRejection> {
        check_site(method, browser, &self.allowed, self.secure)
    }
}

#[cfg(test)]
mod tests;
