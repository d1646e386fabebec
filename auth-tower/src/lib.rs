//! tower and axum glue for [`auth_core`].
//!
//! Three things, each only translating between axum and the core:
//!
//! - [`AuthLayer`]: a tower middleware that authenticates every request,
//!   puts the [`AuthIdentity`] into the request extensions or answers with the
//!   core's error response;
//! - extractors: the raw schemes ([`Bearer`], [`Token`], [`Basic`]), the
//!   verified identity ([`Authenticated`], also as `Option<Authenticated>`),
//!   and a role guard ([`RequireRole`]);
//! - [`AuthRoutes`]: a dialect's route set as a tower `Service` that a
//!   `Router` nests with `nest_service`.
//!
//! ```
//! use auth_core::{Authority, AuthGuard, JwtKey, KeySet, RouteSet, Standard};
//! use auth_tower::{AuthLayer, AuthRoutes, Authenticated};
//! use axum::{routing::get, Json, Router};
//!
//! let authority = Authority::builder(KeySet::new(JwtKey::hs256("main", &[7u8; 32]).unwrap()).unwrap()).build();
//! let app: Router = Router::new()
//!     .route("/whoami", get(|id: Authenticated| async move { Json(id.summary()) }))
//!     .layer(AuthLayer::new(AuthGuard::new(authority.clone())))
//!     .nest_service("/auth", AuthRoutes::new(RouteSet::new(authority, Standard)));
//! # let _ = app;
//! ```
//!
//! [`AuthIdentity`]: auth_core::AuthIdentity

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "client")]
pub mod client;
mod convert;
mod extract;
mod layer;
mod routes;

#[cfg(test)]
mod tests;

pub use auth_core::Role;
pub use extract::{AuthRejection, Authenticated, BasicHeader, BearerHeader, RequireRole, TokenHeader};
pub use layer::{AuthLayer, AuthService, ResponseFuture};
pub use routes::{AuthRoutes, RoutesFuture};

/// Turns a core response into an axum response (for handlers that call the core themselves).
///
/// ```
/// let res = auth_tower::respond(auth_core::AuthResponse::empty(204));
/// assert_eq!(res.status(), 204);
/// ```
pub fn respond(res: auth_core::AuthResponse) -> axum::response::Response {
    convert::to_http(res)
}
