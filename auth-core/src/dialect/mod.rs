//! Wire formats: which routes exist and how requests and responses look.
//!
//! A [`Dialect`] is a route table plus small functions: one handler per
//! [`Action`] and an error renderer. [`Standard`] is ours; users can write
//! their own.

mod standard;

pub use standard::Standard;

use crate::error::AuthError;
use crate::header::Scheme;
use crate::response::AuthResponse;
use crate::routes::RouteContext;

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Username and password in, tokens out.
    Login,
    /// Refresh token in, new tokens out.
    Refresh,
    /// A token in, whether it is live out.
    Verify,
    /// A valid token in, a fresh one out.
    Extend,
    /// Revoke the caller's tokens.
    Logout,
}

/// One route of a dialect: method, path below the mount point, action.
///
/// ```
/// use auth_core::{Action, Route};
/// const LOGIN: Route = Route::new("POST", "/login", Action::Login);
/// assert_eq!(LOGIN.path, "/login");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path below the mount point.
    pub path: &'static str,
    /// What the route does.
    pub action: Action,
}

impl Route {
    /// A route.
    pub const fn new(method: &'static str, path: &'static str, action: Action) -> Self {
        Self { method, path, action }
    }
}

/// A wire format. Implement it to speak an API this crate does not ship.
#[async_trait::async_trait]
pub trait Dialect: Send + Sync + 'static {
    /// A short name (`"standard"`).
    fn name(&self) -> &'static str;

    /// The routes, relative to the mount point.
    fn routes(&self) -> &[Route];

    /// The scheme protected routes expect and challenges name.
    fn scheme(&self) -> Scheme {
        Scheme::Bearer
    }

    /// Serves one matched route.
    async fn handle(&self, action: Action, ctx: RouteContext<'_>) -> Result<AuthResponse, AuthError>;

    /// Renders an error in this dialect's envelope, with the core's status
    /// and headers.
    fn render_error(&self, err: &AuthError) -> AuthResponse {
        err.to_response(self.scheme(), "api")
    }
}
