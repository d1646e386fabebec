//! axum extractors: raw schemes, the verified identity and a role guard.
//!
//! Rejections are [`AuthRejection`]s: the core's status, challenge and
//! body, the same a layer would send.

use std::marker::PhantomData;
use std::ops::Deref;

use auth_core::{
    AuthError, AuthResponse, Credentials, Guard, Identity, Scheme, parse_authorization, require_role,
};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::header::AUTHORIZATION;
use http::request::Parts;

use crate::convert::to_http;

/// Why an extractor refused a request. Holds the core's error and renders
/// the core's response for it (through the request's [`Guard`] when there
/// is one, so a custom error renderer applies here too).
///
/// ```
/// use auth_core::AuthError;
/// use auth_tower::AuthRejection;
/// let rejection = AuthRejection::from(AuthError::MissingCredentials);
/// assert_eq!(rejection.error().status(), 401);
/// ```
#[derive(Debug)]
pub struct AuthRejection {
    error: AuthError,
    response: AuthResponse,
}

impl AuthRejection {
    fn new(error: AuthError, guard: Option<&Guard>, scheme: Scheme) -> Self {
        let response = match guard {
            Some(g) => g.reject(&error),
            None => error.to_response(scheme, "api"),
        };
        Self { error, response }
    }

    /// A rejection rendered by `guard` (its scheme, realm and error shape):
    /// for handlers that make their own decisions through the core.
    pub fn from_guard(guard: &Guard, error: AuthError) -> Self {
        Self::new(error, Some(guard), guard.challenge_scheme())
    }

    /// The core's error.
    pub fn error(&self) -> &AuthError {
        &self.error
    }
}

impl From<AuthError> for AuthRejection {
    fn from(error: AuthError) -> Self {
        Self::new(error, None, Scheme::Bearer)
    }
}

impl std::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for AuthRejection {}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        to_http(self.response)
    }
}

fn credentials(parts: &Parts, scheme: Scheme) -> Result<Credentials, AuthRejection> {
    let guard = parts.extensions.get::<Guard>();
    let value = parts.headers.get(AUTHORIZATION).map(|v| v.as_bytes());
    match parse_authorization(value) {
        Ok(c) if c.scheme() == scheme => Ok(c),
        Ok(_) => Err(AuthRejection::new(AuthError::MissingCredentials, guard, scheme)),
        Err(e) => Err(AuthRejection::new(e.into(), guard, scheme)),
    }
}

macro_rules! token_extractor {
    ($(#[$doc:meta])* $name:ident) => {
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
                match credentials(parts, Scheme::$name)? {
                    Credentials::$name(token) => Ok(Self(token)),
                    _ => Err(AuthRejection::new(AuthError::MissingCredentials, None, Scheme::$name)),
                }
            }
        }
    };
}

token_extractor!(
    /// The token of an `Authorization: Bearer <token>` header.
    ///
    /// ```
    /// async fn handler(auth_tower::Bearer(token): auth_tower::Bearer) -> String { token.len().to_string() }
    /// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
    /// ```
    Bearer
);
token_extractor!(
    /// The token of an `Authorization: Token <token>` header (Django REST style).
    ///
    /// ```
    /// async fn handler(auth_tower::Token(token): auth_tower::Token) -> String { token.len().to_string() }
    /// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
    /// ```
    Token
);

/// The user-id and password of an `Authorization: Basic` header. Only
/// parses the header; it checks no password.
///
/// ```
/// async fn handler(basic: auth_tower::Basic) -> String { basic.user }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Basic {
    /// The user-id.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Basic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Basic").field("user", &self.user).finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Basic {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match credentials(parts, Scheme::Basic)? {
            Credentials::Basic { user, password } => Ok(Self { user, password }),
            _ => Err(AuthRejection::new(AuthError::MissingCredentials, None, Scheme::Basic)),
        }
    }
}

/// The verified identity of the request.
///
/// Uses what [`AuthLayer`](crate::AuthLayer) inserted; without the layer,
/// it verifies the request itself with a [`Guard`] found in the request
/// extensions (add one with `axum::Extension(guard)`). As
/// `Option<Authenticated>`, requests without credentials give `None` while
/// invalid credentials are still refused.
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
pub struct Authenticated(pub Identity);

impl Deref for Authenticated {
    type Target = Identity;

    fn deref(&self) -> &Identity {
        &self.0
    }
}

async fn identity(parts: &Parts) -> Result<Option<Identity>, AuthRejection> {
    if let Some(identity) = parts.extensions.get::<Identity>() {
        return Ok(Some(identity.clone()));
    }
    // Neither the layer nor an `Extension(guard)`: a wiring mistake, shown as 503.
    let Some(guard) = parts.extensions.get::<Guard>() else {
        return Err(AuthRejection::new(AuthError::Unavailable, None, Scheme::Bearer));
    };
    let value = parts.headers.get(AUTHORIZATION).map(|v| v.as_bytes());
    // The guard decides; a request without credentials is anonymous here,
    // and the required extractor turns that into a 401 below.
    match guard.clone().optional(true).check(value).await {
        Ok(identity) => Ok(identity),
        Err(err) => Err(AuthRejection::new(err, Some(guard), guard.challenge_scheme())),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match identity(parts).await? {
            Some(identity) => Ok(Self(identity)),
            None => {
                let guard = parts.extensions.get::<Guard>();
                let scheme = guard.map_or(Scheme::Bearer, Guard::challenge_scheme);
                Err(AuthRejection::new(AuthError::MissingCredentials, guard, scheme))
            }
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(identity(parts).await?.map(Self))
    }
}

/// A role (or scope) name for [`RequireRole`].
///
/// ```
/// struct Admin;
/// impl auth_tower::Role for Admin {
///     const NAME: &'static str = "admin";
/// }
/// ```
pub trait Role: Send + Sync + 'static {
    /// The role or scope required.
    const NAME: &'static str;
}

/// The verified identity, required to have role (or scope) `R`; otherwise
/// 403 `insufficient_scope`.
///
/// ```
/// use auth_tower::{RequireRole, Role};
/// struct Admin;
/// impl Role for Admin { const NAME: &'static str = "admin"; }
/// async fn admin_only(admin: RequireRole<Admin>) -> String { admin.username().to_owned() }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(admin_only));
/// ```
pub struct RequireRole<R: Role> {
    identity: Identity,
    _role: PhantomData<R>,
}

impl<R: Role> std::fmt::Debug for RequireRole<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireRole").field("role", &R::NAME).field("identity", &self.identity).finish()
    }
}

impl<R: Role> RequireRole<R> {
    /// The identity.
    pub fn into_inner(self) -> Identity {
        self.identity
    }
}

impl<R: Role> Deref for RequireRole<R> {
    type Target = Identity;

    fn deref(&self) -> &Identity {
        &self.identity
    }
}

impl<S: Send + Sync, R: Role> FromRequestParts<S> for RequireRole<R> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Authenticated(identity) =
            <Authenticated as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        let guard = parts.extensions.get::<Guard>();
        let scheme = guard.map_or(Scheme::Bearer, Guard::challenge_scheme);
        require_role(&identity, R::NAME).map_err(|e| AuthRejection::new(e, guard, scheme))?;
        Ok(Self { identity, _role: PhantomData })
    }
}
