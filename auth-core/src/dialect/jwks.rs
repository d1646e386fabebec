//! `jwks`: publishes the authority's public keys as a JWK Set, so that
//! other services can verify its tokens (any dialect's), as every OpenID
//! Connect provider does.
//!
//! The route and its answer are documented on [`Jwks`], which is what
//! rustdoc shows.

use super::{Action, Dialect, Route, RouteContext};
use crate::describe::{Credential, HeaderDoc, Prop, Reply, RouteDoc, Shape};
use crate::error::AuthError;
use crate::response::AuthResponse;

const ROUTES: &[Route] = &[Route::new("GET", "/.well-known/jwks.json", Action::Jwks).described(&KEYS)];

/// A published key: RSA, EC or Ed25519, with its public parameters.
const JWK: Shape = Shape::AnyOf(&[
    Shape::Object(&[
        Prop::required("kty", Shape::Const("RSA")),
        Prop::required("use", Shape::Const("sig")),
        Prop::required("alg", Shape::Enum(&["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"])),
        Prop::required("kid", Shape::Str),
        Prop::required("n", Shape::Str),
        Prop::required("e", Shape::Str),
    ]),
    Shape::Object(&[
        Prop::required("kty", Shape::Const("EC")),
        Prop::required("use", Shape::Const("sig")),
        Prop::required("alg", Shape::Enum(&["ES256", "ES384"])),
        Prop::required("kid", Shape::Str),
        Prop::required("crv", Shape::Enum(&["P-256", "P-384"])),
        Prop::required("x", Shape::Str),
        Prop::required("y", Shape::Str),
    ]),
    Shape::Object(&[
        Prop::required("kty", Shape::Const("OKP")),
        Prop::required("use", Shape::Const("sig")),
        Prop::required("alg", Shape::Const("EdDSA")),
        Prop::required("kid", Shape::Str),
        Prop::required("crv", Shape::Const("Ed25519")),
        Prop::required("x", Shape::Str),
    ]),
]);

/// The route decides its own caching (no `Pragma`).
const CACHE_CONTROL: HeaderDoc =
    HeaderDoc::new("Cache-Control", true, "`public, max-age=300`: the key set may be cached for 5 minutes");

const KEYS: RouteDoc = RouteDoc::new("Publishes the public keys (a JWK Set)", Credential::None)
    .description(
        "The key set's asymmetric public keys, the signing key first, for other services to verify this \
         authority's tokens. HMAC secrets are never listed: a key set of HMAC keys publishes \
         `{\"keys\": []}`. The answer may be cached for 5 minutes; a verifier that meets an unknown `kid` \
         fetches it again.",
    )
    .replies(&[Reply::json(200, "The JWK Set", Shape::Object(&[Prop::required("keys", Shape::Array(&JWK))]))
        .headers(&[CACHE_CONTROL])])
    .errors(&[503]);

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

#[cfg(test)]
mod tests {
    use super::Jwks;
    use crate::dialect::test_doc::handle_documented;
    use crate::tests::{rt, testdata};
    use crate::{Algorithm, AuthRequest, Authority, JwtKey, KeySet, RouteSet};

    #[test]
    fn every_answer_has_its_documented_shape() {
        rt().block_on(async {
            let hmac = KeySet::new(JwtKey::hs256("main", &[42u8; 32]).expect("key")).expect("keys");
            let ec = JwtKey::pem_pair(
                "ec",
                Algorithm::ES256,
                &testdata("ec_private.pem"),
                &testdata("ec_public.pem"),
            )
            .expect("ec");
            let rsa = JwtKey::public_pem("rsa", Algorithm::PS256, &testdata("rsa_public.pem")).expect("rsa");
            let ed = JwtKey::public_pem("ed", Algorithm::EdDSA, &testdata("ed_public.pem")).expect("ed");
            let mixed = KeySet::new(ec).expect("keys").with_verification_key(rsa).with_verification_key(ed);
            for (keys, published) in [(hmac, 0), (mixed, 3)] {
                let routes = RouteSet::new(Authority::builder(keys).build(), Jwks);
                let res = handle_documented(&routes, AuthRequest::new("GET", "/.well-known/jwks.json")).await;
                assert_eq!(res.json_body().expect("json")["keys"].as_array().map(Vec::len), Some(published));
            }
        });
    }
}
