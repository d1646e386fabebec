//! actix-web glue for [`auth_core`].
//!
//! Three things, each only translating between actix-web and the core:
//!
//! - [`AuthMiddleware`]: a `Transform` for `App::wrap` / `Scope::wrap` that
//!   authenticates every request, puts the [`AuthIdentity`] into the request
//!   extensions or answers with the core's error response;
//! - extractors: the raw headers ([`BearerHeader`], [`TokenHeader`],
//!   [`BasicHeader`]), the verified identity ([`Authenticated`], and
//!   [`MaybeAuthenticated`] for optional routes), and a role guard
//!   ([`RequireRole`]);
//! - [`routes`]: mounts a dialect's route set with `configure`.
//!
//! [`AuthorityExt`] is the short path to both:
//!
//! ```
//! use actix_web::{web, App, HttpResponse};
//! use auth_actix::prelude::*;
//!
//! async fn whoami(id: Authenticated) -> HttpResponse {
//!     HttpResponse::Ok().json(id.summary())
//! }
//!
//! let authority = Authority::hs256([7u8; 32])?.build();
//! let app = App::new()
//!     .service(web::scope("/auth").configure(authority.routes(Standard)))
//!     .service(web::resource("/whoami").wrap(authority.middleware()).get(whoami));
//! # let _ = app;
//! # Ok::<(), auth_core::KeyError>(())
//! ```
//!
//! Extractors read the middleware's verdict only: on a route without the
//! middleware they answer 500 and log an `error` naming the fix. Behind
//! the middleware, `Option<Authenticated>` (actix's own `Option` extractor,
//! which turns every error of its extractor into `None`) never sees an
//! invalid token as anonymous: the middleware refuses it first. On a route
//! *without* the middleware it is always `None` (the 500 is swallowed; the
//! `error` is still logged): use [`MaybeAuthenticated`], which answers the
//! 500. Wrap resources, or a scope with a real prefix:
//! `web::scope("").wrap(..)` answers 401 for every unknown path.
//!
//! [`AuthIdentity`]: auth_core::AuthIdentity

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod convert;
mod ext;
mod extract;
mod middleware;
mod routes;

#[cfg(test)]
mod tests;

pub use auth_core::Role;
pub use ext::AuthorityExt;
pub use extract::{
    AuthRejection, Authenticated, BasicHeader, BearerHeader, MaybeAuthenticated, RequireRole, TokenHeader,
};
pub use middleware::{AuthMiddleware, AuthMiddlewareService};
pub use routes::{routes, service};

/// The core crate, for what the prelude does not carry (stores, keys,
/// dialects, the guard): no dependency of your own needed.
pub use auth_core;

/// What an actix-web app that uses this crate imports: `use auth_actix::prelude::*;`.
///
/// The authority and its users ([`Authority`](auth_core::Authority),
/// [`MemoryUsers`](auth_core::MemoryUsers), [`Principal`](auth_core::Principal),
/// the [`UserStore`](auth_core::UserStore) trait with its error, the
/// [`async_trait`](auth_core::async_trait) attribute and the password
/// helpers a store needs), the standard dialect,
/// roles ([`Role`], [`role!`](auth_core::role)), the
/// extractors, [`CookieMode`](auth_core::CookieMode) and [`AuthorityExt`]
/// (`authority.middleware()`, `authority.routes(..)`, `authority.cookie_routes(..)`).
///
/// ```
/// use auth_actix::prelude::*;
/// role!(Admin = "admin");
/// async fn admin(id: RequireRole<Admin>) -> String { id.username().to_owned() }
/// # let _ = actix_web::web::get().to(admin);
/// ```
pub mod prelude {
    pub use auth_core::dialects::Standard;
    pub use auth_core::{
        AuthIdentity, Authority, AuthorityConfig, CookieMode, Dialect, MaybeIdentity, MemoryUsers, Principal,
        Role, SameSite, UserStore, UserStoreError, async_trait, hash_password, hash_password_async, role,
        verify_password_hash, verify_password_hash_or_dummy,
    };

    pub use crate::{AuthMiddleware, Authenticated, AuthorityExt, MaybeAuthenticated, RequireRole};
}

/// Turns a core response into an actix response (for handlers that call the core themselves).
///
/// ```
/// let res = auth_actix::respond(auth_core::AuthResponse::empty(204));
/// assert_eq!(res.status().as_u16(), 204);
/// ```
pub fn respond(res: auth_core::AuthResponse) -> actix_web::HttpResponse {
    convert::to_http(res)
}
