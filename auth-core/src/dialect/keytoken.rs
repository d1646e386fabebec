//! `keytoken`: the Kent Hack Enough API's opaque key/token credentials.
//!
//! The routes, bodies, answers, errors and lifetimes are documented on
//! [`Keytoken`], which is what rustdoc shows.

use std::time::Duration;

use serde_json::json;

use super::RouteContext;
use super::util::iso8601;
use super::{Action, Dialect, Route};
use crate::authority::{AuthorityConfig, BasicCredentials};
use crate::describe::{Credential, Field, Prop, Reply, RouteDoc, Shape};
use crate::error::AuthError;
use crate::header::{Credentials, Scheme, credentials_of};
use crate::opaque::OpaqueCredentials;
use crate::response::AuthResponse;
use crate::users::Registration;

const ROUTES: &[Route] = &[
    Route::new("POST", "/token", Action::Login).described(&LOGIN),
    Route::new("DELETE", "/token", Action::Logout).described(&LOGOUT),
    Route::new("POST", "/token/refresh", Action::Refresh).described(&REFRESH),
    Route::new("POST", "/", Action::Signup).described(&SIGNUP),
];

/// The client id every route's body carries.
const CLIENT: Field = Field::required("client", "An accepted client id");

/// The fields of a login and a sign-up.
const EMAIL_PASSWORD: &[Field] = &[
    CLIENT,
    Field::required("email", "The user's email"),
    Field::required("password", "The user's password"),
];

/// A credentials answer.
const CREDENTIALS: Shape = Shape::Object(&[
    Prop::required("role", Shape::Str),
    Prop::required("key", Shape::Str),
    Prop::required("token", Shape::Str),
    Prop::required("refresh", Shape::Str),
    Prop::required("expires", Shape::DateTime),
]);

const LOGIN: RouteDoc = RouteDoc::new("Logs in with an email and password", Credential::None)
    .description(
        "A wrong password and an unknown email get the same 400 `Invalid email or password`; a client id \
         not accepted is a 400 too. `role` is the user's first role (`attendee` if none), `expires` when \
         `token` stops working.",
    )
    .body(EMAIL_PASSWORD)
    .replies(&[Reply::json(
        200,
        "Logged in: a key, its access and refresh secrets and their expiry",
        CREDENTIALS,
    )])
    .errors(&[429, 503]);

const SIGNUP: RouteDoc = RouteDoc::new("Creates a user and logs them in", Credential::None)
    .description(
        "An email already registered (or one the user store refuses) is a 400; a user store that does not \
         create users answers 404.",
    )
    .body(EMAIL_PASSWORD)
    .replies(&[Reply::json(200, "Signed up: the new user's credentials", CREDENTIALS)])
    .errors(&[404, 503]);

const REFRESH: RouteDoc = RouteDoc::new("Replaces a key's secrets", Credential::None)
    .description(
        "The same `key`, a new `token` and `refresh`: the old ones are dead at once. A wrong or rotated \
         `refresh` (presented again after a short grace) ends the key's session, and no refresh succeeds \
         90 days after the login; both are a 401.",
    )
    .body(&[
        CLIENT,
        Field::required("key", "The key"),
        Field::required("refresh", "The key's refresh secret"),
    ])
    .replies(&[Reply::json(200, "The key's new secrets and their expiry", CREDENTIALS)])
    .errors(&[401, 503]);

const LOGOUT: RouteDoc = RouteDoc::new("Ends the key's session", Credential::Required)
    .description("The credentials are checked before `client`; the key's secrets are dead at once.")
    .body(&[CLIENT])
    .replies(&[Reply::json(200, "Logged out", Shape::Object(&[]))])
    .errors(&[503]);

/// Every error: `{"errors": [string]}`.
const ERRORS: Shape = Shape::Object(&[Prop::required("errors", Shape::Array(&Shape::Str))]);

/// The keytoken dialect's absolute session cap: 90 days from the login.
pub const KEYTOKEN_SESSION_CAP: Duration = Duration::from_secs(90 * 86_400);

/// What every failed authentication answers.
pub const NOT_LOGGED_IN: &str = "You must be logged in to access this area";

/// The `keytoken` dialect: the Kent Hack Enough API's user token routes,
/// which hand out opaque credentials instead of JWTs: a `key` naming the
/// session, a `token` (the access secret) and a `refresh` secret. It
/// accepts the client ids given to [`new`](Self::new) (by default `demo`).
///
/// Mount it at `/users` ([`default_mount`](crate::Dialect::default_mount)):
/// the paths below are relative to the mount point, so `POST /token` is
/// `POST /users/token` and `POST /` is `POST /users`. A request body is a
/// JSON object or `application/x-www-form-urlencoded`, its fields strings
/// (see [`Body::parse`](crate::Body::parse)); `client` must be one of the
/// accepted client ids.
///
/// | method and path | credential | request body | success |
/// |---|---|---|---|
/// | `POST /token` | none | `client`, `email`, `password`: all required | 200, a credentials answer |
/// | `POST /` | none | `client`, `email`, `password`: all required | 200, a credentials answer for the new user (sign-up) |
/// | `POST /token/refresh` | none | `client`, `key`, `refresh`: all required | 200, a credentials answer: the same `key`, a new `token` and `refresh`; the old ones are dead at once |
/// | `DELETE /token` | `Authorization: Basic base64(key:token)` | `client`: required | 200 `{}`; the key's credentials are dead at once |
///
/// A credentials answer is
/// `{"role": string, "key": string, "token": string, "refresh": string, "expires": string}`:
/// `role` is the user's first role (`"attendee"` if none), `expires`
/// when `token` stops working, in ISO-8601 UTC with milliseconds
/// (`"2015-04-29T13:29:25.000Z"`). Protected routes take the same
/// `Authorization: Basic base64(key:token)` (the configuration's
/// [`basic`](crate::AuthorityConfig::basic) is
/// [`KeyToken`](crate::BasicCredentials::KeyToken)). Sign-up needs a
/// [`UserStore`](crate::UserStore) that implements `register`
/// ([`MemoryUsers`](crate::MemoryUsers) does).
///
/// # Errors
///
/// Every error is `{"errors": [string]}`:
///
/// | when | status | `errors` |
/// |---|---|---|
/// | wrong password, or unknown email (the same answer) | 400 | `["Invalid email or password"]` |
/// | a client id not accepted | 400 | `["invalid client"]` |
/// | a missing or empty field | 400 | ``["missing field `email`"]`` |
/// | sign-up with an email already registered | 400 | `["that email is already registered"]` |
/// | sign-up with a user store that does not create users | 404 | `["not found"]` |
/// | any failed authentication: no or wrong `Basic` credentials on `DELETE /token`, an unknown `key` or wrong `refresh`, a rotated `refresh` presented again, expired credentials, a session past its cap | 401, with `WWW-Authenticate: Basic realm="api", charset="UTF-8"` | `["You must be logged in to access this area"]` |
/// | too many failed logins; the store unreachable | 429 with `Retry-After`; 503 with `Retry-After` | the description |
/// | an unknown path; a known path with another method; a body too large or of another content type | 404; 405 with `Allow`; 413; 415 | the description |
///
/// `DELETE /token` checks the credentials before `client`.
/// Every answer carries `Cache-Control: no-store` and `Pragma: no-cache`;
/// a successful login also carries a device token for the login throttle
/// (the `Device-Token` header and cookie, see
/// [`device_token_in`](crate::device_token_in)).
///
/// # Lifetimes
///
/// [`default_config`](crate::Dialect::default_config) sets the API's own
/// lifetime: `token` and `refresh` live 30 days, and both are replaced at
/// every refresh. A rotated `refresh` presented again within 10 seconds
/// (a client whose answer was lost) gets a fresh pair once; after that it
/// is reuse, and the key's credentials die. A session ends 90 days after
/// the login ([`KEYTOKEN_SESSION_CAP`]) however often it refreshes, and
/// [`Authority::revoke_subject`](crate::Authority::revoke_subject) ends
/// it at once. Only SHA-256 hashes of the secrets are stored.
///
/// ```text
/// curl -X POST $BASE/users/token -H 'content-type: application/json' -d '{"client": "demo", "email": "ann@example.com", "password": "s3cret"}'
/// curl -X POST $BASE/users/token/refresh -d "client=demo&key=$KEY&refresh=$REFRESH"
/// curl -X DELETE $BASE/users/token -u "$KEY:$TOKEN" -d 'client=demo'
/// curl -X POST $BASE/users -H 'content-type: application/json' -d '{"client": "demo", "email": "new@example.com", "password": "pw"}'
/// ```
///
/// # Example
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use auth_core::dialects::Keytoken;
/// use auth_core::{AuthRequest, Authority, Dialect, JwtKey, KeySet, MemoryUsers, Principal, RouteSet};
///
/// let users = MemoryUsers::new();
/// users.add_user(Principal::new("1", "ann@example.com"), "s3cret").await.unwrap();
/// let dialect = Keytoken::new(["ios", "web"]);
/// let authority = Authority::builder(KeySet::new(JwtKey::hs256("main", &[42u8; 32]).unwrap()).unwrap())
///     .users(users)
///     .config(dialect.default_config())
///     .build();
/// // paths relative to the mount point, as a framework nesting the set at /users passes them
/// let routes = RouteSet::new(authority, dialect);
///
/// let login = r#"{"client": "ios", "email": "ann@example.com", "password": "s3cret"}"#;
/// let res = routes.handle(AuthRequest::new("POST", "/token").with_body(login)).await;
/// assert_eq!(res.status, 200);
/// let creds = res.json_body().unwrap();
/// assert_eq!(creds["role"], "attendee");
///
/// let refresh = format!("client=ios&key={}&refresh={}", creds["key"].as_str().unwrap(), creds["refresh"].as_str().unwrap());
/// let res = routes.handle(AuthRequest::new("POST", "/token/refresh").with_body(refresh)).await;
/// assert_eq!(res.status, 200);
/// assert_eq!(res.json_body().unwrap()["key"], creds["key"]);
/// # })
/// ```
#[derive(Debug, Clone)]
pub struct Keytoken {
    clients: Vec<String>,
}

impl Default for Keytoken {
    /// Accepts the client id `demo`.
    fn default() -> Self {
        Self::new(["demo"])
    }
}

impl Keytoken {
    /// Accepts these client ids.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(clients: I) -> Self {
        Self { clients: clients.into_iter().map(Into::into).collect() }
    }

    fn check_client(&self, ctx: &RouteContext<'_>) -> Result<(), AuthError> {
        let client = ctx.body.require("client")?;
        if self.clients.iter().any(|c| c == client) {
            Ok(())
        } else {
            Err(AuthError::InvalidRequest("invalid client".into()))
        }
    }
}

fn answer(creds: &OpaqueCredentials) -> AuthResponse {
    AuthResponse::json(
        200,
        &json!({
            "role": creds.roles.first().map_or("attendee", String::as_str),
            "key": creds.key,
            "token": creds.token,
            "refresh": creds.refresh,
            "expires": iso8601(creds.expires_at),
        }),
    )
}

#[async_trait::async_trait]
impl Dialect for Keytoken {
    fn name(&self) -> &'static str {
        "keytoken"
    }

    fn routes(&self) -> &[Route] {
        ROUTES
    }

    fn scheme(&self) -> Scheme {
        Scheme::Basic
    }

    fn default_mount(&self) -> &'static str {
        "/users"
    }

    fn default_config(&self) -> AuthorityConfig {
        let month = Duration::from_secs(30 * 86_400);
        AuthorityConfig {
            access_ttl: month,
            refresh_ttl: month,
            refresh_window: Some(KEYTOKEN_SESSION_CAP),
            basic: BasicCredentials::KeyToken,
            ..AuthorityConfig::default()
        }
    }

    async fn handle(&self, action: Action, ctx: RouteContext<'_>) -> Result<AuthResponse, AuthError> {
        let authority = ctx.authority;
        match action {
            Action::Login => {
                self.check_client(&ctx)?;
                let principal = authority
                    .check_password_from(
                        ctx.client(),
                        ctx.body.require("email")?,
                        ctx.body.require("password")?,
                    )
                    .await?;
                Ok(answer(&authority.issue_opaque(&principal).await?))
            }
            Action::Signup => {
                self.check_client(&ctx)?;
                let (email, password) = (ctx.body.require("email")?, ctx.body.require("password")?);
                crate::audit::note(|t| t.username = Some(email.trim().to_owned()));
                match authority.users().register(email, password).await? {
                    Registration::Created(principal) => {
                        Ok(answer(&authority.issue_opaque(&principal).await?))
                    }
                    Registration::Taken => {
                        Err(AuthError::InvalidRequest("that email is already registered".into()))
                    }
                    Registration::Refused => {
                        Err(AuthError::InvalidRequest("that email cannot name an account".into()))
                    }
                    Registration::Unsupported => Err(AuthError::NotFound),
                }
            }
            Action::Refresh => {
                self.check_client(&ctx)?;
                let creds =
                    authority.refresh_opaque(ctx.body.require("key")?, ctx.body.require("refresh")?).await?;
                Ok(answer(&creds))
            }
            Action::Logout => {
                let Credentials::Basic { user, password } =
                    credentials_of(&ctx.request.authorization, Scheme::Basic)?
                else {
                    return Err(AuthError::MissingCredentials);
                };
                authority.authenticate_opaque(&user, &password).await?;
                self.check_client(&ctx)?;
                authority.revoke_opaque(&user).await?;
                Ok(AuthResponse::json(200, &json!({})))
            }
            _ => Err(AuthError::NotFound),
        }
    }

    fn error_body(&self, err: &AuthError) -> serde_json::Value {
        match (self.error_status(err), err) {
            (401, _) => json!({"errors": [NOT_LOGGED_IN]}),
            (_, AuthError::InvalidCredentials) => json!({"errors": ["Invalid email or password"]}),
            (_, other) => json!({"errors": [other.to_string()]}),
        }
    }

    fn error_status(&self, err: &AuthError) -> u16 {
        match err {
            AuthError::InvalidCredentials => 400,
            other => other.status(),
        }
    }

    fn error_shape(&self, _status: u16) -> Shape {
        ERRORS
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use base64::Engine as _;
    use serde_json::{Value, json};

    use super::Keytoken;
    use crate::dialect::test_doc::{handle_documented, request};
    use crate::tests::{Outage, keys, rt};
    use crate::{
        AuthResponse, Authority, Dialect, MemoryUsers, Principal, RouteSet, UserStore, UserStoreError,
    };

    /// A user store that does not create users.
    struct NoSignup(MemoryUsers);

    #[async_trait::async_trait]
    impl UserStore for NoSignup {
        async fn verify_password(
            &self,
            username: &str,
            password: &str,
        ) -> Result<Option<Principal>, UserStoreError> {
            self.0.verify_password(username, password).await
        }

        async fn load(&self, id: &str) -> Result<Option<Principal>, UserStoreError> {
            self.0.load(id).await
        }
    }

    async fn call(
        routes: &RouteSet,
        method: &str,
        path: &str,
        basic: Option<(&str, &str)>,
        body: Value,
    ) -> AuthResponse {
        let authorization = basic.map(|(key, token)| {
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:{token}")))
        });
        handle_documented(routes, request(method, path, authorization, Some(&body))).await
    }

    #[test]
    fn every_answer_has_its_documented_shape() {
        rt().block_on(async {
            let store = Outage::default();
            let users =
                MemoryUsers::new().with_user(Principal::new("1", "ann@example.com"), "s3cret").expect("hash");
            let dialect = Keytoken::default();
            let config = dialect
                .default_config()
                .login_throttle(1, Duration::from_secs(60))
                .hold_refusals(Duration::ZERO, 0);
            let authority = Authority::builder(keys())
                .users(users.clone())
                .store(store.clone())
                .config(config.clone())
                .build();
            let routes = RouteSet::new(authority, dialect.clone());
            let closed = RouteSet::new(
                Authority::builder(keys()).users(NoSignup(users)).config(config).build(),
                dialect,
            );
            let ann = json!({"client": "demo", "email": "ann@example.com", "password": "s3cret"});
            let creds = |res: AuthResponse| {
                assert_eq!(res.status, 200);
                let body = res.json_body().expect("json");
                let field = |name: &str| body[name].as_str().expect("a secret").to_owned();
                (field("key"), field("token"), field("refresh"))
            };

            let (key, _, refresh) = creds(call(&routes, "POST", "/token", None, ann.clone()).await);
            let refreshed = json!({"client": "demo", "key": key, "refresh": refresh});
            let (key, token, _) =
                creds(call(&routes, "POST", "/token/refresh", None, refreshed.clone()).await);
            let res =
                call(&routes, "DELETE", "/token", Some((&key, &token)), json!({"client": "demo"})).await;
            assert_eq!(res.json_body(), Some(json!({})));
            let new = json!({"client": "demo", "email": "new@example.com", "password": "pw"});
            creds(call(&routes, "POST", "/", None, new.clone()).await);

            // errors
            assert_eq!(call(&routes, "POST", "/", None, new).await.status, 400, "taken");
            assert_eq!(call(&closed, "POST", "/", None, ann).await.status, 404);
            assert_eq!(call(&routes, "POST", "/token/refresh", None, refreshed).await.status, 401);
            let res =
                call(&routes, "DELETE", "/token", Some((&key, &token)), json!({"client": "demo"})).await;
            assert_eq!(res.status, 401);
            assert_eq!(call(&routes, "DELETE", "/token", None, json!({})).await.status, 401);
            let other = json!({"client": "other", "email": "ann@example.com", "password": "s3cret"});
            assert_eq!(call(&routes, "POST", "/token", None, other).await.status, 400);
            let mut statuses = Vec::new();
            for _ in 0..4 {
                let body = json!({"client": "demo", "email": "ann@example.com", "password": "wrong"});
                statuses.push(call(&routes, "POST", "/token", None, body).await.status);
            }
            assert_eq!((statuses[0], statuses.last()), (400, Some(&429)), "{statuses:?}");
            store.down_after(0);
            let refreshed = json!({"client": "demo", "key": "k", "refresh": "r"});
            assert_eq!(call(&routes, "POST", "/token/refresh", None, refreshed).await.status, 503);
            let res = call(&routes, "DELETE", "/token", Some(("k", "t")), json!({"client": "demo"})).await;
            assert_eq!(res.status, 503);
        });
    }
}
