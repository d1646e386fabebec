//! actix-web glue for [`auth_core`].
//!
//! Three things, each only translating between actix-web and the core:
//!
//! - [`AuthMiddleware`]: a `Transform` for `App::wrap` / `Scope::wrap` that
//!   authenticates every request, puts the [`AuthIdentity`] into the request
//!   extensions or answers with the core's error response;
//! - extractors: the raw schemes ([`Bearer`], [`Token`], [`Basic`]), the
//!   verified identity ([`Authenticated`], and [`MaybeAuthenticated`] for
//!   optional routes), and a role guard ([`RequireRole`]);
//! - [`routes`]: mounts a dialect's route set with `configure`.
//!
//! ```
//! use actix_web::{web, App, HttpResponse};
//! use auth_actix::{AuthMiddleware, Authenticated};
//! use auth_core::{Authority, AuthGuard, JwtKey, KeySet, RouteSet, Standard};
//!
//! async fn whoami(id: Authenticated) -> HttpResponse {
//!     HttpResponse::Ok().json(id.summary())
//! }
//!
//! let authority = Authority::builder(KeySet::new(JwtKey::hs256("main", &[7u8; 32]).unwrap()).unwrap()).build();
//! let app = App::new()
//!     .service(web::scope("/auth").configure(auth_actix::routes(RouteSet::new(authority.clone(), Standard))))
//!     .service(
//!         web::scope("")
//!             .wrap(AuthMiddleware::new(AuthGuard::new(authority)))
//!             .route("/whoami", web::get().to(whoami)),
//!     );
//! # let _ = app;
//! ```
//!
//! `Option<Authenticated>` is actix's own `Option` extractor, which turns
//! every error into `None`: an invalid token would pass as anonymous. Use
//! [`MaybeAuthenticated`] instead.
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

/// What an actix-web app that uses this crate imports: `use auth_actix::prelude::*;`.
///
/// The authority and its users ([`Authority`](auth_core::Authority),
/// [`MemoryUsers`](auth_core::MemoryUsers), [`Principal`](auth_core::Principal),
/// the [`UserStore`](auth_core::UserStore) trait with its error, the
/// [`async_trait`](auth_core::async_trait) attribute and the password
/// helpers a store needs), the standard dialect,
/// roles ([`Role`](auth_core::Role), [`role!`](auth_core::role)), the
/// extractors and [`AuthorityExt`] (`authority.middleware()`, `authority.routes(..)`).
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
        AuthIdentity, Authority, MaybeIdentity, MemoryUsers, Principal, Role, UserStore, UserStoreError,
        async_trait, hash_password_async, role, verify_password_hash_or_dummy,
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
