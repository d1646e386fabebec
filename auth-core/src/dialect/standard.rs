//! `standard`: our own clean default, in the OAuth 2 token-response shape.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /login` | `{username, password}` | 200 `{access_token, token_type, expires_in, refresh_token}` |
//! | `POST /refresh` | `{refresh_token}` | 200, same shape, refresh token rotated |
//! | `POST /verify` | `{token}`, optional `token_type_hint` | 200 `{active: true, sub, exp, ...}` or `{active: false}` |
//! | `POST /logout` | Bearer; optional `{refresh_token}` | 204 |
//!
//! `verify` answers for access tokens; a refresh token is `active` only
//! with `token_type_hint=refresh_token` (RFC 7662), so a client cannot
//! mistake one for the other. `logout` answers 204 for any valid access
//! token whatever `refresh_token` holds: a foreign or broken one is
//! ignored, not reported (RFC 7009).
//!
//! Errors are `{error, error_description}` with an RFC 6750 challenge.
//!
//! Lifetimes: access 15 minutes, refresh 1 day (rotated at every refresh);
//! the session ends 30 days after the login however often it refreshes
//! ([`DEFAULT_SESSION_CAP`](crate::DEFAULT_SESSION_CAP)).

use serde_json::json;

use super::RouteContext;
use super::util::{bearer, password_or_external};
use super::{Action, Dialect, Route};
use crate::authority::TokenPair;
use crate::claims::TokenUse;
use crate::error::AuthError;
use crate::response::AuthResponse;

const ROUTES: &[Route] = &[
    Route::new("POST", "/login", Action::Login),
    Route::new("POST", "/refresh", Action::Refresh),
    Route::new("POST", "/verify", Action::Verify),
    Route::new("POST", "/logout", Action::Logout),
];

/// The `standard` dialect. Mount it at `/auth` (`/auth/login`, `/auth/refresh`, ...).
///
/// ```
/// use auth_core::{Dialect, Standard};
/// assert_eq!(Standard::default().routes().len(), 4);
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

    /// A wrong username or password is 400 `invalid_grant`, as RFC 6749
    /// section 5.2 answers a token request whose grant is invalid.
    fn error_status(&self, err: &AuthError) -> u16 {
        match err {
            AuthError::InvalidCredentials => 400,
            other => other.status(),
        }
    }

    async fn handle(&self, action: Action, ctx: RouteContext<'_>) -> Result<AuthResponse, AuthError> {
        let authority = ctx.authority;
        match action {
            Action::Login => {
                // Opt-in (AuthorityBuilder::external_identity): an identity
                // provider's token as Bearer, no body.
                let pair = password_or_external(&ctx, authority.external_identity()).await?;
                Ok(token_response(&pair, None))
            }
            Action::Refresh => {
                let presented = ctx.body.require("refresh_token")?;
                let pair = authority.refresh(presented).await?;
                Ok(token_response(&pair, Some(presented)))
            }
            Action::Verify => {
                let token = ctx.body.require("token")?;
                let introspected = match ctx.body.get("token_type_hint")? {
                    Some("refresh_token") => match authority.introspect(token, TokenUse::Refresh).await? {
                        Some(claims) => Some(claims),
                        None => authority.introspect(token, TokenUse::Access).await?,
                    },
                    _ => authority.introspect(token, TokenUse::Access).await?,
                };
                let body = match introspected {
                    Some(c) => json!({
                        "active": true,
                        "sub": c.sub,
                        "exp": c.exp,
                        "iat": c.iat,
                        "username": c.username,
                        "roles": c.roles,
                        "token_use": c.token_use,
                    }),
                    None => json!({"active": false}),
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
