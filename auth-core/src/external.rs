//! The seam for logins vouched for by another issuer (an identity
//! provider's token in, our own tokens out).

use crate::error::AuthError;
use crate::users::Principal;

/// Verifies a token from an external identity provider (datarhei's Auth0
/// login) and names the principal it stands for. `jwks::JwksVerifier` (feature `jwks`)
/// implements it. Plug one into a dialect (`Datarhei::with_external_identity`)
/// or into the authority ([`AuthorityBuilder::external_identity`](crate::AuthorityBuilder::external_identity)),
/// where the standard dialect's login uses it too.
#[async_trait::async_trait]
pub trait ExternalIdentity: Send + Sync + 'static {
    /// The principal for a valid IdP token; an [`AuthError`] otherwise.
    async fn verify(&self, token: &str) -> Result<Principal, AuthError>;

    /// How `GET /api` lists this login method in `auths` (datarhei writes
    /// `auth0 domain=... audience=... clientid=...` per tenant).
    fn describe(&self) -> Vec<String> {
        Vec::new()
    }
}
