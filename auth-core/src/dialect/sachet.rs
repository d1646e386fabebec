//! `sachet`: Sachet's user API (Flask and PyJWT): one token type, renewed
//! by `extend`, revoked by `logout`.
//!
//! The routes, bodies, answers, errors and lifetimes are documented on
//! [`Sachet`], which is what rustdoc shows.

use std::time::Duration;

use serde_json::json;

use super::RouteContext;
use super::util::bearer;
use super::{Action, Dialect, Route};
use crate::authority::AuthorityConfig;
use crate::claims::TokenUse;
use crate::error::AuthError;
use crate::response::AuthResponse;

const ROUTES: &[Route] = &[
    Route::new("POST", "/login", Action::Login),
    Route::new("POST", "/extend", Action::Extend),
    Route::new("POST", "/logout", Action::Logout),
];

/// The role that may revoke other users' tokens.
pub const ADMIN_ROLE: &str = "admin";

/// The `sachet` dialect: Sachet's user API (a Flask app signing with
/// PyJWT), with one kind of token that `extend` renews and `logout`
/// revokes.
///
/// Mount it at `/users` ([`default_mount`](crate::Dialect::default_mount)):
/// the paths below are relative to the mount point, so `POST /login` is
/// `POST /users/login`. A request body is a JSON object or
/// `application/x-www-form-urlencoded`, its fields strings (see
/// [`Body::parse`](crate::Body::parse)).
///
/// | method and path | credential | request body | success |
/// |---|---|---|---|
/// | `POST /login` | none | `username`, `password`: both required | 200 `{"status": "success", "message": "Logged in.", "username": string, "auth_token": string}` |
/// | `POST /extend` | `Authorization: Bearer <token>` | none | 200 `{"status": "success", "message": "Renewed token.", "username": string, "auth_token": string}`, a new token; the presented one stays valid |
/// | `POST /logout` | `Authorization: Bearer <token>` | `token`: required, the token to revoke | 200 `{"status": "success", "message": "Token revoked."}` |
///
/// `logout` revokes the token named in the body together with every
/// token of the same login: the one it was extended from and all its
/// extensions. A user may revoke their own tokens; a user with role
/// `admin` anyone's.
///
/// # Errors
///
/// Every error is `{"status": "fail", "message": string}`, the message
/// the description, with the core's statuses:
///
/// | when | status | `message` |
/// |---|---|---|
/// | wrong password, or unknown user (the same answer) | 401, with `WWW-Authenticate: Bearer realm="api"` | `"invalid username or password"` |
/// | a missing or empty field | 400 | ``"missing field `token`"`` |
/// | `extend` or `logout` without a Bearer token | 401, with `WWW-Authenticate: Bearer realm="api"` | `"authentication is required"` |
/// | `extend` or `logout` with a refused Bearer token (expired, revoked, forged); `extend` past the session cap | 401, with an `invalid_token` challenge | for example `"the token has expired"`, `"the session has expired"` |
/// | `logout` of a token that is expired, not ours or already revoked | 400 | for example `"cannot revoke: the token has expired"`, `"the token is already revoked"` |
/// | `logout` of another user's token, without role `admin` | 403 | `"not allowed"` |
/// | too many failed logins; the store unreachable | 429 with `Retry-After`; 503 with `Retry-After` | the description |
/// | an unknown path; a known path with another method; a body too large or of another content type | 404; 405 with `Allow`; 413; 415 | the description |
///
/// Every answer carries `Cache-Control: no-store` and `Pragma: no-cache`;
/// a successful login also carries a device token for the login throttle
/// (the `Device-Token` header and cookie, see
/// [`device_token_in`](crate::device_token_in)).
///
/// # Tokens
///
/// [`default_config`](crate::Dialect::default_config) sets Sachet's own
/// lifetime: a token lives 7 days, and so does each extension; there is
/// no refresh token. No extension is given 30 days after the login
/// ([`DEFAULT_SESSION_CAP`](crate::DEFAULT_SESSION_CAP)). Tokens carry
/// `sub`, `iat`, `exp`, `jti`, `token_use` (`access`), `username`,
/// `roles` (when the user has any), `auth_time` (the login time, kept by
/// extensions) and `fam` (the login's id, shared by its extensions).
///
/// ```text
/// curl -X POST $BASE/users/login -H 'content-type: application/json' -d '{"username": "alice", "password": "s3cret"}'
/// curl -X POST $BASE/users/extend -H "Authorization: Bearer $TOKEN"
/// curl -X POST $BASE/users/logout -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d "{\"token\": \"$TOKEN\"}"
/// ```
///
/// # Example
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use auth_core::dialects::Sachet;
/// use auth_core::{AuthRequest, Authority, Dialect, JwtKey, KeySet, MemoryUsers, Principal, RouteSet};
///
/// let users = MemoryUsers::new();
/// users.add_user(Principal::new("1", "alice"), "s3cret").await.unwrap();
/// let authority = Authority::builder(KeySet::new(JwtKey::hs256("main", &[42u8; 32]).unwrap()).unwrap())
///     .users(users)
///     .config(Sachet.default_config())
///     .build();
/// // paths relative to the mount point, as a framework nesting the set at /users passes them
/// let routes = RouteSet::new(authority, Sachet);
///
/// let login = r#"{"username": "alice", "password": "s3cret"}"#;
/// let res = routes.handle(AuthRequest::new("POST", "/login").with_body(login)).await;
/// assert_eq!(res.status, 200);
/// let answer = res.json_body().unwrap();
/// assert_eq!(answer["message"], "Logged in.");
///
/// let token = answer["auth_token"].as_str().unwrap();
/// let res = routes
///     .handle(AuthRequest::new("POST", "/extend").with_authorization(format!("Bearer {token}")))
///     .await;
/// assert_eq!(res.json_body().unwrap()["message"], "Renewed token.");
/// # })
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Sachet;

fn success(message: &str, username: &str, token: &str) -> AuthResponse {
    AuthResponse::json(
        200,
        &json!({"status": "success", "message": message, "username": username, "auth_token": token}),
    )
}

#[async_trait::async_trait]
impl Dialect for Sachet {
    fn name(&self) -> &'static str {
        "sachet"
    }

    fn routes(&self) -> &[Route] {
        ROUTES
    }

    fn default_mount(&self) -> &'static str {
        "/users"
    }

    fn default_config(&self) -> AuthorityConfig {
        let week = Duration::from_secs(7 * 86_400);
        AuthorityConfig {
            access_ttl: week,
            refresh_ttl: week,
            rotate_refresh: false,
            ..AuthorityConfig::default()
        }
    }

    async fn handle(&self, action: Action, ctx: RouteContext<'_>) -> Result<AuthResponse, AuthError> {
        let authority = ctx.authority;
        match action {
            Action::Login => {
                let pair = authority
                    .login_access_from(
                        ctx.client(),
                        ctx.body.require("username")?,
                        ctx.body.require("password")?,
                    )
                    .await?;
                let username = pair.access_claims.username.as_deref().unwrap_or_default();
                Ok(success("Logged in.", username, &pair.access_token))
            }
            Action::Extend => {
                let pair = authority.extend(&bearer(ctx.request)?).await?;
                let username = pair.access_claims.username.clone().unwrap_or_default();
                Ok(success("Renewed token.", &username, &pair.access_token))
            }
            Action::Logout => {
                let caller = authority.authenticate_token(&bearer(ctx.request)?).await?;
                let target = ctx.body.require("token")?;
                let now = crate::time::now();
                let target = authority
                    .verify(target, TokenUse::Access, now)
                    .map_err(|e| AuthError::InvalidRequest(format!("cannot revoke: {e}")))?;
                if target.sub() != caller.sub() && !caller.claims.has_role(ADMIN_ROLE) {
                    return Err(AuthError::Forbidden);
                }
                match authority.check_revocation(&target.claims, now).await {
                    Ok(()) => {}
                    Err(AuthError::InvalidToken(_)) => {
                        return Err(AuthError::InvalidRequest("the token is already revoked".into()));
                    }
                    // the store is down: 503, not "already revoked"
                    Err(other) => return Err(other),
                }
                authority.revoke(&target.claims).await?;
                // and every extension of it: they share its family
                if let Some(family) = &target.claims.fam {
                    authority.revoke_family(family).await?;
                }
                Ok(AuthResponse::json(200, &json!({"status": "success", "message": "Token revoked."})))
            }
            _ => Err(AuthError::NotFound),
        }
    }

    fn error_body(&self, err: &AuthError) -> serde_json::Value {
        json!({"status": "fail", "message": err.to_string()})
    }
}
