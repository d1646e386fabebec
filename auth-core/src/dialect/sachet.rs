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
use crate::describe::{Credential, Field, Prop, Reply, RouteDoc, Shape};
use crate::error::AuthError;
use crate::response::AuthResponse;

const ROUTES: &[Route] = &[
    Route::new("POST", "/login", Action::Login).described(&LOGIN),
    Route::new("POST", "/extend", Action::Extend).described(&EXTEND),
    Route::new("POST", "/logout", Action::Logout).described(&LOGOUT),
];

const LOGIN: RouteDoc = RouteDoc::new("Logs in with a username and password", Credential::None)
    .description(
        "A wrong password and an unknown user get the same 401. There is no refresh token: `extend` renews \
         this one.",
    )
    .body(super::standard::LOGIN_FIELDS)
    .replies(&[Reply::json(
        200,
        "Logged in: the username and a token",
        Shape::Object(&[
            Prop::required("status", Shape::Const("success")),
            Prop::required("message", Shape::Const("Logged in.")),
            Prop::required("username", Shape::Str),
            Prop::required("auth_token", Shape::Str),
        ]),
    )])
    .errors(&[401, 429, 503]);

const EXTEND: RouteDoc = RouteDoc::new("Renews the caller's token", Credential::Required)
    .description(
        "A new token of the same login for the Bearer token, which stays valid. No extension is given once \
         the session cap since the login is over (30 days by default).",
    )
    .replies(&[Reply::json(
        200,
        "Renewed: the username and a new token",
        Shape::Object(&[
            Prop::required("status", Shape::Const("success")),
            Prop::required("message", Shape::Const("Renewed token.")),
            Prop::required("username", Shape::Str),
            Prop::required("auth_token", Shape::Str),
        ]),
    )])
    .errors(&[503]);

const LOGOUT: RouteDoc = RouteDoc::new("Revokes a token and its login", Credential::Required)
    .description(
        "Revokes the token named in the body with every token of its login (the one it was extended from \
         and all its extensions). A user may revoke their own tokens, a user with role `admin` anyone's: \
         another user's token is a 403. A token that is expired, not ours or already revoked is a 400.",
    )
    .body(&[Field::required("token", "The token to revoke")])
    .replies(&[Reply::json(
        200,
        "Revoked",
        Shape::Object(&[
            Prop::required("status", Shape::Const("success")),
            Prop::required("message", Shape::Const("Token revoked.")),
        ]),
    )])
    .errors(&[403, 503]);

/// Every error: `{"status": "fail", "message": string}`.
const FAIL: Shape =
    Shape::Object(&[Prop::required("status", Shape::Const("fail")), Prop::required("message", Shape::Str)]);

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
                // who asked: an administrator may log out another user's token
                let actor = caller.sub().to_owned();
                crate::audit::note(|t| t.actor_id = Some(actor));
                let target = ctx.body.require("token")?;
                let now = crate::time::now();
                let target = authority.verify(target, TokenUse::Access, now).map_err(|e| {
                    crate::audit::note_refused_token(&AuthError::InvalidToken(e));
                    AuthError::InvalidRequest(format!("cannot revoke: {e}"))
                })?;
                // the session concerned, named even when the logout is refused
                crate::audit::note_session(target.sub(), target.claims.fam.as_deref());
                if target.sub() != caller.sub() && !caller.claims.has_role(ADMIN_ROLE) {
                    return Err(AuthError::Forbidden);
                }
                match authority.check_revocation(&target.claims, now).await {
                    Ok(()) => {}
                    Err(refused @ AuthError::InvalidToken(_)) => {
                        crate::audit::note_refused_token(&refused);
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

    fn error_shape(&self, _status: u16) -> Shape {
        FAIL
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::Sachet;
    use crate::dialect::test_doc::{handle_documented, request};
    use crate::tests::{Outage, keys, rt, users};
    use crate::{AuthResponse, Authority, Dialect, RouteSet};

    async fn call(routes: &RouteSet, path: &str, bearer: Option<&str>, body: Option<Value>) -> AuthResponse {
        let authorization = bearer.map(|token| format!("Bearer {token}"));
        handle_documented(routes, request("POST", path, authorization, body.as_ref())).await
    }

    #[test]
    fn every_answer_has_its_documented_shape() {
        rt().block_on(async {
            let store = Outage::default();
            let config = Sachet
                .default_config()
                .login_throttle(1, Duration::from_secs(60))
                .hold_refusals(Duration::ZERO, 0);
            let authority =
                Authority::builder(keys()).users(users()).store(store.clone()).config(config).build();
            let routes = RouteSet::new(authority, Sachet);
            let login = |username: &'static str| {
                let routes = &routes;
                async move {
                    let body = json!({"username": username, "password": format!("{username}-pw")});
                    let res = call(routes, "/login", None, Some(body)).await;
                    assert_eq!(res.status, 200);
                    res.json_body().expect("json")["auth_token"].as_str().expect("token").to_owned()
                }
            };

            let (alice, bob) = (login("alice").await, login("bob").await);
            let res = call(&routes, "/extend", Some(&bob), None).await;
            let extended = res.json_body().expect("json")["auth_token"].as_str().expect("token").to_owned();
            let res = call(&routes, "/logout", Some(&bob), Some(json!({"token": extended}))).await;
            assert_eq!(res.status, 200);
            let other = login("bob").await;
            let res = call(&routes, "/logout", Some(&alice), Some(json!({"token": other}))).await;
            assert_eq!(res.status, 200, "an admin revokes anyone's");

            // errors
            let bob = login("bob").await;
            assert_eq!(call(&routes, "/logout", Some(&bob), Some(json!({"token": alice}))).await.status, 403);
            assert_eq!(call(&routes, "/logout", Some(&bob), Some(json!({"token": other}))).await.status, 400);
            assert_eq!(call(&routes, "/logout", Some(&bob), Some(json!({}))).await.status, 400);
            assert_eq!(call(&routes, "/logout", None, Some(json!({"token": bob}))).await.status, 401);
            assert_eq!(call(&routes, "/extend", Some(&other), None).await.status, 401);
            let mut statuses = Vec::new();
            for _ in 0..4 {
                let body = json!({"username": "alice", "password": "wrong"});
                statuses.push(call(&routes, "/login", None, Some(body)).await.status);
            }
            assert_eq!((statuses[0], statuses.last()), (401, Some(&429)), "{statuses:?}");
            store.down_after(0);
            assert_eq!(call(&routes, "/extend", Some(&bob), None).await.status, 503);
        });
    }
}
