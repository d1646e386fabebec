//! `echome`: ecHome's identity API, the token endpoints of
//! django-rest-framework-simplejwt 5 as ecHome serves them.
//!
//! The routes, bodies, answers, errors and lifetimes are documented on
//! [`Echome`], which is what rustdoc shows.

use std::time::Duration;

use serde_json::json;

use super::RouteContext;
use super::util::bearer;
use super::{Action, Dialect, Route};
use crate::authority::AuthorityConfig;
use crate::claims::ClaimStyle;
use crate::claims::TokenUse;
use crate::describe::{Credential, Field, Prop, Reply, RouteDoc, Shape};
use crate::error::AuthError;
use crate::response::AuthResponse;

const ROUTES: &[Route] = &[
    Route::new("POST", "/token", Action::Login).described(&LOGIN),
    Route::new("POST", "/token/refresh", Action::Refresh).described(&REFRESH),
];

const LOGIN: RouteDoc = RouteDoc::new("Logs in with a username and password", Credential::None)
    .description(
        "A wrong password and an unknown user get the same 401 `No active account found with the given \
         credentials`.",
    )
    .body(super::standard::LOGIN_FIELDS)
    .replies(&[Reply::json(
        200,
        "Logged in: a refresh and an access token",
        Shape::Object(&[Prop::required("refresh", Shape::Str), Prop::required("access", Shape::Str)]),
    )])
    .errors(&[401, 429, 503]);

const REFRESH: RouteDoc = RouteDoc::new("Trades a refresh token for an access token", Credential::Required)
    .description(
        "Needs the access token of the refresh token's user as the Bearer credential: it may have expired, \
         but must be signed by this service and not revoked; another user's is a 401. The refresh token is \
         checked for its field first. It is not rotated by default: the answer carries a new `refresh` only \
         when rotation is turned on.",
    )
    .body(&[Field::required("refresh", "The refresh token")])
    .replies(&[Reply::json(
        200,
        "A new access token (and a new refresh token with rotation on)",
        Shape::Object(&[Prop::required("access", Shape::Str), Prop::optional("refresh", Shape::Str)]),
    )])
    .errors(&[503]);

/// A missing field: `{"<field>": ["This field is required."]}`.
const FIELD_ERRORS: Shape = Shape::Map(&Shape::Array(&Shape::Str));

/// simplejwt's error: `{"detail": string}`.
const DETAIL: Shape = Shape::Object(&[Prop::required("detail", Shape::Str)]);

/// A 401: `{"detail": string}`, with `"code": "token_not_valid"` for a
/// refused token.
const TOKEN_DETAIL: Shape = Shape::Object(&[
    Prop::required("detail", Shape::Str),
    Prop::optional("code", Shape::Const("token_not_valid")),
]);

/// The `echome` dialect: ecHome's identity API, that is the token
/// endpoints of django-rest-framework-simplejwt 5 as ecHome serves them
/// (a refresh needs the access token too).
///
/// Mount it at `/api/v1/identity`
/// ([`default_mount`](crate::Dialect::default_mount)): the paths below are
/// relative to the mount point, so `POST /token` is
/// `POST /api/v1/identity/token`. A request body is a JSON object or
/// `application/x-www-form-urlencoded`, its fields strings (see
/// [`Body::parse`](crate::Body::parse)).
///
/// | method and path | credential | request body | success |
/// |---|---|---|---|
/// | `POST /token` | none (an `Authorization` header is ignored) | `username`, `password`: both required | 200 `{"refresh": string, "access": string}` |
/// | `POST /token/refresh` | `Authorization: Bearer <access token>` of the refresh token's user; it may have expired, but must be signed by this service and not revoked | `refresh`: required, the refresh token | 200 `{"access": string}` (plus a new `"refresh"` if rotation is turned on) |
///
/// # Errors
///
/// Errors are simplejwt's: `{"detail": string}`, with `"code": "token_not_valid"`
/// for a refused token, and `{"<field>": ["This field is required."]}` for
/// a missing field.
///
/// | when | status | body |
/// |---|---|---|
/// | wrong password, or unknown user (the same answer) | 401, with `WWW-Authenticate: Bearer realm="api"` | `{"detail": "No active account found with the given credentials"}` |
/// | a missing or empty field (checked before the token) | 400 | `{"<field>": ["This field is required."]}`, e.g. `{"refresh": [...]}` |
/// | `/token/refresh` without a Bearer token | 401, with `WWW-Authenticate: Bearer realm="api"` | `{"detail": "Authentication credentials were not provided."}` |
/// | a refused access or refresh token: forged, revoked, of the wrong kind, or an expired refresh token | 401, with an `invalid_token` challenge | `{"detail": "Token is invalid or expired", "code": "token_not_valid"}` |
/// | an access token of another user than the refresh token's | 401 | `{"detail": "The refresh token does not belong to this user", "code": "token_not_valid"}` |
/// | anything else (429 too many failed logins, 503 store unreachable, 404, 405, 413, 415, a malformed body 400) | the core's status ([`AuthError::status`](crate::AuthError::status)) | `{"detail": "<description>"}` |
///
/// Every answer carries `Cache-Control: no-store` and `Pragma: no-cache`;
/// a successful login also carries a device token for the login throttle
/// (the `Device-Token` header and cookie, see
/// [`device_token_in`](crate::device_token_in)).
///
/// # Tokens
///
/// [`default_config`](crate::Dialect::default_config) sets simplejwt's
/// defaults: access tokens live 1 hour, refresh tokens 1 day and are not
/// rotated, so a session ends when its refresh token expires (the 30-day
/// cap, [`DEFAULT_SESSION_CAP`](crate::DEFAULT_SESSION_CAP), holds if the
/// refresh lifetime is raised). Tokens spell their use `token_type`
/// (`access` or `refresh`) and carry `user_id` (the user's id, a number
/// when it is numeric), besides `sub`, `iat`, `exp`, `jti`, `username`,
/// `roles` (when the user has any), `auth_time` and `fam`.
///
/// ```text
/// curl -X POST $BASE/api/v1/identity/token -H 'content-type: application/json' -d '{"username": "alice", "password": "s3cret"}'
/// curl -X POST $BASE/api/v1/identity/token/refresh -H "Authorization: Bearer $ACCESS" -d "refresh=$REFRESH"
/// ```
///
/// # Example
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use auth_core::dialects::Echome;
/// use auth_core::{AuthRequest, Authority, Dialect, JwtKey, KeySet, MemoryUsers, Principal, RouteSet};
///
/// let users = MemoryUsers::new();
/// users.add_user(Principal::new("1", "alice"), "s3cret").await.unwrap();
/// let authority = Authority::builder(KeySet::new(JwtKey::hs256("main", &[42u8; 32]).unwrap()).unwrap())
///     .users(users)
///     .config(Echome.default_config())
///     .build();
/// // paths relative to the mount point, as a framework nesting the set at /api/v1/identity passes them
/// let routes = RouteSet::new(authority, Echome);
///
/// let login = r#"{"username": "alice", "password": "s3cret"}"#;
/// let res = routes.handle(AuthRequest::new("POST", "/token").with_body(login)).await;
/// assert_eq!(res.status, 200);
/// let tokens = res.json_body().unwrap();
///
/// let refresh = AuthRequest::new("POST", "/token/refresh")
///     .with_authorization(format!("Bearer {}", tokens["access"].as_str().unwrap()))
///     .with_content_type("application/x-www-form-urlencoded")
///     .with_body(format!("refresh={}", tokens["refresh"].as_str().unwrap()));
/// let res = routes.handle(refresh).await;
/// assert_eq!(res.status, 200);
/// assert!(res.json_body().unwrap()["access"].is_string());
/// # })
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Echome;

#[async_trait::async_trait]
impl Dialect for Echome {
    fn name(&self) -> &'static str {
        "echome"
    }

    fn routes(&self) -> &[Route] {
        ROUTES
    }

    fn default_mount(&self) -> &'static str {
        "/api/v1/identity"
    }

    fn default_config(&self) -> AuthorityConfig {
        AuthorityConfig {
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(86_400),
            rotate_refresh: false,
            claim_style: ClaimStyle { token_use: "token_type", user_id: true, ..ClaimStyle::default() },
            ..AuthorityConfig::default()
        }
    }

    async fn handle(&self, action: Action, ctx: RouteContext<'_>) -> Result<AuthResponse, AuthError> {
        let authority = ctx.authority;
        match action {
            Action::Login => {
                let (username, password) = (ctx.body.require("username")?, ctx.body.require("password")?);
                let pair = authority.login_from(ctx.client(), username, password).await?;
                Ok(AuthResponse::json(
                    200,
                    &json!({"refresh": pair.refresh_token, "access": pair.access_token}),
                ))
            }
            Action::Refresh => {
                let refresh = ctx.body.require("refresh")?;
                let access = bearer(ctx.request)?;
                let access = authority
                    .verify_ignoring_expiry(&access, TokenUse::Access)
                    .map_err(AuthError::InvalidToken)?;
                authority.check_revocation(&access.claims, crate::time::now()).await?;
                let presented = authority
                    .verify(refresh, TokenUse::Refresh, crate::time::now())
                    .map_err(AuthError::InvalidToken)?;
                if presented.sub() != access.sub() {
                    return Err(AuthError::Forbidden);
                }
                let pair = authority.refresh(refresh).await?;
                let mut body = json!({"access": pair.access_token});
                if let Some(rotated) = pair.refresh_token {
                    body["refresh"] = rotated.into();
                }
                Ok(AuthResponse::json(200, &body))
            }
            _ => Err(AuthError::NotFound),
        }
    }

    fn error_body(&self, err: &AuthError) -> serde_json::Value {
        match err {
            AuthError::InvalidCredentials => {
                json!({"detail": "No active account found with the given credentials"})
            }
            AuthError::MissingField(field) => json!({ field.as_str(): ["This field is required."] }),
            AuthError::MissingCredentials => {
                json!({"detail": "Authentication credentials were not provided."})
            }
            AuthError::InvalidToken(_) => {
                json!({"detail": "Token is invalid or expired", "code": "token_not_valid"})
            }
            AuthError::Forbidden => {
                json!({"detail": "The refresh token does not belong to this user", "code": "token_not_valid"})
            }
            other => json!({"detail": other.to_string()}),
        }
    }

    fn error_status(&self, err: &AuthError) -> u16 {
        match err {
            // simplejwt answers a mismatched token pair as an invalid token
            AuthError::Forbidden => 401,
            other => other.status(),
        }
    }

    fn error_shape(&self, status: u16) -> Shape {
        match status {
            // a missing field, or a malformed body's `detail`
            400 => Shape::AnyOf(&[FIELD_ERRORS, DETAIL]),
            401 => TOKEN_DETAIL,
            _ => DETAIL,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::Echome;
    use crate::dialect::test_doc::{handle_documented, request};
    use crate::tests::{Outage, keys, rt, users};
    use crate::{AuthRequest, Authority, Dialect, RouteSet};

    #[test]
    fn every_answer_has_its_documented_shape() {
        rt().block_on(async {
            let store = Outage::default();
            let config = Echome
                .default_config()
                .login_throttle(1, Duration::from_secs(60))
                .hold_refusals(Duration::ZERO, 0);
            let set = |config| {
                let authority = Authority::builder(keys()).users(users()).store(store.clone()).config(config);
                RouteSet::new(authority.build(), Echome)
            };
            let (routes, rotating) = (set(config.clone()), set(config.rotate_refresh(true)));
            let call = |routes: &RouteSet, path: &'static str, bearer: Option<&str>, body: Value| {
                let request =
                    request("POST", path, bearer.map(|token| format!("Bearer {token}")), Some(&body));
                let routes = routes.clone();
                async move { handle_documented(&routes, request).await }
            };
            let login = |routes: &RouteSet, username: &str| {
                let body = json!({"username": username, "password": format!("{username}-pw")});
                let answer = call(routes, "/token", None, body);
                async move {
                    let res = answer.await;
                    assert_eq!(res.status, 200);
                    let tokens = res.json_body().expect("json");
                    (
                        tokens["access"].as_str().expect("access").to_owned(),
                        tokens["refresh"].as_str().expect("refresh").to_owned(),
                    )
                }
            };

            let (access, refresh) = login(&routes, "alice").await;
            let res = call(&routes, "/token/refresh", Some(&access), json!({"refresh": refresh})).await;
            assert_eq!(res.json_body().expect("json").get("refresh"), None, "not rotated");
            let (access, refresh) = login(&rotating, "alice").await;
            let res = call(&rotating, "/token/refresh", Some(&access), json!({"refresh": refresh})).await;
            assert!(res.json_body().expect("json")["refresh"].is_string(), "rotated");

            // errors
            let (bob, _) = login(&routes, "bob").await;
            let (access, refresh) = login(&routes, "alice").await;
            assert_eq!(call(&routes, "/token/refresh", Some(&access), json!({})).await.status, 400);
            assert_eq!(call(&routes, "/token/refresh", None, json!({"refresh": refresh})).await.status, 401);
            let res = call(&routes, "/token/refresh", Some(&bob), json!({"refresh": refresh})).await;
            assert_eq!(res.json_body().expect("json")["code"], "token_not_valid");
            let res = call(&routes, "/token/refresh", Some(&access), json!({"refresh": access})).await;
            assert_eq!(res.status, 401);
            let malformed =
                AuthRequest::new("POST", "/token").with_content_type("application/json").with_body("{");
            handle_documented(&routes, malformed).await;
            let mut statuses = Vec::new();
            for _ in 0..4 {
                let body = json!({"username": "alice", "password": "wrong"});
                statuses.push(call(&routes, "/token", None, body).await.status);
            }
            assert_eq!((statuses[0], statuses.last()), (401, Some(&429)), "{statuses:?}");
            store.down_after(0);
            assert_eq!(
                call(&routes, "/token/refresh", Some(&access), json!({"refresh": refresh})).await.status,
                503
            );
        });
    }
}
