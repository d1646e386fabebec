//! `jwks`: publishes the authority's public keys, so that other services
//! can verify its tokens (any dialect's), as every OIDC provider does.
//!
//! | route (mount: the site root) | answer |
//! |---|---|
//! | `GET /.well-known/jwks.json` | 200 `{"keys": [...]}`: the key set's asymmetric public keys, signing key first |
//!
//! HMAC secrets are never listed (a key set of HMAC keys publishes
//! `{"keys": []}`). The answer may be cached for
//! [`JWKS_MAX_AGE`] seconds (`Cache-Control: public, max-age=...`): a
//! verifier that meets an unknown `kid` fetches the set again, so a new
//! signing key is picked up at once. Mount it next to a dialect's route set:
//!
//! ```
//! # let authority = auth_core::Authority::builder(auth_core::KeySet::new(auth_core::JwtKey::hs256("k", &[1u8; 32]).unwrap()).unwrap()).build();
//! use auth_core::{dialects::Jwks, Action, RouteSet};
//! let published = RouteSet::new(authority, Jwks);
//! assert_eq!(published.route("GET", "/.well-known/jwks.json").ok(), Some(Action::Jwks));
//! ```

use super::{Action, Dialect, Route, RouteContext};
use crate::error::AuthError;
use crate::response::AuthResponse;

const ROUTES: &[Route] = &[Route::new("GET", "/.well-known/jwks.json", Action::Jwks)];

/// How long a published key set may be cached, in seconds.
pub const JWKS_MAX_AGE: u64 = 300;

/// The route set that publishes the public keys (`GET /.well-known/jwks.json`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Jwks;

#[async_trait::async_trait]
impl Dialect for Jwks {
    fn name(&self) -> &'static str {
        "jwks"
    }

    fn routes(&self) -> &[Route] {
        ROUTES
    }

    async fn handle(&self, action: Action, ctx: RouteContext<'_>) -> Result<AuthResponse, AuthError> {
        match action {
            Action::Jwks => {
                let set = ctx.authority.keys().public_jwks();
                let body = serde_json::to_value(&set).map_err(|_| AuthError::Unavailable)?;
                Ok(AuthResponse::json(200, &body).cacheable(JWKS_MAX_AGE))
            }
            _ => Err(AuthError::NotFound),
        }
    }
}
