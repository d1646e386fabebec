//! `datarhei`: datarhei Core's login API, and the `GET /api` description
//! its clients ask for first.
//!
//! The routes, bodies, answers, errors and lifetimes are documented on
//! [`Datarhei`], which is what rustdoc shows.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::RouteContext;
use super::util::{bearer, password_or_external, reason};
use super::{Action, Dialect, Route};
use crate::authority::AuthorityConfig;
use crate::claims::ClaimStyle;
use crate::describe::{Credential, Field, Prop, Reply, RouteDoc, Shape};
use crate::error::AuthError;
pub use crate::external::ExternalIdentity;
use crate::jwt::Validation;
use crate::response::AuthResponse;

const ROUTES: &[Route] = &[
    Route::new("GET", "/", Action::About).described(&ABOUT),
    Route::new("POST", "/login", Action::Login).described(&LOGIN),
    Route::new("GET", "/login/refresh", Action::Refresh).described(&REFRESH),
];

/// The routes of a dialect with its own identity provider
/// ([`Datarhei::with_external_identity`]): the same, with the login
/// described as taking the provider's token too.
const ROUTES_EXTERNAL: &[Route] =
    &[ROUTES[0], Route::new("POST", "/login", Action::Login).described(&LOGIN_EXTERNAL), ROUTES[2]];

const ABOUT: RouteDoc = RouteDoc::new("Describes the service", Credential::Optional)
    .description(
        "What clients ask for before they log in: the app, the login methods (`localjwt`, then each identity \
         provider) and the major version. With a live access token the answer adds the service's name, id, \
         start time, uptime and full version, as the real Core does. A missing, refused or unverifiable \
         token is no error: the answer is the short one.",
    )
    .replies(&[Reply::json(
        200,
        "The service's description: the short one, or the full one for a live access token",
        Shape::AnyOf(&[
            Shape::Object(&[
                Prop::required("app", Shape::Str),
                Prop::required("auths", Shape::Array(&Shape::Str)),
                Prop::required("version", Shape::Object(&[Prop::required("number", Shape::Str)])),
            ]),
            Shape::Object(&[
                Prop::required("app", Shape::Str),
                Prop::required("auths", Shape::Array(&Shape::Str)),
                Prop::required("name", Shape::Str),
                Prop::required("id", Shape::Str),
                Prop::required("created_at", Shape::DateTime),
                Prop::required("uptime_seconds", Shape::Int),
                Prop::required(
                    "version",
                    Shape::Object(&[
                        Prop::required("number", Shape::Str),
                        Prop::required("repository_commit", Shape::Const("")),
                        Prop::required("repository_branch", Shape::Const("")),
                        Prop::required("build_date", Shape::Const("")),
                        Prop::required("arch", Shape::Str),
                        Prop::required("compiler", Shape::Const("rustc")),
                    ]),
                ),
            ]),
        ]),
    )]);

/// A login's answer.
const TOKENS: Shape =
    Shape::Object(&[Prop::required("access_token", Shape::Str), Prop::required("refresh_token", Shape::Str)]);

const LOGIN: RouteDoc = RouteDoc::new("Logs in with a username and password", Credential::None)
    .description(
        "A wrong password and an unknown user get the same 401. Where the authority has an identity \
         provider, its token as `Authorization: Bearer` and no username or password log its user in instead.",
    )
    .body(super::standard::LOGIN_FIELDS)
    .external_login()
    .replies(&[Reply::json(200, "Logged in: an access and a refresh token", TOKENS)])
    .errors(&[401, 429, 503]);

const LOGIN_EXTERNAL: RouteDoc =
    RouteDoc::new("Logs in with a password or an identity provider's token", Credential::Optional)
        .description(
            "With `username` or `password` in the body, a password login: a wrong password and an unknown \
             user get the same 401. With neither, the identity provider's token as `Authorization: Bearer`; \
             a token the provider refuses, or whose user the user store does not know, is a 401.",
        )
        .body(&[
            Field::optional("username", "The user's name"),
            Field::optional("password", "The user's password"),
        ])
        .replies(&[Reply::json(200, "Logged in: an access and a refresh token", TOKENS)])
        .errors(&[401, 429, 503]);

const REFRESH: RouteDoc = RouteDoc::new("Trades a refresh token for an access token", Credential::Required)
    .description(
        "The refresh token is the Bearer credential. It is not rotated by default: the answer carries a new \
         `refresh_token` only when rotation is turned on.",
    )
    .replies(&[Reply::json(
        200,
        "A new access token (and a new refresh token with rotation on)",
        Shape::Object(&[
            Prop::required("access_token", Shape::Str),
            Prop::optional("refresh_token", Shape::Str),
        ]),
    )])
    .errors(&[503]);

/// Every error: the status, its reason phrase and the description.
const ERROR: Shape = Shape::Object(&[
    Prop::required("code", Shape::Int),
    Prop::required("message", Shape::Str),
    Prop::required("details", Shape::Array(&Shape::Str)),
]);

/// The app name `GET /api` reports by default (the Core's own).
pub const DATARHEI_APP: &str = "datarhei-core";
/// The version `GET /api` reports by default: a Core 16 release, the API
/// version datarhei's clients speak.
pub const DATARHEI_VERSION: &str = "16.16.0";

/// The `datarhei` dialect: datarhei Core's login API (`/api/login`,
/// `/api/login/refresh`) and the `GET /api` description its clients ask
/// for before they log in.
///
/// Mount it at `/api` ([`default_mount`](crate::Dialect::default_mount)):
/// the paths below are relative to the mount point, so `POST /login` is
/// `POST /api/login` and `GET /` is `GET /api`. A request body is a JSON
/// object or `application/x-www-form-urlencoded`, its fields strings (see
/// [`Body::parse`](crate::Body::parse)).
///
/// | method and path | credential | request body | success |
/// |---|---|---|---|
/// | `POST /login` | none | `username`, `password`: both required | 200 `{"access_token": string, "refresh_token": string}` |
/// | `POST /login` | `Authorization: Bearer <identity provider's JWT>`, with an [`ExternalIdentity`] configured | none (no `username` or `password` field) | 200, the same |
/// | `GET /login/refresh` | `Authorization: Bearer <refresh token>` | none | 200 `{"access_token": string}` (plus a new `"refresh_token"` if rotation is turned on) |
/// | `GET /` | optional `Authorization: Bearer <access token>` | none | 200, the description below |
///
/// `GET /api` answers `{"app": string, "auths": [string], "version": {"number": string}}`:
/// `app` is [`DATARHEI_APP`] (see [`with_about`](Self::with_about)),
/// `auths` lists `localjwt` and each identity provider
/// ([`ExternalIdentity::describe`]), and without a valid access token the
/// version is only the major one (`"16.0.0"`). With one, as the real Core
/// does, the answer adds `name` (the app), `id` (a UUID made at start),
/// `created_at` (RFC 3339), `uptime_seconds` (number) and the full
/// `version`: `{"number": "16.16.0", "repository_commit": "", "repository_branch": "", "build_date": "", "arch": string, "compiler": "rustc"}`.
///
/// The identity provider login is taken through
/// [`with_external_identity`](Self::with_external_identity), else through
/// [`AuthorityBuilder::external_identity`](crate::AuthorityBuilder::external_identity);
/// without either, a login without `username` and `password` is a 400.
///
/// # Errors
///
/// Every error is `{"code": number, "message": string, "details": [string]}`:
/// `code` is the HTTP status, `message` its reason phrase and `details`
/// the description. The statuses are the real Core's:
///
/// | when | status | `details` |
/// |---|---|---|
/// | wrong password, or unknown user (the same answer) | 401 `"Unauthorized"`, with `WWW-Authenticate: Bearer realm="api"` | `["invalid username or password"]` |
/// | a missing or empty `username` or `password` (and no identity provider token) | 400 `"Bad Request"` | ``["missing field `username`"]`` |
/// | `/login/refresh` without a Bearer token | 401, with `WWW-Authenticate: Bearer realm="api"` | `["authentication is required"]` |
/// | `/login/refresh` with a refused token: an access token, expired, revoked, without `iss: datarhei-core` | 401, with an `invalid_token` challenge | for example `["the token is not usable here"]` |
/// | an identity provider's token whose user the user store does not know | 401, with an `invalid_token` challenge | `["the token's subject is not allowed to log in here"]` |
/// | too many failed logins; the store unreachable | 429 with `Retry-After`; 503 with `Retry-After` | the description |
/// | an unknown path; a known path with another method (`POST /login/refresh`); a body too large or of another content type | 404; 405 with `Allow`; 413; 415 | the description |
///
/// Every answer carries `Cache-Control: no-store` and `Pragma: no-cache`;
/// a successful password login also carries a device token for the login
/// throttle (the `Device-Token` header and cookie, see
/// [`device_token_in`](crate::device_token_in)).
///
/// # Tokens
///
/// [`default_config`](crate::Dialect::default_config) sets datarhei Core's
/// lifetimes: access tokens live 10 minutes, refresh tokens 1 day and are
/// not rotated, so a session ends when its refresh token expires (the
/// 30-day cap, [`DEFAULT_SESSION_CAP`](crate::DEFAULT_SESSION_CAP), holds
/// if the refresh lifetime is raised). Tokens spell their use `usefor`
/// (`access` or `refresh`), carry `exi` (their lifetime in seconds) and
/// `iss: "datarhei-core"` (which verification requires), besides `sub`,
/// `iat`, `exp`, `jti`, `username`, `roles` (when the user has any),
/// `auth_time` and `fam`.
///
/// ```text
/// curl $BASE/api
/// curl -X POST $BASE/api/login -H 'content-type: application/json' -d '{"username": "alice", "password": "s3cret"}'
/// curl $BASE/api/login/refresh -H "Authorization: Bearer $REFRESH"
/// ```
///
/// # Example
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use auth_core::dialects::Datarhei;
/// use auth_core::{AuthRequest, Authority, Dialect, JwtKey, KeySet, MemoryUsers, Principal, RouteSet};
///
/// let users = MemoryUsers::new();
/// users.add_user(Principal::new("1", "alice"), "s3cret").await.unwrap();
/// let dialect = Datarhei::default();
/// let authority = Authority::builder(KeySet::new(JwtKey::hs256("main", &[42u8; 32]).unwrap()).unwrap())
///     .users(users)
///     .config(dialect.default_config())
///     .build();
/// // paths relative to the mount point, as a framework nesting the set at /api passes them
/// let routes = RouteSet::new(authority, dialect);
///
/// let res = routes.handle(AuthRequest::new("GET", "/")).await;
/// assert_eq!(res.json_body().unwrap()["version"]["number"], "16.0.0");
///
/// let login = r#"{"username": "alice", "password": "s3cret"}"#;
/// let res = routes.handle(AuthRequest::new("POST", "/login").with_body(login)).await;
/// assert_eq!(res.status, 200);
/// let refresh = res.json_body().unwrap()["refresh_token"].as_str().unwrap().to_owned();
///
/// let res = routes
///     .handle(AuthRequest::new("GET", "/login/refresh").with_authorization(format!("Bearer {refresh}")))
///     .await;
/// assert_eq!(res.status, 200);
/// assert!(res.json_body().unwrap()["access_token"].is_string());
/// # })
/// ```
#[derive(Clone)]
pub struct Datarhei {
    external: Option<Arc<dyn ExternalIdentity>>,
    about: Arc<About>,
}

/// What `GET /api` says about the service.
#[derive(Debug)]
struct About {
    app: String,
    version: String,
    id: String,
    created_at: std::time::SystemTime,
}

impl Default for Datarhei {
    fn default() -> Self {
        Self { external: None, about: Arc::new(About::new(DATARHEI_APP, DATARHEI_VERSION)) }
    }
}

impl About {
    fn new(app: &str, version: &str) -> Self {
        Self {
            app: app.to_owned(),
            version: version.to_owned(),
            id: uuid::Uuid::new_v4().to_string(),
            created_at: std::time::SystemTime::now(),
        }
    }

    fn major(&self) -> String {
        let major = self.version.split('.').next().unwrap_or_default();
        format!("{major}.0.0")
    }
}

impl std::fmt::Debug for Datarhei {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Datarhei")
            .field("external", &self.external.is_some())
            .field("app", &self.about.app)
            .field("version", &self.about.version)
            .finish()
    }
}

impl Datarhei {
    /// The app name and version `GET /api` reports (default
    /// [`DATARHEI_APP`], [`DATARHEI_VERSION`]).
    ///
    /// ```
    /// let dialect = auth_core::dialects::Datarhei::default().with_about("my-core", "16.2.1");
    /// # let _ = dialect;
    /// ```
    pub fn with_about(mut self, app: &str, version: &str) -> Self {
        self.about = Arc::new(About::new(app, version));
        self
    }

    /// The `auths` list of `GET /api`: `localjwt`, then each external
    /// identity provider's description.
    pub fn auths(&self) -> Vec<String> {
        let mut auths = vec!["localjwt".to_owned()];
        auths.extend(self.external.iter().flat_map(|e| e.describe()));
        auths
    }

    async fn about(&self, ctx: &RouteContext<'_>) -> AuthResponse {
        let about = &self.about;
        let authenticated = match bearer(ctx.request) {
            Ok(token) => ctx.authority.authenticate_token(&token).await.is_ok(),
            Err(_) => false,
        };
        if !authenticated {
            return AuthResponse::json(
                200,
                &json!({"app": about.app, "auths": self.auths(), "version": {"number": about.major()}}),
            );
        }
        let uptime = about.created_at.elapsed().map_or(0, |d| d.as_secs());
        AuthResponse::json(
            200,
            &json!({
                "app": about.app,
                "auths": self.auths(),
                "name": about.app,
                "id": about.id,
                "created_at": humantime::format_rfc3339_seconds(about.created_at).to_string(),
                "uptime_seconds": uptime,
                "version": {
                    "number": about.version,
                    "repository_commit": "",
                    "repository_branch": "",
                    "build_date": "",
                    "arch": std::env::consts::ARCH,
                    "compiler": "rustc",
                },
            }),
        )
    }
    /// Accepts IdP tokens at `POST /login` through `external`.
    pub fn with_external_identity(mut self, external: impl ExternalIdentity) -> Self {
        self.external = Some(Arc::new(external));
        self
    }
}

#[async_trait::async_trait]
impl Dialect for Datarhei {
    fn name(&self) -> &'static str {
        "datarhei"
    }

    fn routes(&self) -> &[Route] {
        if self.external.is_some() { ROUTES_EXTERNAL } else { ROUTES }
    }

    fn default_mount(&self) -> &'static str {
        "/api"
    }

    fn default_config(&self) -> AuthorityConfig {
        AuthorityConfig {
            access_ttl: Duration::from_secs(600),
            refresh_ttl: Duration::from_secs(86_400),
            rotate_refresh: false,
            validation: Validation::default().with_issuer("datarhei-core"),
            claim_style: ClaimStyle { token_use: "usefor", exi: true, ..ClaimStyle::default() },
            ..AuthorityConfig::default()
        }
    }

    async fn handle(&self, action: Action, ctx: RouteContext<'_>) -> Result<AuthResponse, AuthError> {
        let authority = ctx.authority;
        match action {
            Action::About => Ok(self.about(&ctx).await),
            Action::Login => {
                let external = self.external.as_deref().or(authority.external_identity());
                let pair = password_or_external(&ctx, external).await?;
                Ok(AuthResponse::json(
                    200,
                    &json!({"access_token": pair.access_token, "refresh_token": pair.refresh_token}),
                ))
            }
            Action::Refresh => {
                let pair = authority.refresh(&bearer(ctx.request)?).await?;
                let mut body = json!({"access_token": pair.access_token});
                if let Some(rotated) = pair.refresh_token {
                    body["refresh_token"] = rotated.into();
                }
                Ok(AuthResponse::json(200, &body))
            }
            _ => Err(AuthError::NotFound),
        }
    }

    fn error_body(&self, err: &AuthError) -> serde_json::Value {
        let status = self.error_status(err);
        json!({"code": status, "message": reason(status), "details": [err.to_string()]})
    }

    fn error_shape(&self, _status: u16) -> Shape {
        ERROR
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::Datarhei;
    use crate::describe::Credential;
    use crate::dialect::test_doc::{handle_documented, request};
    use crate::tests::{Outage, keys, rt, users};
    use crate::{
        AuthError, AuthResponse, Authority, Dialect, ExternalIdentity, ExternalSubject, Principal, RouteSet,
        TokenRejection,
    };

    /// An identity provider whose tokens are `sub-<subject>`.
    struct Idp;

    #[async_trait::async_trait]
    impl ExternalIdentity for Idp {
        async fn verify(&self, token: &str) -> Result<ExternalSubject, AuthError> {
            let sub = token.strip_prefix("sub-").ok_or(AuthError::InvalidToken(TokenRejection::Malformed))?;
            Ok(ExternalSubject::new("https://idp.example/", sub))
        }

        fn describe(&self) -> Vec<String> {
            vec!["auth0 domain=idp.example".to_owned()]
        }
    }

    async fn call(
        routes: &RouteSet,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> AuthResponse {
        let authorization = bearer.map(|token| format!("Bearer {token}"));
        handle_documented(routes, request(method, path, authorization, body.as_ref())).await
    }

    #[test]
    fn every_answer_has_its_documented_shape() {
        rt().block_on(async {
            let store = Outage::default();
            let users = users();
            let who = ExternalSubject::new("https://idp.example/", "7");
            users.add_external(Principal::new(who.principal_id(), "carol"));
            let dialect = Datarhei::default().with_external_identity(Idp);
            let config = dialect
                .default_config()
                .login_throttle(1, Duration::from_secs(60))
                .hold_refusals(Duration::ZERO, 0);
            let set = |config, dialect: &Datarhei| {
                let authority =
                    Authority::builder(keys()).users(users.clone()).store(store.clone()).config(config);
                RouteSet::new(authority.build(), dialect.clone())
            };
            let routes = set(config.clone(), &dialect);
            let rotating = set(config.clone().rotate_refresh(true), &dialect);
            let plain = set(config, &Datarhei::default());
            let password = json!({"username": "alice", "password": "alice-pw"});

            let res = call(&routes, "POST", "/login", None, Some(password.clone())).await;
            let tokens = res.json_body().expect("json");
            let (access, refresh) = (
                tokens["access_token"].as_str().expect("access"),
                tokens["refresh_token"].as_str().expect("refresh"),
            );
            let short = call(&routes, "GET", "/", None, None).await;
            assert_eq!(
                short.json_body().expect("json")["auths"],
                json!(["localjwt", "auth0 domain=idp.example"])
            );
            let full = call(&routes, "GET", "/", Some(access), None).await;
            assert!(full.json_body().expect("json")["uptime_seconds"].is_u64());
            assert_eq!(call(&routes, "GET", "/", Some("junk"), None).await.status, 200, "the short answer");
            let res = call(&routes, "GET", "/login/refresh", Some(refresh), None).await;
            assert_eq!(res.json_body().expect("json").get("refresh_token"), None, "not rotated");
            let res = call(&rotating, "POST", "/login", None, Some(password.clone())).await;
            let refresh =
                res.json_body().expect("json")["refresh_token"].as_str().expect("refresh").to_owned();
            let res = call(&rotating, "GET", "/login/refresh", Some(&refresh), None).await;
            assert!(res.json_body().expect("json")["refresh_token"].is_string(), "rotated");
            // the identity provider's login, and its description
            let res = call(&routes, "POST", "/login", Some("sub-7"), None).await;
            assert_eq!(res.status, 200);
            let login = |d: &dyn Dialect| {
                d.routes().iter().find(|r| r.path == "/login").and_then(|r| r.doc).map(|d| d.credential)
            };
            assert_eq!(
                (login(&dialect), login(&Datarhei::default())),
                (Some(Credential::Optional), Some(Credential::None))
            );

            // errors
            assert_eq!(call(&routes, "POST", "/login", Some("sub-8"), None).await.status, 401);
            assert_eq!(call(&plain, "POST", "/login", Some("sub-7"), None).await.status, 400);
            assert_eq!(call(&routes, "GET", "/login/refresh", None, None).await.status, 401);
            assert_eq!(call(&routes, "GET", "/login/refresh", Some(access), None).await.status, 401);
            let mut statuses = Vec::new();
            for _ in 0..4 {
                let body = json!({"username": "alice", "password": "wrong"});
                statuses.push(call(&plain, "POST", "/login", None, Some(body)).await.status);
            }
            assert_eq!((statuses[0], statuses.last()), (401, Some(&429)), "{statuses:?}");
            store.down_after(0);
            assert_eq!(call(&routes, "GET", "/login/refresh", Some(&refresh), None).await.status, 503);
            assert_eq!(call(&routes, "GET", "/", Some(access), None).await.status, 200, "the short answer");
        });
    }
}
