//! `datarhei`: the datarhei Core login API.
//!
//! | route (mount `/api`) | request | answer |
//! |---|---|---|
//! | `POST /login` | `{username, password}` | 200 `{access_token, refresh_token}` |
//! | `POST /login` | no body, `Bearer <IdP JWT>` | the same, via an [`ExternalIdentity`] |
//! | `GET /login/refresh` | the refresh token as Bearer | 200 `{access_token}` |
//!
//! Tokens carry `exi`, `usefor` and `iss: datarhei-core`. Errors are
//! `{"code": <status>, "message": "<reason phrase>", "details": [...]}`.
//!
//! Lifetimes as datarhei Core's: access 10 minutes, refresh 1 day, not
//! rotated, so a session ends when its refresh token does; the 30-day
//! session cap ([`DEFAULT_SESSION_CAP`](crate::DEFAULT_SESSION_CAP)) holds
//! if the refresh lifetime is raised.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::RouteContext;
use super::util::{bearer, reason};
use super::{Action, Dialect, Route};
use crate::authority::AuthorityConfig;
use crate::claims::ClaimStyle;
use crate::error::AuthError;
use crate::jwt::Validation;
use crate::response::AuthResponse;
use crate::users::Principal;

const ROUTES: &[Route] =
    &[Route::new("POST", "/login", Action::Login), Route::new("GET", "/login/refresh", Action::Refresh)];

/// Verifies a token from an external identity provider (datarhei's Auth0
/// login) and names the principal it stands for. The seam a later JWKS
/// implementation plugs into.
#[async_trait::async_trait]
pub trait ExternalIdentity: Send + Sync + 'static {
    /// The principal for a valid IdP token; an [`AuthError`] otherwise.
    async fn verify(&self, token: &str) -> Result<Principal, AuthError>;
}

/// The `datarhei` dialect. Without an [`ExternalIdentity`], a login without
/// username and password is a 400.
///
/// ```
/// use auth_core::{dialects::Datarhei, Dialect};
/// assert_eq!(Datarhei::default().default_config().validation.issuer.as_deref(), Some("datarhei-core"));
/// ```
#[derive(Clone, Default)]
pub struct Datarhei {
    external: Option<Arc<dyn ExternalIdentity>>,
}

impl std::fmt::Debug for Datarhei {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Datarhei").field("external", &self.external.is_some()).finish()
    }
}

impl Datarhei {
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
        ROUTES
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
            Action::Login => {
                let has_password = ctx.body.has("username") || ctx.body.has("password");
                let pair = match (&self.external, has_password) {
                    (Some(external), false) if ctx.request.authorization.is_present() => {
                        let principal = external.verify(&bearer(ctx.request)?).await?;
                        authority.issue(&principal).await?
                    }
                    _ => {
                        authority
                            .login_from(
                                ctx.client(),
                                ctx.body.require("username")?,
                                ctx.body.require("password")?,
                            )
                            .await?
                    }
                };
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
}
