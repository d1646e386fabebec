//! The seam for logins vouched for by another issuer (an identity
//! provider's token in, our own tokens out), and the namespace such
//! identities live in here.

use crate::error::AuthError;

/// Who an external issuer says a token stands for: the issuer and its
/// subject, always together. A subject means nothing without its issuer:
/// `sub: "1"` from one identity provider is not `sub: "1"` from another,
/// and neither is the local user whose id is `1`.
///
/// ```
/// use auth_core::ExternalSubject;
/// let who = ExternalSubject::new("https://idp.example/", "1");
/// assert_eq!(who.principal_id(), "ext|https://idp.example/|1");
/// // a subject of another issuer, or a local id, never has the same id
/// assert_ne!(who.principal_id(), ExternalSubject::new("https://other.example/", "1").principal_id());
/// assert_ne!(who.principal_id(), "1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExternalSubject {
    /// The issuer (`iss`) that vouched for the subject.
    pub issuer: String,
    /// The subject (`sub`) as that issuer names it.
    pub subject: String,
}

/// The prefix of every principal id [`ExternalSubject::principal_id`]
/// makes. Local user ids must not start with it.
pub const EXTERNAL_ID_PREFIX: &str = "ext|";

impl ExternalSubject {
    /// An issuer's subject.
    pub fn new(issuer: impl Into<String>, subject: impl Into<String>) -> Self {
        Self { issuer: issuer.into(), subject: subject.into() }
    }

    /// The principal id this identity has here unless the application
    /// maps it elsewhere ([`UserStore::load_external`](crate::UserStore::load_external)):
    /// `ext|ISSUER|SUBJECT`, the issuer with `%` and `|` percent-encoded so
    /// that no two (issuer, subject) pairs share an id.
    ///
    /// ```
    /// use auth_core::ExternalSubject;
    /// let a = ExternalSubject::new("https://a/|x", "y").principal_id();
    /// let b = ExternalSubject::new("https://a/", "x|y").principal_id();
    /// assert_ne!(a, b);
    /// ```
    pub fn principal_id(&self) -> String {
        let mut id =
            String::with_capacity(EXTERNAL_ID_PREFIX.len() + self.issuer.len() + self.subject.len() + 1);
        id.push_str(EXTERNAL_ID_PREFIX);
        for c in self.issuer.chars() {
            match c {
                '%' => id.push_str("%25"),
                '|' => id.push_str("%7C"),
                c => id.push(c),
            }
        }
        id.push('|');
        id.push_str(&self.subject);
        id
    }
}

/// Verifies a token from an external identity provider (datarhei's Auth0
/// login) and names the issuer and subject it stands for. `jwks::JwksVerifier`
/// (feature `jwks`) implements it. Plug one into a dialect (`Datarhei::with_external_identity`)
/// or into the authority ([`AuthorityBuilder::external_identity`](crate::AuthorityBuilder::external_identity)),
/// where the standard dialect's login uses it too.
///
/// The authority then asks the [`UserStore`](crate::UserStore) for the
/// principal ([`UserStore::load_external`](crate::UserStore::load_external)):
/// an identity it does not know, or has disabled, is refused; its stored
/// roles go into the first token.
#[async_trait::async_trait]
pub trait ExternalIdentity: Send + Sync + 'static {
    /// The issuer and subject of a valid IdP token (allowed for that
    /// issuer); an [`AuthError`] otherwise.
    async fn verify(&self, token: &str) -> Result<ExternalSubject, AuthError>;

    /// How `GET /api` lists this login method in `auths` (datarhei writes
    /// `auth0 domain=... audience=... clientid=...` per tenant).
    fn describe(&self) -> Vec<String> {
        Vec::new()
    }
}
