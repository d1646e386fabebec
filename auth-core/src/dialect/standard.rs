//! `standard`: our own wire format, in the shape of OAuth 2 token answers
//! (RFC 6749), introspection (RFC 7662) and revocation (RFC 7009).
//!
//! The routes, bodies, answers, errors and lifetimes are documented on
//! [`Standard`], which is what rustdoc shows.

use serde_json::json;

use super::RouteContext;
use super::util::{bearer, password_or_external};
use super::{Action, Dialect, Route};
use crate::authority::TokenPair;
use crate::claims::TokenUse;
use crate::describe::{Credential, Field, Prop, Reply, RouteDoc, Shape};
use crate::error::{AuthError, TokenRejection};
use crate::response::AuthResponse;

const ROUTES: &[Route] = &[
    Route::new("POST", "/login", Action::Login).described(&LOGIN),
    Route::new("POST", "/refresh", Action::Refresh).described(&REFRESH),
    Route::new("POST", "/verify", Action::Verify).described(&VERIFY),
    Route::new("POST", "/logout", Action::Logout).described(&LOGOUT),
];

/// The login's fields (cookie mode's login reads the same).
pub(crate) const LOGIN_FIELDS: &[Field] =
    &[Field::required("username", "The user's name"), Field::required("password", "The user's password")];

/// A token answer.
const TOKENS: Shape = Shape::Object(&[
    Prop::required("access_token", Shape::Str),
    Prop::required("token_type", Shape::Const("Bearer")),
    Prop::required("expires_in", Shape::Int),
    Prop::required("refresh_token", Shape::Str),
]);

const LOGIN: RouteDoc = RouteDoc::new("Logs in with a username and password", Credential::None)
    .description(
        "A wrong password and an unknown user get the same 400 `invalid_grant`. Where an identity provider \
         is configured, an `Authorization: Bearer` token of that provider and no username or password log \
         its user in instead.",
    )
    .external_login()
    .body(LOGIN_FIELDS)
    .replies(&[Reply::json(200, "Logged in: an access and a refresh token", TOKENS)])
    .errors(&[429, 503]);

const REFRESH: RouteDoc = RouteDoc::new("Exchanges a refresh token for new tokens", Credential::None)
    .description(
        "The refresh token rotates: the one presented is spent, and presenting it again (after a short \
         grace for a lost answer) revokes the whole login.",
    )
    .body(&[Field::required("refresh_token", "The refresh token")])
    .replies(&[Reply::json(200, "New tokens", TOKENS)])
    .errors(&[401, 503]);

const VERIFY: RouteDoc =
    RouteDoc::new("Says whether a token is live (RFC 7662 introspection)", Credential::None)
        .body(&[
            Field::required("token", "The token to inspect"),
            Field::optional("token_type_hint", "`refresh_token` to ask about a refresh token"),
        ])
        .replies(&[Reply::json(
            200,
            "Whether the token is live, and its claims when it is",
            Shape::AnyOf(&[
                Shape::Object(&[
                    Prop::required("active", Shape::ConstBool(true)),
                    Prop::required("sub", Shape::Str),
                    Prop::required("exp", Shape::Int),
                    Prop::required("iat", Shape::Nullable(&Shape::Int)),
                    Prop::required("username", Shape::Nullable(&Shape::Str)),
                    Prop::required("roles", Shape::Array(&Shape::Str)),
                    Prop::required("token_use", Shape::Nullable(&Shape::Enum(&["access", "refresh"]))),
                ]),
                Shape::Object(&[Prop::required("active", Shape::ConstBool(false))]),
            ]),
        )])
        .errors(&[503]);

const LOGOUT: RouteDoc = RouteDoc::new("Revokes the caller's login", Credential::Required)
    .description("Revokes the access token and every token of its login, and the login of `refresh_token` when it is the same user's.")
    .body(&[Field::optional("refresh_token", "A refresh token of the same user to revoke too")])
    .replies(&[Reply::empty(204, "Logged out")])
    .errors(&[503]);

/// The `standard` dialect: our own wire format, shaped like OAuth 2 token
/// answers (RFC 6749), token introspection (RFC 7662) and revocation
/// (RFC 7009). It copies no particular server; pick it for a new API.
///
/// Mount it at `/auth` ([`default_mount`](crate::Dialect::default_mount)):
/// the paths below are relative to the mount point, so `POST /login` is
/// `POST /auth/login`. A request body is a JSON object or
/// `application/x-www-form-urlencoded`, its fields strings (see
/// [`Body::parse`](crate::Body::parse)); a field sent twice is a 400.
///
/// | method and path | credential | request body | success |
/// |---|---|---|---|
/// | `POST /login` | none (an `Authorization` header is ignored) | `username`, `password`: both required | 200, a token answer |
/// | `POST /refresh` | none | `refresh_token`: required | 200, a token answer with a new `refresh_token` (the presented one if rotation is turned off) |
/// | `POST /verify` | none | `token`: required; `token_type_hint`: optional, `refresh_token` to ask about a refresh token | 200 `{"active": true, "sub": string, "exp": number, "iat": number, "username": string, "roles": [string], "token_use": "access" or "refresh"}`, or 200 `{"active": false}` |
/// | `POST /logout` | `Authorization: Bearer <access token>` | `refresh_token`: optional | 204, no body |
///
/// A token answer is
/// `{"access_token": string, "token_type": "Bearer", "expires_in": number, "refresh_token": string}`;
/// `expires_in` is the access token's lifetime in seconds (900 by
/// default).
///
/// `verify` answers for live access tokens only: a refresh token is
/// `active` only with `token_type_hint=refresh_token`, and an expired,
/// revoked or foreign token is `{"active": false}`, never an error.
/// `logout` revokes the access token and every token of its login (the
/// refresh token included), and the login of `refresh_token` when it is
/// the same user's; a foreign or broken `refresh_token` is ignored, and
/// the answer is still 204.
///
/// With [`AuthorityBuilder::external_identity`](crate::AuthorityBuilder::external_identity)
/// configured, `POST /login` with no `username` or `password` field and an
/// identity provider's token as `Authorization: Bearer` logs that
/// provider's user in, with the same answer.
///
/// # Errors
///
/// Every error is `{"error": string, "error_description": string}`:
///
/// | when | status | `error` |
/// |---|---|---|
/// | wrong password, or unknown user (the same answer) | 400 | `invalid_grant` (`"invalid username or password"`), as RFC 6749 section 5.2 says |
/// | a missing or empty field, a field that is not a string, a body that is not valid JSON or form | 400 | `invalid_request` (for example `` "missing field `password`" ``) |
/// | `logout` without a Bearer token | 401 | `unauthorized`, with `WWW-Authenticate: Bearer realm="api"` |
/// | `refresh` or `logout` with a token that is expired, revoked, of the wrong kind (an access token given as `refresh_token`), or a refresh token presented again after it was rotated | 401 | `invalid_token`, with a `WWW-Authenticate` challenge carrying the same `error` and `error_description` |
/// | too many failed logins | 429 | `slow_down`, with `Retry-After` |
/// | the store is unreachable or too many password checks are queued | 503 | `temporarily_unavailable`, with `Retry-After` |
/// | an unknown path | 404 | `not_found` |
/// | a known path with another method | 405 | `invalid_request`, with `Allow` |
/// | a body over the limit ([`DEFAULT_BODY_LIMIT`](crate::DEFAULT_BODY_LIMIT), 16 KiB) | 413 | `invalid_request` |
/// | a content type that is neither JSON nor a form | 415 | `invalid_request` |
///
/// Every answer carries `Cache-Control: no-store` and `Pragma: no-cache`;
/// a successful password login also carries a device token for the login
/// throttle (the `Device-Token` header and cookie, see
/// [`device_token_in`](crate::device_token_in)).
///
/// # Tokens
///
/// [`default_config`](crate::Dialect::default_config) is
/// [`AuthorityConfig::default`](crate::AuthorityConfig::default): access
/// tokens live 15 minutes, refresh tokens 1 day and rotate at every
/// refresh. A rotated refresh token presented again within 10 seconds
/// (a client whose answer was lost) gets a fresh pair once; after that it
/// is reuse, and the whole login is revoked. A session ends 30 days after
/// the login however often it refreshes
/// ([`DEFAULT_SESSION_CAP`](crate::DEFAULT_SESSION_CAP)). Tokens carry
/// `sub`, `iat`, `exp`, `jti`, `token_use` (`access` or `refresh`),
/// `username`, `roles` (when the user has any), `auth_time` (the login
/// time) and `fam` (the login's id), plus `iss` and `aud` when configured.
///
/// ```text
/// curl -X POST $BASE/auth/login -H 'content-type: application/json' -d '{"username":"alice","password":"s3cret"}'
/// curl -X POST $BASE/auth/refresh -d "refresh_token=$REFRESH"
/// curl -X POST $BASE/auth/verify -d "token=$ACCESS"
/// curl -X POST $BASE/auth/logout -H "Authorization: Bearer $ACCESS"
/// ```
///
/// # Example
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use auth_core::{AuthRequest, Authority, Dialect, JwtKey, KeySet, MemoryUsers, Principal, RouteSet, Standard};
///
/// let users = MemoryUsers::new();
/// users.add_user(Principal::new("1", "alice"), "s3cret").await.unwrap();
/// let authority = Authority::builder(KeySet::new(JwtKey::hs256("main", &[42u8; 32]).unwrap()).unwrap())
///     .users(users)
///     .config(Standard.default_config())
///     .build();
/// // paths relative to the mount point, as a framework nesting the set at /auth passes them
/// let routes = RouteSet::new(authority, Standard);
///
/// let login = r#"{"username":"alice","password":"s3cret"}"#;
/// let res = routes.handle(AuthRequest::new("POST", "/login").with_body(login)).await;
/// assert_eq!(res.status, 200);
/// assert_eq!(res.json_body().unwrap()["expires_in"], 900);
///
/// let wrong = r#"{"username":"alice","password":"nope"}"#;
/// let res = routes.handle(AuthRequest::new("POST", "/login").with_body(wrong)).await;
/// assert_eq!(res.status, 400);
/// assert_eq!(res.json_body().unwrap()["error"], "invalid_grant");
/// # })
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Standard;

fn token_response(pair: &TokenPair, presented_refresh: Option<&str>) -> AuthResponse {
    AuthResponse::json(
        200,
        &json!({
            "access_token": pair.access_token,
            "token_type": "Bearer",
            "expires_in": pair.expires_in(),
            "refresh_token": pair.refresh_token.as_deref().or(presented_refresh),
        }),
    )
}

/// The standard login, in both its answers (tokens in the body, or in
/// cookies): a password, or (opt-in, `AuthorityBuilder::external_identity`)
/// an identity provider's token as Bearer with no body. A wrong username or
/// password is 400 `invalid_grant`, as RFC 6749 section 5.2 answers a token
/// request whose grant is invalid (protected routes keep their 401).
pub(crate) async fn login(ctx: &RouteContext<'_>) -> Result<TokenPair, AuthError> {
    password_or_external(ctx, ctx.authority.external_identity()).await.map_err(|e| match e {
        AuthError::InvalidCredentials => AuthError::InvalidGrant,
        other => other,
    })
}

#[async_trait::async_trait]
impl Dialect for Standard {
    fn name(&self) -> &'static str {
        "standard"
    }

    fn routes(&self) -> &[Route] {
        ROUTES
    }

    fn default_mount(&self) -> &'static str {
        "/auth"
    }

    fn supports_cookies(&self) -> bool {
        true
    }

    async fn handle(&self, action: Action, ctx: RouteContext<'_>) -> Result<AuthResponse, AuthError> {
        let authority = ctx.authority;
        match action {
            Action::Login => Ok(token_response(&login(&ctx).await?, None)),
            Action::Refresh => {
                let presented = ctx.body.require("refresh_token")?;
                let pair = authority.refresh(presented).await?;
                Ok(token_response(&pair, Some(presented)))
            }
            Action::Verify => {
                let token = ctx.body.require("token")?;
                let introspected = match ctx.body.get("token_type_hint")? {
                    Some("refresh_token") => {
                        match authority.introspect_why(token, TokenUse::Refresh).await? {
                            Ok(claims) => Ok(claims),
                            // why the token is not live: not "the wrong use" of
                            // whichever use it was not asked about
                            Err(as_refresh) => authority
                                .introspect_why(token, TokenUse::Access)
                                .await?
                                .map_err(|as_access| match as_access {
                                    TokenRejection::WrongUse => as_refresh,
                                    other => other,
                                }),
                        }
                    }
                    _ => authority.introspect_why(token, TokenUse::Access).await?,
                };
                let body = match introspected {
                    Ok(c) => json!({
                        "active": true,
                        "sub": c.sub,
                        "exp": c.exp,
                        "iat": c.iat,
                        "username": c.username,
                        "roles": c.roles,
                        "token_use": c.token_use,
                    }),
                    Err(rejection) => {
                        // answered 200 all the same: counted as the refusal it is
                        crate::audit::note_inactive(rejection);
                        json!({"active": false})
                    }
                };
                Ok(AuthResponse::json(200, &body))
            }
            Action::Logout => {
                let token = bearer(ctx.request)?;
                let identity = authority.authenticate_token(&token).await?;
                let refresh = ctx.body.get("refresh_token").ok().flatten();
                authority.logout(&identity, refresh).await?;
                Ok(AuthResponse::empty(204))
            }
            Action::Extend | Action::Signup | Action::About | Action::Jwks => Err(AuthError::NotFound),
        }
    }
}
