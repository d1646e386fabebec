//! What a [`JwksVerifier`](super::JwksVerifier) trusts and how it fetches.

use std::time::Duration;

use crate::keys::Algorithm;

/// Where an issuer's keys are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A JWKS document at this URL.
    JwksUrl(String),
    /// The `jwks_uri` of the issuer's `/.well-known/openid-configuration`
    /// (whose `issuer` must equal the configured one, as OIDC requires).
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
        }
    }
}
