//! What a [`JwksVerifier`](super::JwksVerifier) trusts and how it fetches.

use std::time::Duration;

use crate::keys::Algorithm;

/// Where an issuer's keys are published. Either way the URLs fetched are
/// `https`, or plain `http` to a loopback host (see
/// [`JwksOptions::allow_insecure_http`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A JWKS document at this URL.
    JwksUrl(String),
    /// The `jwks_uri` of the issuer's `/.well-known/openid-configuration`
    /// (whose `issuer` must equal the configured one, as OIDC requires):
    /// the issuer must then be an `https` URL.
    Discovery,
}

/// One trusted issuer (an Auth0 tenant, a Keycloak realm, ...).
///
/// ```
/// use auth_core::jwks::IssuerConfig;
/// let tenant = IssuerConfig::new("https://example.eu.auth0.com/", "https://api.example.com")
///     .jwks_url("https://example.eu.auth0.com/.well-known/jwks.json")
///     .allow_subjects(["auth0|alice"]);
/// assert_eq!(tenant.audiences, ["https://api.example.com"]);
/// ```
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    /// The exact `iss` its tokens carry.
    pub issuer: String,
    /// Accepted `aud` values: a token must name at least one. Never empty
    /// in a working configuration (a verifier refuses to start without).
    pub audiences: Vec<String>,
    /// The subjects allowed to log in (datarhei's "allowed users"); `None`:
    /// any subject the issuer vouches for.
    pub allowed_subjects: Option<Vec<String>>,
    /// Where the keys are.
    pub source: KeySource,
    /// The algorithms accepted from this issuer (the token's `alg` must
    /// also equal its key's). Default RS256, PS256, ES256, EdDSA; never HMAC.
    pub algorithms: Vec<Algorithm>,
    /// An OAuth client id, shown in descriptions (datarhei's `auths`).
    pub client_id: Option<String>,
    /// Which tokens count as access tokens, beyond the refusals that
    /// always apply (see [`TokenTypes`]). Default: none required.
    pub token_types: TokenTypes,
}

/// What makes an issuer's token an access token here.
///
/// Whatever is configured, a token is refused when it says it is
/// something else:
///
/// - its header `typ` is neither absent, `JWT` nor `at+jwt` (RFC 9068),
///   compared as a media type (case-insensitive, `application/`
///   optional): `rt+jwt`, `id_token+jwt`, `logout+jwt`, ... are refused
///   with [`TokenRejection::Type`](crate::TokenRejection::Type);
/// - a token-use claim (`token_use`, `token_type` or `usefor`, the
///   spellings this crate's dialects and AWS Cognito use) says anything
///   but `access` (say `refresh` or `id`), or a `typ` claim (Keycloak's)
///   says anything but `Bearer`;
/// - it carries an ID-token marker: `nonce`, `at_hash`, `c_hash` or
///   `s_hash` (OpenID Connect puts them in ID tokens, never in access
///   tokens).
///
/// Those three are refused with
/// [`TokenRejection::WrongUse`](crate::TokenRejection::WrongUse). A plain
/// access token of an IdP that types nothing (Auth0's and Entra ID's:
/// `typ: JWT`, no type claim) passes. An ID token without any marker
/// cannot be told from such an access token by its shape; where the
/// issuer types its access tokens, require it
/// ([`IssuerConfig::require_typ`], [`IssuerConfig::require_claim`]) and
/// every untyped token is refused too.
///
/// ```
/// use auth_core::jwks::IssuerConfig;
/// let realm = IssuerConfig::new("https://sso.example/realms/main", "api")
///     .require_typ("at+jwt")
///     .require_claim("token_use", "access");
/// assert_eq!(realm.token_types.typ, ["at+jwt"]);
/// assert_eq!(realm.token_types.claims, [("token_use".to_owned(), "access".to_owned())]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenTypes {
    /// Header `typ` values of which a token must carry one (a token
    /// without `typ` is then refused). Empty: absent, `JWT` or `at+jwt`.
    pub typ: Vec<String>,
    /// Claims a token must carry, each with this value (a string claim
    /// equal to it, or an array of strings containing it).
    pub claims: Vec<(String, String)>,
}

impl IssuerConfig {
    /// An issuer with one audience, keys found by OIDC discovery, any subject.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            allowed_subjects: None,
            source: KeySource::Discovery,
            algorithms: vec![Algorithm::RS256, Algorithm::PS256, Algorithm::ES256, Algorithm::EdDSA],
            client_id: None,
            token_types: TokenTypes::default(),
        }
    }

    /// Takes the keys from this JWKS URL instead of discovery.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.source = KeySource::JwksUrl(url.into());
        self
    }

    /// Accepts another audience.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Only these subjects may log in.
    pub fn allow_subjects<S: Into<String>>(mut self, subjects: impl IntoIterator<Item = S>) -> Self {
        self.allowed_subjects = Some(subjects.into_iter().map(Into::into).collect());
        self
    }

    /// The accepted algorithms (HMAC ones are dropped: an issuer's key is public).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms
            .into_iter()
            .filter(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
            .collect();
        self
    }

    /// Accepts only tokens whose header `typ` is `typ` (or another value
    /// required so): `require_typ("at+jwt")` for an issuer that types its
    /// access tokens as RFC 9068 says. Compared as a media type
    /// (case-insensitive, `application/` optional).
    ///
    /// ```
    /// use auth_core::jwks::IssuerConfig;
    /// let tenant = IssuerConfig::new("https://idp.example/", "api").require_typ("at+jwt");
    /// assert_eq!(tenant.token_types.typ, ["at+jwt"]);
    /// ```
    pub fn require_typ(mut self, typ: impl Into<String>) -> Self {
        self.token_types.typ.push(typ.into());
        self
    }

    /// Accepts only tokens carrying the claim `name` with `value` (a string
    /// equal to it, or an array of strings containing it), such as
    /// `require_claim("token_use", "access")` for this crate's own tokens
    /// or AWS Cognito's.
    ///
    /// ```
    /// use auth_core::jwks::IssuerConfig;
    /// let pool = IssuerConfig::new("https://cognito-idp.eu-west-1.amazonaws.com/POOL", "client")
    ///     .require_claim("token_use", "access");
    /// assert_eq!(pool.token_types.claims.len(), 1);
    /// ```
    pub fn require_claim(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.token_types.claims.push((name.into(), value.into()));
        self
    }

    /// The OAuth client id, for descriptions.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// datarhei's description of a tenant, as its `GET /api` lists it:
    /// `auth0 domain=HOST audience=AUD clientid=ID`.
    pub fn describe(&self) -> String {
        let domain = self.issuer.trim_start_matches("https://").trim_start_matches("http://");
        format!(
            "auth0 domain={} audience={} clientid={}",
            domain.trim_end_matches('/'),
            self.audiences.join(","),
            self.client_id.as_deref().unwrap_or_default()
        )
    }
}

/// How keys are fetched and kept.
///
/// ```
/// let options = auth_core::jwks::JwksOptions::default();
/// assert_eq!(options.unknown_kid_cooldown.as_secs(), 30);
/// ```
#[derive(Debug, Clone)]
pub struct JwksOptions {
    /// How long a key set is fresh when the answer has no `Cache-Control:
    /// max-age`. Default 10 minutes.
    pub default_max_age: Duration,
    /// The bounds a `max-age` is clamped to. Default 5 s to 1 day.
    pub min_max_age: Duration,
    /// See `min_max_age`.
    pub max_max_age: Duration,
    /// A token with an unknown `kid` makes the keys be fetched again, at
    /// most once per this long (a flood of made-up `kid`s costs the
    /// provider one fetch). Default 30 s.
    pub unknown_kid_cooldown: Duration,
    /// After a failed fetch, the next is tried no sooner than this.
    /// Default 5 s.
    pub retry_after_failure: Duration,
    /// A provider that is down: the last good key set is used for at most
    /// this long past its `max-age`, then tokens are refused (503) until a
    /// fetch succeeds. Default 1 day.
    pub max_stale: Duration,
    /// Connect timeout. Default 2 s.
    pub connect_timeout: Duration,
    /// Whole-request timeout. Default 5 s.
    pub timeout: Duration,
    /// The largest JWKS or discovery document read. Default 256 KiB.
    pub max_document: usize,
    /// The most keys kept from one set. Default 64.
    pub max_keys: usize,
    /// Lets JWKS and discovery URLs use plain `http` on any host. Off by
    /// default: keys are fetched over `https`, plain `http` only from a
    /// loopback host (`127.0.0.0/8`, `::1`, `localhost`), since whoever
    /// can change the keys in transit can sign any token. Turned on, the
    /// verifier logs a warning naming the URLs when it is built. Redirects
    /// from `https` to `http` are refused either way.
    pub allow_insecure_http: bool,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            default_max_age: Duration::from_secs(600),
            min_max_age: Duration::from_secs(5),
            max_max_age: Duration::from_secs(86_400),
            unknown_kid_cooldown: Duration::from_secs(30),
            retry_after_failure: Duration::from_secs(5),
            max_stale: Duration::from_secs(86_400),
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            max_document: 256 * 1024,
            max_keys: 64,
            allow_insecure_http: false,
        }
    }
}

impl JwksOptions {
    /// Why these options cannot work, if they cannot: checked when a
    /// [`JwksVerifier`](super::JwksVerifier) is built. Every duration may
    /// be as large as [`Duration::MAX`] (none is added to a point in time
    /// without saturating).
    pub(super) fn problem(&self) -> Option<String> {
        if self.min_max_age > self.max_max_age {
            return Some(format!(
                "JwksOptions: min_max_age ({:?}) is greater than max_max_age ({:?})",
                self.min_max_age, self.max_max_age
            ));
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Some("JwksOptions: timeout and connect_timeout must be longer than zero".into());
        }
        if self.max_document == 0 || self.max_keys == 0 {
            return Some("JwksOptions: max_document and max_keys must be at least 1".into());
        }
        None
    }
}
