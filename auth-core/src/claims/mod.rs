//! The claims our tokens carry, and the identity a verified request gets.
//!
//! [`Claims`] holds the registered claims (`sub iss aud exp nbf iat jti`),
//! the token's [`TokenUse`], roles and scope, the original login time and
//! the refresh family. Claims the application adds travel in the token too
//! and are read back with [`AuthIdentity::custom`].

mod parse;
mod style;

pub(crate) use parse::Spelling;
pub use style::ClaimStyle;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Every claim name this crate writes or reads itself, in every dialect's
/// spelling; anything else in a payload is the application's.
const REGISTERED: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "token_use",
    "token_type",
    "usefor",
    "username",
    "roles",
    "scope",
    "auth_time",
    "orig_iat",
    "fam",
    "exi",
    "user_id",
    "csrf",
];

/// What a token is for. A refresh token is never accepted where an access
/// token is expected, and the reverse.
///
/// ```
/// use auth_core::TokenUse;
/// assert_eq!(serde_json::to_string(&TokenUse::Refresh).unwrap(), r#""refresh""#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenUse {
    /// Presented on every request to a protected resource.
    Access,
    /// Presented only to the refresh route.
    Refresh,
    /// A device token: presented only at login, to the login throttle
    /// (never accepted as an access or a refresh token).
    Device,
}

/// The `aud` claim: one string or an array of strings (RFC 7519 4.1.3).
/// Any other JSON type (`null` included) makes the token malformed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Audience {
    /// `"aud": "api"`
    One(String),
    /// `"aud": ["api", "admin"]`
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` names `expected`.
    ///
    /// ```
    /// use auth_core::Audience;
    /// assert!(Audience::Many(vec!["a".into(), "b".into()]).contains("b"));
    /// ```
    pub fn contains(&self, expected: &str) -> bool {
        match self {
            Self::One(a) => a == expected,
            Self::Many(all) => all.iter().any(|a| a == expected),
        }
    }
}

/// The claims of a token issued or accepted by an [`Authority`](crate::Authority).
///
/// Parsing is strict: claims of types other than these (`iss` as a number
/// or `null`, say), a member name given twice (at any depth, unknown claims
/// included) or two spellings of one claim (`token_use` and `usefor`) make
/// the token malformed. Claims this type does not know are checked for
/// duplicates and otherwise left to [`AuthIdentity::custom`].
///
/// ```
/// use auth_core::{Claims, TokenUse};
/// let json = r#"{"sub":"42","exp":2000000000,"token_use":"access","roles":["admin"]}"#;
/// let claims: Claims = serde_json::from_str(json).unwrap();
/// assert_eq!(claims.token_use, Some(TokenUse::Access));
/// assert!(claims.has_role("admin"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Claims {
    /// Subject: the principal's id.
    pub sub: String,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Expiry, seconds since the epoch. Required.
    pub exp: i64,
    /// Not before, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Issued at, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Token id, used for revocation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// What the token is for. Dialects spell it `token_type` or `usefor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_use: Option<TokenUse>,
    /// The principal's username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The principal's roles.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// OAuth scopes, space separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Time of the original login (`orig_iat` in the drf dialect); the
    /// refresh window counts from here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The refresh family a refresh token belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
}

impl Claims {
    /// Whether the roles include `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the space-separated `scope` includes `scope`.
    ///
    /// ```
    /// let claims = auth_core::Claims { scope: Some("read write".into()), ..Default::default() };
    /// assert!(claims.has_scope("write"));
    /// assert!(!claims.has_scope("wri"));
    /// ```
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.as_deref().is_some_and(|s| s.split(' ').any(|x| x == scope))
    }

    /// The scopes as a set.
    pub fn scopes(&self) -> BTreeSet<&str> {
        self.scope.as_deref().map(|s| s.split(' ').filter(|x| !x.is_empty()).collect()).unwrap_or_default()
    }
}

/// A verified request's identity: the claims of its token and the raw
/// payload, for the application's own claims.
///
/// ```
/// use auth_core::{Claims, AuthIdentity};
/// let identity = AuthIdentity::new(Claims { sub: "7".into(), ..Default::default() }, br#"{"sub":"7","tenant":"acme"}"#.to_vec());
/// #[derive(serde::Deserialize)]
/// struct Tenant { tenant: String }
/// assert_eq!(identity.custom::<Tenant>().unwrap().tenant, "acme");
/// ```
/// Cheap to clone: one `Arc` (one reference count to touch per clone,
/// which matters when every core clones the same cached identity); its
/// fields are read through [`IdentityData`] (`identity.claims.sub`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthIdentity(Arc<IdentityData>);

/// What an [`AuthIdentity`] holds: the verified claims and the raw payload.
#[derive(Debug, PartialEq, Eq)]
pub struct IdentityData {
    /// The verified claims.
    pub claims: Claims,
    payload: Box<[u8]>,
}

impl std::ops::Deref for AuthIdentity {
    type Target = IdentityData;

    fn deref(&self) -> &IdentityData {
        &self.0
    }
}

impl AuthIdentity {
    /// An identity from verified claims and the token's JSON payload.
    pub fn new(claims: Claims, payload: Vec<u8>) -> Self {
        Self(Arc::new(IdentityData { claims, payload: payload.into() }))
    }

    /// The size of the token's JSON payload, in bytes.
    pub(crate) fn payload_len(&self) -> usize {
        self.payload.len()
    }

    /// The subject (principal id).
    pub fn sub(&self) -> &str {
        &self.claims.sub
    }

    /// The username, or the subject where the token has none.
    pub fn username(&self) -> &str {
        self.claims.username.as_deref().unwrap_or(&self.claims.sub)
    }

    /// The roles.
    pub fn roles(&self) -> &[String] {
        &self.claims.roles
    }

    /// Whether the identity has `role` or the scope `role`.
    pub fn has_role_or_scope(&self, role: &str) -> bool {
        self.claims.has_role(role) || self.claims.has_scope(role)
    }

    /// The application's own claims, parsed from the verified payload.
    pub fn custom<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.payload)
    }

    /// The application's own claims: every member of the payload that is
    /// not a registered claim (in any dialect's spelling).
    ///
    /// ```
    /// use auth_core::{Claims, AuthIdentity};
    /// let id = AuthIdentity::new(Claims::default(), br#"{"sub":"7","exp":1,"usefor":"access","tenant":"acme"}"#.to_vec());
    /// assert_eq!(id.app_claims(), serde_json::json!({"tenant": "acme"}).as_object().unwrap().clone());
    /// ```
    pub fn app_claims(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut all: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&self.payload).unwrap_or_default();
        all.retain(|name, _| !REGISTERED.contains(&name.as_str()));
        all
    }

    /// When a stream opened with this identity must end: the expiry of the
    /// token it presented. `None` for an identity that no token carries (a
    /// `Basic` password check, which expires nothing).
    ///
    /// ```
    /// use auth_core::{AuthIdentity, Claims};
    /// let token = AuthIdentity::new(Claims { exp: 1_900, iat: Some(1_000), ..Default::default() }, Vec::new());
    /// assert_eq!(token.stream_deadline(), Some(1_900));
    /// let password = AuthIdentity::new(Claims { exp: 1_000, iat: Some(1_000), ..Default::default() }, Vec::new());
    /// assert_eq!(password.stream_deadline(), None);
    /// ```
    pub fn stream_deadline(&self) -> Option<i64> {
        let c = &self.claims;
        (c.exp > c.iat.unwrap_or(i64::MIN)).then_some(c.exp)
    }

    /// `{"sub", "username", "roles"}`: what a `whoami` route answers.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({"sub": self.sub(), "username": self.username(), "roles": self.roles()})
    }
}
