//! `sachet`: the Sachet user API (Flask + PyJWT).
//!
//! | route (mount `/users`) | request | answer |
//! |---|---|---|
//! | `POST /login` | `{username, password}` | 200 `{status, message: "Logged in.", username, auth_token}` |
//! | `POST /extend` | Bearer | 200 `{status, message: "Renewed token.", username, auth_token}`; the old token stays valid |
//! | `POST /logout` | Bearer + `{token}` | 200 `{status, message: "Token revoked."}` |
//!
//! Logout revokes the token named in the body and every extension of it
//! (an extension joins the family of the token it extends): 400 when it is
//! missing, already revoked or expired; 403 when it is someone else's (role
//! `admin` may); 503 when the store cannot be reached. One token type,
//! 7 days (Sachet's own lifetime); the session cap is 30 days from the
//! login ([`DEFAULT_SESSION_CAP`](crate::DEFAULT_SESSION_CAP)): no
//! extension after that. Errors: `{"status": "fail", "message"}`.

use std::time::Duration;

use serde_json::json;

use super::RouteContext;
use super::util::bearer;
use super::{Action, Dialect, Route};
use crate::authority::AuthorityConfig;
use crate::claims::TokenUse;
use crate::error::AuthError;
use crate::response::AuthResponse;

const ROUTES: &[Route] = &[
    Route::new("POST", "/login", Action::Login),
    Route::new("POST", "/extend", Action::Extend),
    Route::new("POST", "/logout", Action::Logout),
];

/// The role that may revoke other users' tokens.
pub const ADMIN_ROLE: &str = "admin";

/// The `sachet` dialect.
///
/// ```
/// use auth_core::{dialects::Sachet, Dialect};
/// assert_eq!(Sachet::default().default_config().access_ttl.as_secs(), 7 * 86_400);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Sachet;

fn success(message: &str, username: &str, token: &str) -> AuthResponse {
    AuthResponse::json(
        200,
        &json!({"status": "success", "message": message, "username": username, "auth_token": token}),
    )
}

#[async_trait::async_trait]
impl Dialect for Sachet {
    fn name(&self) -> &'static str {
        "sachet"
    }

    fn routes(&self) -> &[Route] {
        ROUTES
    }

    fn default_mount(&self) -> &'static str {
        "/users"
    }

    fn default_config(&self) -> AuthorityConfig {
        let week = Duration::from_secs(7 * 86_400);
        AuthorityConfig {
            access_ttl: week,
            refresh_ttl: week,
            rotate_refresh: false,
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
                let username = pair.access_claims.username.as_deref().unwrap_or_default();
                Ok(success("Logged in.", username, &pair.access_token))
            }
            Action::Extend => {
                let pair = authority.extend(&bearer(ctx.request)?).await?;
                let username = pair.access_claims.username.clone().unwrap_or_default();
                Ok(success("Renewed token.", &username, &pair.access_token))
            }
            Action::Logout => {
                let caller = authority.authenticate_token(&bearer(ctx.request)?).await?;
                let target = ctx.body.require("token")?;
                let now = crate::time::now();
                let target = authority
                    .verify(target, TokenUse::Access, now)
                    .map_err(|e| AuthError::InvalidRequest(format!("cannot revoke: {e}")))?;
                if target.sub() != caller.sub() && !caller.claims.has_role(ADMIN_ROLE) {
                    return Err(AuthError::Forbidden);
                }
                match authority.check_revocation(&target.claims, now).await {
                    Ok(()) => {}
                    Err(AuthError::InvalidToken(_)) => {
                        return Err(AuthError::InvalidRequest("the token is already revoked".into()));
                    }
                    // the store is down: 503, not "already revoked"
                    Err(other) => return Err(other),
                }
                authority.revoke(&target.claims).await?;
                // and every extension of it: they share its family
                if let Some(family) = &target.claims.fam {
                    authority.revoke_family(family).await?;
                }
                Ok(AuthResponse::json(200, &json!({"status": "success", "message": "Token revoked."})))
            }
            _ => Err(AuthError::NotFound),
        }
    }

    fn error_body(&self, err: &AuthError) -> serde_json::Value {
        json!({"status": "fail", "message": err.to_string()})
    }
}
