//! `drf`: django-rest-framework-jwt's token API.
//!
//! | route (mount `/auth`) | body | answer |
//! |---|---|---|
//! | `POST /access_token/` | `{username, password}` | 200 `{access_token, expires_in: <ISO-8601>, user: <username>}` |
//! | `POST /refresh_token/` | `{token}` | 200 `{token, expires_in, user: {username, id}}` |
//! | `POST /verify_token/` | `{token}` | 200 `{token, expires_in, user}`, or 400 with the reason |
//!
//! Requests carry `Authorization: Token <jwt>`. Only unexpired tokens
//! refresh; the new token keeps `orig_iat`, and no refresh succeeds after
//! `orig_iat` plus the refresh window (10 days). Lifetime 5 days.
//! The 10-day window is the session cap (the server's own
//! `JWT_REFRESH_EXPIRATION_DELTA`); every refreshed token joins the family
//! of the login's, so revoking one ends the chain.

use std::time::Duration;

use serde_json::json;

use super::RouteContext;
use super::util::{id_value, iso8601};
use super::{Action, Dialect, Route};
use crate::authority::AuthorityConfig;
use crate::claims::ClaimStyle;
use crate::claims::Claims;
use crate::error::{AuthError, TokenRejection};
use crate::header::Scheme;
use crate::response::AuthResponse;

const ROUTES: &[Route] = &[
    Route::new("POST", "/access_token/", Action::Login),
    Route::new("POST", "/refresh_token/", Action::Refresh),
    Route::new("POST", "/verify_token/", Action::Verify),
];

/// The `drf` dialect.
///
/// ```
/// use auth_core::{dialects::Drf, Dialect};
/// assert_eq!(Drf::default().default_config().refresh_window.map(|w| w.as_secs()), Some(10 * 86_400));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Drf;

/// drf-jwt's messages for a token the auth routes refuse (answered 400).
fn token_error(err: AuthError) -> AuthError {
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
}
