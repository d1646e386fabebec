//! tower and axum glue for [`auth_core`].
//!
//! Three things, each only translating between axum and the core:
//!
//! - [`AuthLayer`]: a tower middleware that authenticates every request,
//!   puts the [`AuthIdentity`] into the request extensions or answers with the
//!   core's error response;
//! - extractors: the raw headers ([`BearerHeader`], [`TokenHeader`],
//!   [`BasicHeader`]), the verified identity ([`Authenticated`], and
//!   [`MaybeAuthenticated`] or `Option<Authenticated>` for optional routes),
//!   and a role guard ([`RequireRole`]);
//! - [`AuthRoutes`]: a dialect's route set as a tower `Service` that a
//!   `Router` nests with `nest_service`.
//!
//! The same layer guards tonic services and answers their calls as gRPC
//! does (see [`grpc`]); cookie mode for browsers is
//! [`AuthLayer::cookies`] with [`AuthorityExt::cookie_routes`].
//!
//! ```
//! use auth_tower::prelude::*;
//! use axum::{routing::get, Json, Router};
//!
//! let authority = Authority::hs256([7u8; 32])?.build();
//! let app: Router = Router::new()
//!     .route("/whoami", get(|id: Authenticated| async move { Json(id.summary()) }))
//!     .route_layer(authority.layer())
//!     .nest_service("/auth", authority.routes(Standard));
//! // serve with `app.into_make_service_with_connect_info::<std::net::SocketAddr>()`
//! # let _ = app;
//! # Ok::<(), auth_core::KeyError>(())
//! ```
//!
//! `authority.layer()` is `AuthLayer::new(AuthGuard::new(authority))` and
//! `authority.routes(d)` is `AuthRoutes::new(RouteSet::new(authority, d))`:
//! build them yourself for other schemes, realms or error shapes.
//!
//! [`AuthIdentity`]: auth_core::AuthIdentity

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "client")]
pub mod client;
mod convert;
mod ext;
mod extract;
pub mod grpc;
mod layer;
mod routes;

#[cfg(test)]
mod tests;

pub use auth_core::Role;
pub use ext::AuthorityExt;
pub use extract::{
    AuthRejection, Authenticated, BasicHeader, BearerHeader, MaybeAuthenticated, RequireRole, TokenHeader,
};
pub use layer::{AuthLayer, AuthService, ResponseFuture};
pub use routes::{AuthRoutes, RoutesFuture};

/// The core crate, for what the prelude does not carry (stores, keys,
/// dialects, the guard): no dependency of your own needed.
pub use auth_core;

/// What an axum app that uses this crate imports: `use auth_tower::prelude::*;`.
///
/// The authority and its users ([`Authority`](auth_core::Authority),
/// [`MemoryUsers`](auth_core::MemoryUsers), [`Principal`](auth_core::Principal),
/// the [`UserStore`](auth_core::UserStore) trait with its error, the
/// [`async_trait`](auth_core::async_trait) attribute and the password
/// helpers a store needs), the standard dialect,
/// roles ([`Role`], [`role!`](auth_core::role)), the
/// extractors, [`CookieMode`](auth_core::CookieMode) and [`AuthorityExt`]
/// (`authority.layer()`, `authority.routes(..)`, `authority.cookie_routes(..)`).
///
/// ```
/// use auth_tower::prelude::*;
/// role!(Admin = "admin");
/// async fn admin(id: RequireRole<Admin>) -> String { id.username().to_owned() }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(admin));
/// ```
pub mod prelude {
    pub use auth_core::dialects::Standard;
    pub use auth_core::{
        AuthIdentity, Authority, AuthorityConfig, CookieMode, Dialect, MaybeIdentity, MemoryUsers, Principal,
        Role, SameSite, UserStore, UserStoreError, async_trait, hash_password, hash_password_async, role,
        verify_password_hash, verify_password_hash_or_dummy,
    };

    pub use crate::{AuthLayer, Authenticated, AuthorityExt, MaybeAuthenticated, RequireRole};
}

/// Turns a core response into an axum response (for handlers that call the core themselves).
///
/// ```
/// let res = auth_tower::respond(auth_core::AuthResponse::empty(204));
/// assert_eq!(res.status(), 204);
/// ```
pub fn respond(res: auth_core::AuthResponse) -> axum::response::Response {
    convert::to_http(res)
}
