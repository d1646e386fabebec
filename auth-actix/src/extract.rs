//! actix-web extractors: raw schemes, the verified identity and a role guard.
//!
//! Rejections are [`AuthRejection`]s, `ResponseError`s that render the
//! core's status, challenge and body, the same the middleware would send.

use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::dev::{Extensions, Payload};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use auth_core::{
    AuthError, AuthGuard, AuthIdentity, Check, CheckResult, Credentials, MaybeIdentity, Rejection, Role,
    Scheme, credentials_of, require_role,
};
use futures_util::future::{Either, LocalBoxFuture};

use crate::convert::{authorization, peer, to_http};

/// Why an extractor refused a request: the core's [`Rejection`] (rendered
/// through the request's [`AuthGuard`] when there is one), as a `ResponseError`.
///
/// ```
/// use auth_core::AuthError;
/// use actix_web::ResponseError;
/// let rejection = auth_actix::AuthRejection::from(AuthError::MissingCredentials);
/// assert_eq!(rejection.status_code().as_u16(), 401);
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

impl ResponseError for AuthRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        to_http(self.0.response.clone())
    }
}

/// The guard of the middleware that ran for this request (it leaves its
/// guard in the request's extensions). Only the middleware: actix's own
/// `Option<T>` extractor turns every error of `T` into `None`, so an
/// extractor that verified a token by itself could see an invalid token
/// hidden as "anonymous". Behind the middleware an invalid token never
/// reaches an extractor.
fn guard_in(extensions: &Extensions) -> Option<&AuthGuard> {
    extensions.get::<AuthGuard>()
}

/// [`guard_in`], owned.
fn guard_of(req: &HttpRequest) -> Option<AuthGuard> {
    guard_in(&req.extensions()).cloned()
}

fn credentials(req: &HttpRequest, scheme: Scheme) -> Result<Credentials, AuthRejection> {
    credentials_of(&authorization(req.headers()).into_owned(), scheme)
        .map_err(|e| AuthRejection(Rejection::new(e, guard_of(req).as_ref(), scheme)))
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

        impl FromRequest for $name {
            type Error = AuthRejection;
            type Future = Ready<Result<Self, Self::Error>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                ready(credentials(req, Scheme::$scheme).and_then(|c| match c {
                    Credentials::$scheme(token) => Ok(Self(token)),
                    _ => Err(AuthError::MissingCredentials.into()),
                }))
            }
        }
    };
}

token_extractor!(
    /// The token of an `Authorization: Bearer <token>` header.
    ///
    /// ```
    /// async fn handler(auth_actix::BearerHeader(token): auth_actix::BearerHeader) -> String { token.len().to_string() }
    /// # let _ = actix_web::web::get().to(handler);
    /// ```
    BearerHeader,
    Bearer
);
token_extractor!(
    /// The token of an `Authorization: Token <token>` header (Django REST style).
    ///
    /// ```
    /// async fn handler(auth_actix::TokenHeader(token): auth_actix::TokenHeader) -> String { token.len().to_string() }
    /// # let _ = actix_web::web::get().to(handler);
    /// ```
    TokenHeader,
    Token
);

/// The user-id and password of an `Authorization: Basic` header. Only
/// parses the header; it checks no password.
///
/// ```
/// async fn handler(basic: auth_actix::BasicHeader) -> String { basic.user }
/// # let _ = actix_web::web::get().to(handler);
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

impl FromRequest for BasicHeader {
    type Error = AuthRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(credentials(req, Scheme::Basic).and_then(|c| match c {
            Credentials::Basic { user, password } => Ok(Self { user, password }),
            _ => Err(AuthError::MissingCredentials.into()),
        }))
    }
}

/// What the identity extractors answer with: at once when the middleware
/// already decided (or the check needed no I/O), boxed only when the check
/// must wait.
type Extracted<T> =
    Either<Ready<Result<T, AuthRejection>>, LocalBoxFuture<'static, Result<T, AuthRejection>>>;

/// The core's rule ([`AuthGuard::extract`]): the middleware's identity, else
/// the middleware's guard on the credentials, else 500 (no middleware ran:
/// a wiring mistake, logged); then `finish` turns
/// the outcome into the extractor (rendering refusals through the guard).
fn extract<T: 'static>(
    req: &HttpRequest,
    finish: fn(CheckResult, Option<&AuthGuard>) -> Result<T, AuthRejection>,
) -> Extracted<T> {
    let extensions = req.extensions();
    let guard = guard_in(&extensions);
    let found = extensions.get::<AuthIdentity>();
    if let Some(identity) = found {
        // what the middleware admitted: the headers need not be read again
        return Either::Left(ready(finish(Ok(Some(identity.clone())), guard)));
    }
    let check = AuthGuard::extract(found, guard, authorization(req.headers()), || {
        peer(req.headers(), req.peer_addr())
    });
    match check {
        Check::Ready(outcome) => Either::Left(ready(finish(outcome, guard))),
        Check::Pending(pending) => {
            let guard = guard.cloned();
            Either::Right(Box::pin(async move { finish(pending.await, guard.as_ref()) }))
        }
    }
}

/// The identity, or the 401 for its absence rendered by the guard.
fn required(outcome: CheckResult, guard: Option<&AuthGuard>) -> Result<AuthIdentity, AuthRejection> {
    match outcome {
        Ok(Some(identity)) => Ok(identity),
        Ok(None) => Err(AuthRejection(Rejection::from_guard(AuthError::MissingCredentials, guard))),
        Err(err) => Err(AuthRejection(Rejection::from_guard(err, guard))),
    }
}

/// The verified identity of the request, as [`AuthMiddleware`](crate::AuthMiddleware)
/// decided it (`.wrap(authority.middleware())`); without the middleware the
/// route answers 500 and logs an `error` naming the fix.
///
/// ```
/// async fn whoami(id: auth_actix::Authenticated) -> actix_web::HttpResponse {
///     actix_web::HttpResponse::Ok().json(id.summary())
/// }
/// # let _ = actix_web::web::get().to(whoami);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated(pub AuthIdentity);

impl Deref for Authenticated {
    type Target = AuthIdentity;

    fn deref(&self) -> &AuthIdentity {
        &self.0
    }
}

impl FromRequest for Authenticated {
    type Error = AuthRejection;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |outcome, guard| required(outcome, guard).map(Self))
    }
}

/// The identity if the request has credentials, `None` if it has none; a
/// present but invalid credential is still refused (unlike actix's
/// `Option<Authenticated>`, which would hide the error).
///
/// ```
/// async fn maybe(auth_actix::MaybeAuthenticated(id): auth_actix::MaybeAuthenticated) -> String {
///     id.map_or("anonymous".into(), |id| id.username().to_owned())
/// }
/// # let _ = actix_web::web::get().to(maybe);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaybeAuthenticated(pub Option<AuthIdentity>);

impl MaybeIdentity for MaybeAuthenticated {
    fn identity(&self) -> Option<&AuthIdentity> {
        self.0.as_ref()
    }
}

impl FromRequest for MaybeAuthenticated {
    type Error = AuthRejection;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |outcome, guard| match outcome {
            Ok(identity) => Ok(Self(identity)),
            Err(err) => Err(AuthRejection(Rejection::from_guard(err, guard))),
        })
    }
}

/// The verified identity, required to have role (or scope) `R`; otherwise
/// 403 `insufficient_scope`.
///
/// ```
/// use auth_actix::RequireRole;
/// auth_core::role!(Admin = "admin");
/// async fn admin_only(admin: RequireRole<Admin>) -> String { admin.username().to_owned() }
/// # let _ = actix_web::web::get().to(admin_only);
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

impl<R: Role> FromRequest for RequireRole<R> {
    type Error = AuthRejection;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |outcome, guard| {
            let identity = required(outcome, guard)?;
            require_role(&identity, R::NAME).map_err(|e| AuthRejection(Rejection::from_guard(e, guard)))?;
            Ok(Self { identity, _role: PhantomData })
        })
    }
}
