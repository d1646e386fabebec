//! `keytoken`: the Kent Hack Enough API's opaque key/token credentials.
//!
//! | route (mount `/users`) | request | answer |
//! |---|---|---|
//! | `POST /token` | `{client, email, password}` | 200 `{role, key, token, refresh, expires}` |
//! | `POST /` (i.e. `POST /users`) | `{client, email, password}` | sign-up, same answer |
//! | `POST /token/refresh` | `{client, key, refresh}` | 200, both secrets rotated, the old pair dead |
//! | `DELETE /token` | Basic `key:token` + `{client}` | 200 `{}`; the pair is dead at once |
//!
//! Only hashes of the secrets are stored. Errors: `{"errors": [...]}`;
//! bad credentials 400; any failed authentication 401
//! `{"errors": ["You must be logged in to access this area"]}`.
//!
//! Credentials live 30 days (the API's own lifetime) and both secrets
//! rotate at every refresh; presenting a rotated refresh secret again is
//! reuse: the pair dies. The session ends 90 days after the login
//! ([`KEYTOKEN_SESSION_CAP`]) however often it refreshes, and
//! [`Authority::revoke_subject`](crate::Authority::revoke_subject) ends it
//! at once.

use std::time::Duration;

use serde_json::json;

use super::RouteContext;
use super::util::iso8601;
use super::{Action, Dialect, Route};
use crate::authority::{AuthorityConfig, BasicCredentials};
use crate::error::AuthError;
use crate::header::{Credentials, Scheme, credentials_of};
use crate::opaque::OpaqueCredentials;
use crate::response::AuthResponse;
use crate::users::Registration;

const ROUTES: &[Route] = &[
    Route::new("POST", "/token", Action::Login),
    Route::new("DELETE", "/token", Action::Logout),
    Route::new("POST", "/token/refresh", Action::Refresh),
    Route::new("POST", "/", Action::Signup),
];

/// The keytoken dialect's absolute session cap: 90 days from the login.
pub const KEYTOKEN_SESSION_CAP: Duration = Duration::from_secs(90 * 86_400);

/// What every failed authentication answers.
pub const NOT_LOGGED_IN: &str = "You must be logged in to access this area";

/// The `keytoken` dialect, with the client ids it accepts.
///
/// ```
/// use auth_core::{dialects::Keytoken, Dialect, Scheme};
/// let dialect = Keytoken::new(["ios", "web"]);
/// assert_eq!(dialect.scheme(), Scheme::Basic);
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
                match authority.users().register(email, password).await? {
                    Registration::Created(principal) => {
                        Ok(answer(&authority.issue_opaque(&principal).await?))
                    }
                    Registration::Taken => {
                        Err(AuthError::InvalidRequest("that email is already registered".into()))
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
}
