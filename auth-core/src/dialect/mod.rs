//! Wire formats: which routes exist and how requests and responses look.
//!
//! A [`Dialect`] is a route table plus small functions: one handler per
//! [`Action`] and an error renderer. [`Standard`] is ours; users can write
//! their own.

mod context;
mod datarhei;
mod drf;
mod echome;
mod jwks;
mod keytoken;
mod sachet;
pub(crate) mod standard;

pub use context::RouteContext;
pub use datarhei::{DATARHEI_APP, DATARHEI_VERSION, Datarhei, ExternalIdentity};
pub use drf::Drf;
pub use echome::Echome;
pub use jwks::{JWKS_MAX_AGE, Jwks};
pub use keytoken::{KEYTOKEN_SESSION_CAP, Keytoken};
pub use sachet::Sachet;
pub use standard::Standard;

use crate::authority::AuthorityConfig;
use crate::describe::{RouteDoc, Shape};
use crate::error::AuthError;
use crate::header::Scheme;
use crate::response::AuthResponse;

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
    /// Create a user and log them in.
    Signup,
    /// The service's description (datarhei's `GET /api`).
    About,
    /// The public keys, as a JWK Set ([`Jwks`]).
    Jwks,
}

/// One route of a dialect: method, path below the mount point, action,
/// and what it looks like on the wire.
///
/// ```
/// use auth_core::describe::{Credential, Field, RouteDoc};
/// use auth_core::{Action, Route};
/// const LOGIN_DOC: RouteDoc = RouteDoc::new("Logs in", Credential::None)
///     .body(&[Field::required("username", "who"), Field::required("password", "their password")]);
/// const LOGIN: Route = Route::new("POST", "/login", Action::Login).described(&LOGIN_DOC);
/// assert_eq!(LOGIN.path, "/login");
/// assert_eq!(LOGIN.doc.unwrap().summary, "Logs in");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path below the mount point.
    pub path: &'static str,
    /// What the route does.
    pub action: Action,
    /// Its wire description: fields, answers, errors. What
    /// [`RouteSet::openapi`](crate::RouteSet::openapi) documents it with
    /// (`None`: only its method and path).
    pub doc: Option<&'static RouteDoc>,
}

impl Route {
    /// A route, not yet described.
    pub const fn new(method: &'static str, path: &'static str, action: Action) -> Self {
        Self { method, path, action, doc: None }
    }

    /// With its wire description.
    pub const fn described(mut self, doc: &'static RouteDoc) -> Self {
        self.doc = Some(doc);
        self
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

    /// The JSON body of an error in this dialect's envelope.
    fn error_body(&self, err: &AuthError) -> serde_json::Value {
        err.body()
    }

    /// The status of an error in this dialect (default: the core's).
    fn error_status(&self, err: &AuthError) -> u16 {
        err.status()
    }

    /// The JSON shape of this dialect's error bodies with `status`
    /// ([`error_body`](Self::error_body)), for its OpenAPI description.
    /// Default: the core's `{"error", "error_description"}`.
    fn error_shape(&self, status: u16) -> Shape {
        let _ = status;
        crate::describe::OAUTH_ERROR
    }

    /// The lifetimes, rotation and claims this dialect's real server uses.
    /// Callers start from this and override what they configure.
    fn default_config(&self) -> AuthorityConfig {
        AuthorityConfig::default()
    }

    /// The path the real API serves this dialect's routes under (`/auth`,
    /// `/api`...): where to mount its [`RouteSet`](crate::RouteSet), with
    /// [`RouteSet::at`](crate::RouteSet::at) or the framework's nesting.
    /// Empty (the default) for the site root.
    fn default_mount(&self) -> &'static str {
        ""
    }

    /// Whether the dialect's login, refresh and logout can answer with
    /// cookies ([`RouteSet::cookies`](crate::RouteSet::cookies)): only a
    /// dialect whose routes are [`Standard`]'s. The real APIs' dialects
    /// keep their wire formats.
    fn supports_cookies(&self) -> bool {
        false
    }

    /// Renders an error of the route set: the dialect's status and body,
    /// the core's headers. A token endpoint is not a protected resource,
    /// so only its 401s carry a `WWW-Authenticate` challenge.
    fn render_error(&self, err: &AuthError) -> AuthResponse {
        let body = AuthResponse::json(self.error_status(err), &self.error_body(err));
        let mut res = err.with_headers(body, self.scheme(), "api");
        if res.status != 401 {
            res.headers.retain(|(name, _)| *name != "www-authenticate");
        }
        res
    }
}

/// Helpers the dialects share.
pub(crate) mod util {
    use crate::error::AuthError;
    use crate::header::{Credentials, Scheme, credentials_of};
    use crate::response::AuthRequest;

    /// A login route's pair: from `external` when the request carries a
    /// token and no username or password (an identity provider's login),
    /// else from the throttled password check.
    pub(crate) async fn password_or_external(
        ctx: &super::RouteContext<'_>,
        external: Option<&dyn crate::external::ExternalIdentity>,
    ) -> Result<crate::authority::TokenPair, AuthError> {
        let has_password = ctx.body.has("username") || ctx.body.has("password");
        match external {
            Some(external) if !has_password && ctx.request.authorization.is_present() => {
                let token = bearer(ctx.request)?;
                ctx.authority.login_external_via(external, ctx.client(), &token).await
            }
            _ => {
                let (username, password) = (ctx.body.require("username")?, ctx.body.require("password")?);
                ctx.authority.login_from(ctx.client(), username, password).await
            }
        }
    }

    /// The request's `Bearer` token; 401 without one (or with another
    /// scheme), 400 if malformed or repeated.
    pub(crate) fn bearer(request: &AuthRequest) -> Result<String, AuthError> {
        match credentials_of(&request.authorization, Scheme::Bearer)? {
            Credentials::Bearer(token) => Ok(token),
            _ => Err(AuthError::MissingCredentials),
        }
    }

    /// The last second ISO-8601 can write with four year digits.
    const MAX_ISO8601: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z

    /// Seconds since the epoch as ISO-8601 UTC with milliseconds
    /// (`2015-04-29T13:29:25.000Z`), as JavaScript's `Date` and Django print.
    /// Clamped to 1970..=9999: the formatter cannot write a five-digit year
    /// (and would panic), and no token of ours lives that long.
    pub(crate) fn iso8601(ts: i64) -> String {
        let secs = ts.clamp(0, MAX_ISO8601).unsigned_abs();
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        humantime::format_rfc3339_millis(time).to_string()
    }

    /// A principal id as JSON: a number when it is numeric.
    pub(crate) fn id_value(id: &str) -> serde_json::Value {
        id.parse::<i64>().map_or_else(|_| id.into(), serde_json::Value::from)
    }

    /// The HTTP reason phrase of the statuses the core produces.
    pub(crate) fn reason(status: u16) -> &'static str {
        match status {
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            413 => "Payload Too Large",
            415 => "Unsupported Media Type",
            429 => "Too Many Requests",
            503 => "Service Unavailable",
            _ => "Error",
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn iso8601_never_panics() {
            assert_eq!(super::iso8601(0), "1970-01-01T00:00:00.000Z");
            assert_eq!(super::iso8601(-5), "1970-01-01T00:00:00.000Z");
            assert_eq!(super::iso8601(super::MAX_ISO8601), "9999-12-31T23:59:59.000Z");
            // the year 10000 and beyond
            assert_eq!(super::iso8601(253_402_300_800), "9999-12-31T23:59:59.000Z");
            assert_eq!(super::iso8601(i64::MAX), "9999-12-31T23:59:59.000Z");
        }
    }
}

/// The tests' check of a real answer against its route's description.
#[cfg(test)]
pub(crate) mod test_doc {
    use serde_json::Value;

    use super::Dialect;
    use crate::client::Peer;
    use crate::response::{AuthRequest, AuthResponse};
    use crate::routes::RouteSet;

    /// A request from the tests' client address (192.0.2.7), with this
    /// `Authorization` and JSON body when given.
    pub(crate) fn request(
        method: &str,
        path: &str,
        authorization: Option<String>,
        body: Option<&Value>,
    ) -> AuthRequest {
        let mut request =
            AuthRequest::new(method, path).with_peer(Peer::new(Some("192.0.2.7".parse().expect("ip"))));
        if let Some(value) = authorization {
            request = request.with_authorization(value);
        }
        if let Some(body) = body {
            request = request.with_content_type("application/json").with_body(body.to_string());
        }
        request
    }

    /// Answers `request` and holds the answer to its route's description
    /// ([`assert_documented`]).
    pub(crate) async fn handle_documented(routes: &RouteSet, request: AuthRequest) -> AuthResponse {
        let (method, path) = (request.method.clone(), request.path.clone());
        let res = routes.handle(request).await;
        assert_documented(routes.dialect(), &method, &path, &res);
        res
    }

    /// Holds `res`, the answer of `method path` in `dialect`, to the
    /// route's description: a documented reply (its status, required
    /// headers and body shape), or a documented error status in the
    /// dialect's error shape. Shared by the dialects' tests.
    fn assert_documented(dialect: &dyn Dialect, method: &str, path: &str, res: &AuthResponse) {
        let route = dialect.routes().iter().find(|r| r.method == method && r.path == path).expect("a route");
        let doc = route.doc.expect("a described route");
        let body = res.json_body().unwrap_or(Value::Null);
        let at = format!("{} {method} {path} answered {} {body}", dialect.name(), res.status);
        let shape = match doc.replies.iter().find(|r| r.status == res.status) {
            Some(reply) => {
                for documented in reply.headers.iter().filter(|h| h.required) {
                    assert!(res.header(documented.name).is_some(), "{at}: no {}", documented.name);
                }
                if reply.headers.iter().any(|h| h.name.eq_ignore_ascii_case("cache-control")) {
                    assert_eq!(res.header("pragma"), None, "{at}: its own caching implies no Pragma");
                }
                reply.body
            }
            None => {
                assert!(doc.error_statuses().contains(&res.status), "{at}: an undocumented status");
                Some(dialect.error_shape(res.status))
            }
        };
        match shape {
            Some(shape) => {
                if let Err(why) = shape.admits(&body) {
                    panic!("{at}: not the documented shape: {why}");
                }
            }
            None => assert!(res.body.is_empty(), "{at}: a body where none is documented"),
        }
    }
}
