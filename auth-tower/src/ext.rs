//! [`AuthorityExt`]: the short path from an [`Authority`] to an axum app.

use auth_core::{AuthGuard, Authority, CookieMode, Dialect, RouteSet};

use crate::{AuthLayer, AuthRoutes};

/// The two things an axum app needs from an [`Authority`], in one call each:
/// the layer that guards its routes and the login/refresh/verify/logout
/// routes of a dialect.
///
/// ```
/// use auth_tower::prelude::*;
/// use axum::{routing::get, Json, Router};
///
/// let authority = Authority::hs256([7u8; 32])?.build();
/// let app: Router = Router::new()
///     .route("/me", get(|id: Authenticated| async move { Json(id.summary()) }))
///     .route_layer(authority.layer())
///     .nest_service("/auth", authority.routes(Standard));
/// # let _ = app;
/// # Ok::<(), auth_core::KeyError>(())
/// ```
pub trait AuthorityExt {
    /// A layer that requires a valid `Bearer` token on the routes it
    /// wraps (401 otherwise); [`AuthLayer::optional`] lets anonymous
    /// requests through. Add it with `Router::route_layer`, so that a path
    /// no route matches stays a 404 instead of becoming a 401.
    fn layer(&self) -> AuthLayer;

    /// The routes of `dialect` (for [`Standard`](auth_core::Standard):
    /// `POST /login`, `/refresh`, `/verify`, `/logout`), for
    /// `Router::nest_service`.
    fn routes(&self, dialect: impl Dialect) -> AuthRoutes;

    /// The [`Standard`](auth_core::Standard) routes in cookie mode: login
    /// and refresh answer with `HttpOnly` cookies and no token in the body
    /// (see [`CookieMode`]). Guard the app's routes with
    /// `authority.layer().cookies(mode)`, the same mode.
    ///
    /// ```
    /// use auth_tower::prelude::*;
    /// use axum::{routing::post, Router};
    ///
    /// let authority = Authority::hs256([7u8; 32])?.build();
    /// let cookies = CookieMode::new(); // mounted at /auth: the refresh cookie's path is /auth/refresh
    /// let app: Router = Router::new()
    ///     .route("/notes", post(|id: Authenticated| async move { id.username().to_owned() }))
    ///     .route_layer(authority.layer().cookies(cookies.clone()))
    ///     .nest_service("/auth", authority.cookie_routes(cookies));
    /// # let _ = app;
    /// # Ok::<(), auth_core::KeyError>(())
    /// ```
    fn cookie_routes(&self, mode: CookieMode) -> AuthRoutes;
}

impl AuthorityExt for Authority {
    fn layer(&self) -> AuthLayer {
        AuthLayer::new(AuthGuard::new(self.clone()))
    }

    fn routes(&self, dialect: impl Dialect) -> AuthRoutes {
        AuthRoutes::new(RouteSet::new(self.clone(), dialect))
    }

    fn cookie_routes(&self, mode: CookieMode) -> AuthRoutes {
        AuthRoutes::new(RouteSet::with_cookies(self.clone(), mode))
    }
}
