//! `echome`: the ecHome identity API (django-rest-framework-simplejwt 5).
//!
//! | route (mount `/api/v1/identity`) | body | answer |
//! |---|---|---|
//! | `POST /token` | `{username, password}` | 200 `{refresh, access}` |
//! | `POST /token/refresh` | `refresh=<jwt>` + the access token as Bearer | 200 `{access}` |
//!
//! The access token presented with a refresh may have expired, but its
//! signature must verify and its subject match the refresh token's.
//! Errors: `{"detail": ...}`, with `"code": "token_not_valid"` for bad
//! tokens; a missing field is `{"<field>": ["This field is required."]}`.
//!
//! Lifetimes as simplejwt's defaults: access 1 hour, refresh 1 day, not
//! rotated, so a session ends when its refresh token does; the 30-day
//! session cap ([`DEFAULT_SESSION_CAP`](crate::DEFAULT_SESSION_CAP)) holds
//! if the refresh lifetime is raised.

use std::time::Duration;

use serde_json::json;

use super::RouteContext;
use super::util::bearer;
use super::{Action, Dialect, Route};
use crate::authority::AuthorityConfig;
use crate::claims::ClaimStyle;
use crate::claims::TokenUse;
use crate::error::AuthError;
use crate::response::AuthResponse;

const ROUTES: &[Route] =
    &[Route::new("POST", "/token", Action::Login), Route::new("POST", "/token/refresh", Action::Refresh)];

/// The `echome` dialect.
///
/// ```
/// use auth_core::{dialects::Echome, Dialect};
/// assert_eq!(Echome::default().default_mount(), "/api/v1/identity");
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
}
