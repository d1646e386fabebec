//! `drf`: django-rest-framework-jwt's token API (obtain, refresh, verify).
//!
//! The routes, bodies, answers, errors and lifetimes are documented on
//! [`Drf`], which is what rustdoc shows.

use std::time::Duration;

use serde_json::json;

use super::RouteContext;
use super::util::{id_value, iso8601};
use super::{Action, Dialect, Route};
use crate::authority::AuthorityConfig;
use crate::claims::ClaimStyle;
use crate::claims::Claims;
use crate::describe::{Credential, Field, Prop, Reply, RouteDoc, Shape};
use crate::error::{AuthError, TokenRejection};
use crate::header::Scheme;
use crate::response::AuthResponse;

const ROUTES: &[Route] = &[
    Route::new("POST", "/access_token/", Action::Login).described(&LOGIN),
    Route::new("POST", "/refresh_token/", Action::Refresh).described(&REFRESH),
    Route::new("POST", "/verify_token/", Action::Verify).described(&VERIFY),
];

/// The answer of `refresh_token`: a token just issued, whose claims always
/// name the user.
const REFRESHED: Shape = Shape::Object(&[
    Prop::required("token", Shape::Str),
    Prop::required("expires_in", Shape::DateTime),
    Prop::required(
        "user",
        Shape::Object(&[Prop::required("username", Shape::Str), Prop::required("id", Shape::Id)]),
    ),
]);

/// The answer of `verify_token`: the presented token, whose claims may
/// lack `username`.
const VERIFIED: Shape = Shape::Object(&[
    Prop::required("token", Shape::Str),
    Prop::required("expires_in", Shape::DateTime),
    Prop::required(
        "user",
        Shape::Object(&[
            Prop::required("username", Shape::Nullable(&Shape::Str)),
            Prop::required("id", Shape::Id),
        ]),
    ),
]);

const LOGIN: RouteDoc = RouteDoc::new("Logs in with a username and password", Credential::None)
    .description(
        "A wrong password and an unknown user get the same 400 `{\"non_field_errors\": [...]}`. There is \
         no refresh token: `refresh_token` renews this token itself. `expires_in` is the expiry in \
         ISO-8601, not a number of seconds.",
    )
    .body(super::standard::LOGIN_FIELDS)
    .replies(&[Reply::json(
        200,
        "Logged in: a token, its expiry and the username",
        Shape::Object(&[
            Prop::required("access_token", Shape::Str),
            Prop::required("expires_in", Shape::DateTime),
            Prop::required("user", Shape::Str),
        ]),
    )])
    .errors(&[429, 503]);

const REFRESH: RouteDoc = RouteDoc::new("Exchanges a live token for a new one", Credential::None)
    .description(
        "The new token keeps the login's `orig_iat`; the presented one stays valid. No refresh succeeds once \
         the refresh window since the login is over (10 days by default): `Refresh has expired.`. A refused \
         token is a 400, never a 401.",
    )
    .body(&[Field::required("token", "A token that has not expired")])
    .replies(&[Reply::json(200, "A new token, its expiry and its user", REFRESHED)])
    .errors(&[503]);

const VERIFY: RouteDoc = RouteDoc::new("Says whether a token is live", Credential::None)
    .description(
        "A live token that was not revoked is answered back with its expiry and user (`user.username` is \
         null for a token without a `username` claim); an expired, revoked or forged one is a 400.",
    )
    .body(&[Field::required("token", "The token to check")])
    .replies(&[Reply::json(200, "The token is live: the same token, its expiry and its user", VERIFIED)])
    .errors(&[503]);

/// A form's errors: `{"non_field_errors": [string]}` or `{"<field>": [string]}`.
const FIELD_ERRORS: Shape = Shape::Map(&Shape::Array(&Shape::Str));

/// Every other error: `{"detail": string}`.
const DETAIL: Shape = Shape::Object(&[Prop::required("detail", Shape::Str)]);

/// The `drf` dialect: django-rest-framework-jwt's token API, whose
/// routes obtain, refresh and verify one kind of token, sent to protected
/// routes as `Authorization: Token <jwt>`.
///
/// Mount it at `/auth` ([`default_mount`](crate::Dialect::default_mount)):
/// the paths below are relative to the mount point, so
/// `POST /access_token/` is `POST /auth/access_token/` (the trailing slash
/// is part of the path). A request body is a JSON object or
/// `application/x-www-form-urlencoded`, its fields strings (see
/// [`Body::parse`](crate::Body::parse)). None of the three routes reads an
/// `Authorization` header.
///
/// | method and path | credential | request body | success |
/// |---|---|---|---|
/// | `POST /access_token/` | none | `username`, `password`: both required | 200 `{"access_token": string, "expires_in": string, "user": string}` |
/// | `POST /refresh_token/` | none | `token`: required, a live token | 200 `{"token": string, "expires_in": string, "user": {"username": string, "id": number or string}}`, a new token |
/// | `POST /verify_token/` | none | `token`: required | 200 `{"token": string, "expires_in": string, "user": {"username": string, "id": number or string}}`, the same token |
///
/// `expires_in` is the token's expiry in ISO-8601 UTC with milliseconds
/// (`"2015-04-29T13:29:25.000Z"`), not a number of seconds; the login's
/// `user` is the username, the others' `user.id` the user's id (a number
/// when it is numeric). `verify_token` accepts a live token that was not
/// revoked.
///
/// # Errors
///
/// | when | status | body |
/// |---|---|---|
/// | wrong password, or unknown user (the same answer) | 400 | `{"non_field_errors": ["Unable to log in with provided credentials."]}` |
/// | a missing or empty field | 400 | `{"<field>": ["This field is required."]}`, e.g. `{"token": [...]}` |
/// | `refresh_token` or `verify_token` with an expired token | 400 | `{"non_field_errors": ["Signature has expired."]}` |
/// | `refresh_token` after the refresh window (10 days after the login) | 400 | `{"non_field_errors": ["Refresh has expired."]}` |
/// | `refresh_token` or `verify_token` with any other refused token: forged, malformed, revoked, with a wrong audience | 400 | `{"non_field_errors": ["Error decoding signature."]}` |
/// | a body that is not valid JSON or form, a field that is not a string | 400 | `{"non_field_errors": ["<description>"]}` |
/// | a protected route without a token; with an expired one; with any other refused token | 401, with a `Token` challenge | `{"detail": "Authentication credentials were not provided."}`; `{"detail": "Signature has expired."}`; `{"detail": "Error decoding signature."}` |
/// | too many failed logins; the store unreachable; an unknown path; a known path with another method; a body too large or of another content type | 429 with `Retry-After`; 503 with `Retry-After`; 404; 405 with `Allow`; 413; 415 | `{"detail": "<description>"}` |
///
/// Every answer carries `Cache-Control: no-store` and `Pragma: no-cache`;
/// a successful login also carries a device token for the login throttle
/// (the `Device-Token` header and cookie, see
/// [`device_token_in`](crate::device_token_in)).
///
/// # Tokens
///
/// [`default_config`](crate::Dialect::default_config) sets the server's
/// own settings: a token lives 5 days, and there is no refresh token:
/// `refresh_token` exchanges a token that has not expired yet for a new
/// one, which keeps the login's `orig_iat`. No refresh succeeds after
/// `orig_iat` plus the refresh window, 10 days (drf-jwt's
/// `JWT_REFRESH_EXPIRATION_DELTA`). Every refreshed token joins its
/// login's family, so revoking one ends the chain. Tokens carry `orig_iat`
/// (the login time) and `user_id` (the user's id, a number when it is
/// numeric), besides `sub`, `iat`, `exp`, `jti`, `token_use` (`access`),
/// `username`, `roles` (when the user has any) and `fam`.
///
/// ```text
/// curl -X POST $BASE/auth/access_token/ -H 'content-type: application/json' -d '{"username":"alice","password":"s3cret"}'
/// curl -X POST $BASE/auth/refresh_token/ -H 'content-type: application/json' -d "{\"token\": \"$TOKEN\"}"
/// curl -X POST $BASE/auth/verify_token/ -d "token=$TOKEN"
/// ```
///
/// # Example
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use auth_core::dialects::Drf;
/// use auth_core::{AuthRequest, Authority, Dialect, JwtKey, KeySet, MemoryUsers, Principal, RouteSet};
///
/// let users = MemoryUsers::new();
/// users.add_user(Principal::new("1", "alice"), "s3cret").await.unwrap();
/// let authority = Authority::builder(KeySet::new(JwtKey::hs256("main", &[42u8; 32]).unwrap()).unwrap())
///     .users(users)
///     .config(Drf.default_config())
///     .build();
/// // paths relative to the mount point, as a framework nesting the set at /auth passes them
/// let routes = RouteSet::new(authority, Drf);
///
/// let login = r#"{"username":"alice","password":"s3cret"}"#;
/// let res = routes.handle(AuthRequest::new("POST", "/access_token/").with_body(login)).await;
/// assert_eq!(res.status, 200);
/// let answer = res.json_body().unwrap();
/// assert_eq!(answer["user"], "alice");
///
/// let verify = format!(r#"{{"token": "{}"}}"#, answer["access_token"].as_str().unwrap());
/// let res = routes.handle(AuthRequest::new("POST", "/verify_token/").with_body(verify)).await;
/// assert_eq!(res.status, 200);
/// assert_eq!(res.json_body().unwrap()["user"]["id"], 1);
/// # })
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Drf;

/// drf-jwt's messages for a token the auth routes refuse (answered 400).
/// The refusal itself is noted for the operator: counted and audited as
/// the token's rejection, not as a bad request.
fn token_error(err: AuthError) -> AuthError {
    crate::audit::note_refused_token(&err);
    match err {
        AuthError::InvalidToken(TokenRejection::Expired) => {
            AuthError::InvalidRequest("Signature has expired.".into())
        }
        AuthError::InvalidToken(TokenRejection::SessionExpired) => {
            AuthError::InvalidRequest("Refresh has expired.".into())
        }
        AuthError::InvalidToken(_) => AuthError::InvalidRequest("Error decoding signature.".into()),
        other => other,
    }
}

fn token_answer(token: &str, claims: &Claims) -> AuthResponse {
    let user = json!({"username": claims.username, "id": id_value(&claims.sub)});
    AuthResponse::json(200, &json!({"token": token, "expires_in": iso8601(claims.exp), "user": user}))
}

#[async_trait::async_trait]
impl Dialect for Drf {
    fn name(&self) -> &'static str {
        "drf"
    }

    fn routes(&self) -> &[Route] {
        ROUTES
    }

    fn scheme(&self) -> Scheme {
        Scheme::Token
    }

    fn default_mount(&self) -> &'static str {
        "/auth"
    }

    fn default_config(&self) -> AuthorityConfig {
        AuthorityConfig {
            access_ttl: Duration::from_secs(5 * 86_400),
            refresh_ttl: Duration::from_secs(5 * 86_400),
            refresh_window: Some(Duration::from_secs(10 * 86_400)),
            rotate_refresh: false,
            claim_style: ClaimStyle { auth_time: "orig_iat", user_id: true, ..ClaimStyle::default() },
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
                let body = json!({
                    "access_token": pair.access_token,
                    "expires_in": iso8601(pair.access_claims.exp),
                    "user": pair.access_claims.username,
                });
                Ok(AuthResponse::json(200, &body))
            }
            Action::Refresh => {
                let pair = authority.extend(ctx.body.require("token")?).await.map_err(token_error)?;
                Ok(token_answer(&pair.access_token, &pair.access_claims))
            }
            Action::Verify => {
                let token = ctx.body.require("token")?;
                let identity = authority.authenticate_token(token).await.map_err(token_error)?;
                Ok(token_answer(token, &identity.claims))
            }
            _ => Err(AuthError::NotFound),
        }
    }

    fn error_body(&self, err: &AuthError) -> serde_json::Value {
        match err {
            AuthError::InvalidCredentials => {
                json!({"non_field_errors": ["Unable to log in with provided credentials."]})
            }
            AuthError::MissingField(field) => json!({ field.as_str(): ["This field is required."] }),
            AuthError::InvalidRequest(message) => json!({"non_field_errors": [message]}),
            AuthError::MissingCredentials => {
                json!({"detail": "Authentication credentials were not provided."})
            }
            AuthError::InvalidToken(TokenRejection::Expired) => json!({"detail": "Signature has expired."}),
            AuthError::InvalidToken(_) => json!({"detail": "Error decoding signature."}),
            other => json!({"detail": other.to_string()}),
        }
    }

    fn error_status(&self, err: &AuthError) -> u16 {
        match err {
            AuthError::InvalidCredentials => 400,
            other => other.status(),
        }
    }

    fn error_shape(&self, status: u16) -> Shape {
        match status {
            // A form's errors; a 400 of the core's that these routes never
            // raise (`invalid_grant`) keeps `detail`.
            400 => Shape::AnyOf(&[FIELD_ERRORS, DETAIL]),
            _ => DETAIL,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::Drf;
    use crate::dialect::test_doc::{handle_documented, request};
    use crate::tests::{Outage, SECRET, access_claims, craft_hmac, header, keys, rt};
    use crate::{Algorithm, Authority, Dialect, MemoryUsers, Principal, RouteSet};

    #[test]
    fn every_answer_has_its_documented_shape() {
        rt().block_on(async {
            let users = MemoryUsers::new()
                .with_user(Principal::new("1", "alice"), "alice-pw")
                .and_then(|u| u.with_user(Principal::new("u-bob", "bob"), "bob-pw"))
                .expect("hashing");
            let store = Outage::default();
            let config = Drf
                .default_config()
                .login_throttle(1, Duration::from_secs(60))
                .hold_refusals(Duration::ZERO, 0);
            let authority =
                Authority::builder(keys()).users(users).store(store.clone()).config(config).build();
            let routes = RouteSet::new(authority, Drf);
            let call = |path: &'static str, body: Value| {
                let routes = &routes;
                async move { handle_documented(routes, request("POST", path, None, Some(&body))).await }
            };

            let mut tokens = Vec::new();
            for (username, password) in [("alice", "alice-pw"), ("bob", "bob-pw")] {
                let res = call("/access_token/", json!({"username": username, "password": password})).await;
                assert_eq!(res.status, 200);
                tokens
                    .push(res.json_body().expect("json")["access_token"].as_str().expect("token").to_owned());
            }
            for token in &tokens {
                let res = call("/verify_token/", json!({"token": token})).await;
                assert_eq!(res.status, 200);
                let res = call("/refresh_token/", json!({"token": token})).await;
                assert_eq!(res.status, 200);
            }
            let numeric = call("/verify_token/", json!({"token": tokens[0]})).await;
            assert_eq!(numeric.json_body().expect("json")["user"]["id"], 1, "a numeric id is a number");
            // a token of ours without `username`: verified, its username null
            let bare = craft_hmac(header("HS256"), access_claims(crate::now()), SECRET, Algorithm::HS256);
            let res = call("/verify_token/", json!({"token": bare})).await;
            assert_eq!(
                (res.status, &res.json_body().expect("json")["user"]["username"]),
                (200, &Value::Null)
            );

            // errors
            assert_eq!(call("/verify_token/", json!({"token": "junk"})).await.status, 400);
            assert_eq!(call("/refresh_token/", json!({})).await.status, 400);
            let mut statuses = Vec::new();
            for _ in 0..4 {
                statuses.push(
                    call("/access_token/", json!({"username": "alice", "password": "wrong"})).await.status,
                );
            }
            assert_eq!((statuses[0], statuses.last()), (400, Some(&429)), "{statuses:?}");
            store.down_after(0);
            assert_eq!(call("/verify_token/", json!({"token": tokens[1]})).await.status, 503);
            assert_eq!(call("/refresh_token/", json!({"token": tokens[1]})).await.status, 503);
        });
    }
}
