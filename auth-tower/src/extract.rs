//! axum extractors: raw schemes, the verified identity and a role guard.
//!
//! Rejections are [`AuthRejection`]s: the core's status, challenge and
//! body, the same a layer would send.

use std::marker::PhantomData;
use std::ops::Deref;

use auth_core::{
    AuthError, AuthGuard, AuthIdentity, Credentials, MaybeIdentity, Rejection, Role, Scheme, credentials_of,
    require_role,
};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::convert::{authorization, peer, to_http};

/// Why an extractor refused a request: the core's [`Rejection`] (rendered
/// through the request's [`AuthGuard`] when there is one, so a custom error
/// renderer applies here too).
///
/// ```
/// use auth_core::AuthError;
/// use auth_tower::AuthRejection;
/// let rejection = AuthRejection::from(AuthError::MissingCredentials);
/// assert_eq!(rejection.error().status(), 401);
/// ```
#[derive(Debug)]
pub struct AuthRejection(Rejection);

impl AuthRejection {
    /// A rejection rendered by `guard` (its scheme, realm and error shape):
    /// for handlers that make their own decisions through the core.
    pub fn from_guard(guard: &AuthGuard, error: AuthError) -> Self {
        Self(Rejection::from_guard(error, Some(guard)))
    }

    /// The core's error.
    pub fn error(&self) -> &AuthError {
        &self.0.error
    }
}

impl From<AuthError> for AuthRejection {
    fn from(error: AuthError) -> Self {
        Self(Rejection::from_guard(error, None))
    }
}

impl std::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.error.fmt(f)
    }
}

impl std::error::Error for AuthRejection {}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        to_http(self.0.response)
    }
}

fn credentials(parts: &Parts, scheme: Scheme) -> Result<Credentials, AuthRejection> {
    credentials_of(&authorization(&parts.headers).into_owned(), scheme)
        .map_err(|e| AuthRejection(Rejection::new(e, parts.extensions.get::<AuthGuard>(), scheme)))
}

macro_rules! token_extractor {
    ($(#[$doc:meta])* $name:ident, $scheme:ident) => {
        $(#[$doc])*
        ///
        /// Only parses the header; it does not verify the token.
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(pub String);

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = AuthRejection;

            async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
                match credentials(parts, Scheme::$scheme)? {
                    Credentials::$scheme(token) => Ok(Self(token)),
                    _ => Err(AuthError::MissingCredentials.into()),
                }
            }
        }
    };
}

token_extractor!(
    /// The token of an `Authorization: Bearer <token>` header.
    ///
    /// ```
    /// async fn handler(auth_tower::BearerHeader(token): auth_tower::BearerHeader) -> String { token.len().to_string() }
    /// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
    /// ```
    BearerHeader,
    Bearer
);
token_extractor!(
    /// The token of an `Authorization: Token <token>` header (Django REST style).
    ///
    /// ```
    /// async fn handler(auth_tower::TokenHeader(token): auth_tower::TokenHeader) -> String { token.len().to_string() }
    /// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
    /// ```
    TokenHeader,
    Token
);

/// The user-id and password of an `Authorization: Basic` header. Only
/// parses the header; it checks no password.
///
/// ```
/// async fn handler(basic: auth_tower::BasicHeader) -> String { basic.user }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct BasicHeader {
    /// The user-id.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for BasicHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicHeader").field("user", &self.user).finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BasicHeader {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match credentials(parts, Scheme::Basic)? {
            Credentials::Basic { user, password } => Ok(Self { user, password }),
            _ => Err(AuthError::MissingCredentials.into()),
        }
    }
}

/// The verified identity of the request.
///
/// Uses what [`AuthLayer`](crate::AuthLayer) decided (`.route_layer(authority.layer())`);
/// without the layer, it verifies the request itself with an [`AuthGuard`]
/// found in the request extensions (add one with `axum::Extension(guard)`);
/// with neither, the route answers 500 and logs an `error` naming the fix.
/// As `Option<Authenticated>` (or [`MaybeAuthenticated`]), requests without
/// credentials give `None` while invalid credentials are still refused.
///
/// ```
/// use auth_tower::Authenticated;
/// async fn whoami(id: Authenticated) -> axum::Json<serde_json::Value> { axum::Json(id.summary()) }
/// async fn maybe(id: Option<Authenticated>) -> String {
///     id.map_or("anonymous".into(), |id| id.username().to_owned())
/// }
/// # let _: axum::Router = axum::Router::new().route("/a", axum::routing::get(whoami)).route("/b", axum::routing::get(maybe));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated(pub AuthIdentity);

impl Deref for Authenticated {
    type Target = AuthIdentity;

    fn deref(&self) -> &AuthIdentity {
        &self.0
    }
}

/// The identity the layer inserted, else the guard's verdict on the
/// request's credentials (`None`: there were none): the core's rule
/// ([`AuthGuard::extract`]).
async fn identity(parts: &Parts) -> Result<Option<AuthIdentity>, AuthRejection> {
    let found = parts.extensions.get::<AuthIdentity>();
    if let Some(identity) = found {
        // what the layer admitted: the headers need not be read again
        return Ok(Some(identity.clone()));
    }
    let guard = parts.extensions.get::<AuthGuard>();
    let check = AuthGuard::extract(found, guard, authorization(&parts.headers), || {
        peer(&parts.headers, &parts.extensions)
    });
    check.outcome().await.map_err(|e| AuthRejection(Rejection::from_guard(e, guard)))
}

/// The identity, or the 401 for its absence rendered by the request's guard.
async fn required(parts: &Parts) -> Result<AuthIdentity, AuthRejection> {
    identity(parts).await?.ok_or_else(|| {
        AuthRejection(Rejection::from_guard(
            AuthError::MissingCredentials,
            parts.extensions.get::<AuthGuard>(),
        ))
    })
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        required(parts).await.map(Self)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(identity(parts).await?.map(Self))
    }
}

/// The identity if the request has credentials, `None` if it has none; a
/// present but invalid credential is still refused with 401. The same
/// extractor, with the same meaning, as `auth_actix::MaybeAuthenticated`
/// (in axum `Option<Authenticated>` means the same too). Put the route
/// behind `authority.layer().optional()`.
///
/// ```
/// use auth_tower::prelude::*;
/// async fn hello(MaybeAuthenticated(id): MaybeAuthenticated) -> String {
///     id.map_or("hello, stranger".into(), |id| format!("hello, {}", id.username()))
/// }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(hello));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaybeAuthenticated(pub Option<AuthIdentity>);

impl MaybeIdentity for MaybeAuthenticated {
    fn identity(&self) -> Option<&AuthIdentity> {
        self.0.as_ref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeAuthenticated {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        identity(parts).await.map(Self)
    }
}

/// The verified identity, required to have role (or scope) `R`; otherwise
/// 403 `insufficient_scope`.
///
/// ```
/// use auth_tower::RequireRole;
/// auth_core::role!(Admin = "admin");
/// async fn admin_only(admin: RequireRole<Admin>) -> String { admin.username().to_owned() }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(admin_only));
/// ```
pub struct RequireRole<R: Role> {
    identity: AuthIdentity,
    _role: PhantomData<R>,
}

impl<R: Role> std::fmt::Debug for RequireRole<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireRole").field("role", &R::NAME).field("identity", &self.identity).finish()
    }
}

impl<R: Role> RequireRole<R> {
    /// The identity.
    pub fn into_inner(self) -> AuthIdentity {
        self.identity
    }
}

impl<R: Role> Deref for RequireRole<R> {
    type Target = AuthIdentity;

    fn deref(&self) -> &AuthIdentity {
        &self.identity
    }
}

impl<S: Send + Sync, R: Role> FromRequestParts<S> for RequireRole<R> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let identity = required(parts).await?;
        require_role(&identity, R::NAME)
            .map_err(|e| AuthRejection(Rejection::from_guard(e, parts.extensions.get::<AuthGuard>())))?;
        Ok(Self { identity, _role: PhantomData })
    }
}
