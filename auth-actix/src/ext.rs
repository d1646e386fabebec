//! [`AuthorityExt`]: the short path from an [`Authority`] to an actix-web app.

use actix_web::web::ServiceConfig;
use auth_core::{AuthGuard, Authority, CookieMode, Dialect, RouteSet};

use crate::AuthMiddleware;

/// The two things an actix-web app needs from an [`Authority`], in one
/// call each: the middleware that guards its routes and the
/// login/refresh/verify/logout routes of a dialect.
///
/// ```
/// use actix_web::{web, App, HttpResponse};
/// use auth_actix::prelude::*;
///
/// let authority = Authority::hs256([7u8; 32])?.build();
/// let app = App::new()
///     .service(web::scope("/auth").configure(authority.routes(Standard)))
///     .service(
///         web::resource("/me")
///             .wrap(authority.middleware())
///             .get(|id: Authenticated| async move { HttpResponse::Ok().json(id.summary()) }),
///     );
/// # let _ = app;
/// # Ok::<(), auth_core::KeyError>(())
/// ```
pub trait AuthorityExt {
    /// A middleware that requires a valid `Bearer` token on what it wraps
    /// (401 otherwise); [`AuthMiddleware::optional`] lets anonymous
    /// requests through. Wrap resources (`web::resource(..).wrap(..)`) or
    /// a scope with a real prefix: `web::scope("").wrap(..)` would answer
    /// 401 for every unknown path instead of 404.
    fn middleware(&self) -> AuthMiddleware;

    /// The routes of `dialect` (for [`Standard`](auth_core::Standard):
    /// `POST /login`, `/refresh`, `/verify`, `/logout`), for
    /// `Scope::configure`.
    fn routes(&self, dialect: impl Dialect) -> impl FnOnce(&mut ServiceConfig) + 'static;

    /// The [`Standard`](auth_core::Standard) routes in cookie mode: login
    /// and refresh answer with `HttpOnly` cookies and no token in the body
    /// (see [`CookieMode`]). Wrap the app's resources in
    /// `authority.middleware().cookies(mode)`, the same mode.
    ///
    /// ```
    /// use actix_web::{web, App, HttpResponse};
    /// use auth_actix::prelude::*;
    ///
    /// let authority = Authority::hs256([7u8; 32])?.build();
    /// let cookies = CookieMode::new(); // mounted at /auth: the refresh cookie's path is /auth/refresh
    /// let app = App::new()
    ///     .service(web::scope("/auth").configure(authority.cookie_routes(cookies.clone())))
    ///     .service(
    ///         web::resource("/notes")
    ///             .wrap(authority.middleware().cookies(cookies))
    ///             .post(|id: Authenticated| async move { HttpResponse::Ok().body(id.username().to_owned()) }),
    ///     );
    /// # let _ = app;
    /// # Ok::<(), auth_core::KeyError>(())
    /// ```
    fn cookie_routes(&self, mode: CookieMode) -> impl FnOnce(&mut ServiceConfig) + 'static;
}

impl AuthorityExt for Authority {
    fn middleware(&self) -> AuthMiddleware {
        AuthMiddleware::new(AuthGuard::new(self.clone()))
    }

    fn cookie_routes(&self, mode: CookieMode) -> impl FnOnce(&mut ServiceConfig) + 'static {
        crate::routes(RouteSet::with_cookies(self.clone(), mode))
    }

    fn routes(&self, dialect: impl Dialect) -> impl FnOnce(&mut ServiceConfig) + 'static {
        crate::routes(RouteSet::new(self.clone(), dialect))
    }
}
