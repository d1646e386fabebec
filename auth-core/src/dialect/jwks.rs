//! `jwks`: publishes the authority's public keys as a JWK Set, so that
//! other services can verify its tokens (any dialect's), as every OpenID
//! Connect provider does.
//!
//! The route and its answer are documented on [`Jwks`], which is what
//! rustdoc shows.

use super::{Action, Dialect, Route, RouteContext};
use crate::error::AuthError;
use crate::response::AuthResponse;

const ROUTES: &[Route] = &[Route::new("GET", "/.well-known/jwks.json", Action::Jwks)];

/// How long a published key set may be cached, in seconds.
pub const JWKS_MAX_AGE: u64 = 300;

/// The route set that publishes the public keys: the JWK Set (RFC 7517)
/// document an OpenID Connect provider serves, so that other services can
/// verify this authority's tokens, whatever dialect issued them.
///
/// Mount it at the site root (its
/// [`default_mount`](crate::Dialect::default_mount) is empty), next to a
/// dialect's route set.
///
/// | method and path | credential | request body | success |
/// |---|---|---|---|
/// | `GET /.well-known/jwks.json` | none | none | 200 `{"keys": [jwk]}` |
///
/// `keys` holds the key set's asymmetric public keys, the signing key
/// first: each a JWK with `kty`, `kid`, `alg`, `use: "sig"` and its public
/// parameters (`n` and `e` for RSA; `crv`, `x` and `y` for EC; `crv` and
/// `x` for Ed25519). HMAC secrets are never listed, so a key set of HMAC
/// keys publishes `{"keys": []}`. The answer carries
/// `Cache-Control: public, max-age=300` ([`JWKS_MAX_AGE`]): a verifier
/// that meets an unknown `kid` fetches the set again, so a new signing key
/// is picked up at once. Errors are `{"error": string, "error_description": string}`:
/// 404 `not_found` for another path, 405 `invalid_request` with `Allow`
/// for another method. There are no tokens and no
/// [`default_config`](crate::Dialect::default_config) of its own.
///
/// ```text
/// curl $BASE/.well-known/jwks.json
/// ```
///
/// # Example
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use auth_core::dialects::Jwks;
/// use auth_core::{AuthRequest, Authority, JwtKey, KeySet, RouteSet};
///
/// let authority = Authority::builder(KeySet::new(JwtKey::hs256("main", &[42u8; 32]).unwrap()).unwrap()).build();
/// let published = RouteSet::new(authority, Jwks);
///
/// let res = published.handle(AuthRequest::new("GET", "/.well-known/jwks.json")).await;
/// assert_eq!(res.status, 200);
/// assert_eq!(res.header("cache-control"), Some("public, max-age=300"));
/// // an HMAC secret is never published
/// assert_eq!(res.json_body().unwrap()["keys"], serde_json::json!([]));
/// # })
/// ```
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
