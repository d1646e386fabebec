//! Verifying tokens of external identity providers from their published
//! keys (feature `jwks`): [`JwksVerifier`], an [`ExternalIdentity`] for
//! datarhei's Auth0 login and for any OIDC-style issuer.
//!
//! - Several issuers, each with its audiences, an optional allow-list of
//!   subjects and a JWKS URL (or OIDC discovery). A token is matched to its
//!   issuer by `iss`, then verified strictly: the key is the one its `kid`
//!   names, its `alg` must be one that key verifies with and one the issuer
//!   allows (never HMAC: an HS256 token "signed" with a published RSA key
//!   is refused), and `iss`, `aud`, `exp`, `nbf` are checked with no
//!   leeway. A key published without `alg` (Microsoft Entra ID's RSA keys)
//!   verifies with the issuer's algorithms that fit its type
//!   ([`JwtKey::from_jwk_for`](crate::JwtKey::from_jwk_for)).
//! - Only access tokens pass: refresh tokens, ID tokens and anything else
//!   typed otherwise are refused, and an issuer can require its access
//!   tokens' type ([`TokenTypes`]).
//! - Keys are fetched over `https` (plain `http` only from a loopback host,
//!   or with [`JwksOptions::allow_insecure_http`]), and no redirect steps
//!   down to plain `http`; a URL that breaks the rule is refused when the
//!   verifier is built.
//! - Keys are parsed with `jsonwebtoken`'s JWK support, cached for the
//!   answer's `Cache-Control: max-age` (clamped), and fetched again in the
//!   background once 80 % of that has passed, while requests go on with the
//!   keys they have. An unknown `kid` fetches again at most once per
//!   [`JwksOptions::unknown_kid_cooldown`]; fetches are single-flight.
//! - A provider that is down keeps the last good key set for at most
//!   [`JwksOptions::max_stale`] past its max-age. A token that cannot be
//!   verified is never let in: with no keys at all, the answer is 503.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use auth_core::dialects::Datarhei;
//! use auth_core::jwks::{IssuerConfig, JwksOptions, JwksVerifier};
//! let tenant = IssuerConfig::new("https://example.eu.auth0.com/", "https://api.example.com")
//!     .allow_subjects(["auth0|alice"]);
//! let verifier = JwksVerifier::new(vec![tenant], JwksOptions::default())?;
//! let dialect = Datarhei::default().with_external_identity(verifier);
//! # let _ = dialect; Ok(()) }
//! ```

mod config;
mod fetch;
mod state;
#[cfg(test)]
mod tests;
mod transport;
mod typing;

pub use config::{IssuerConfig, JwksOptions, KeySource, TokenTypes};

use std::sync::Arc;

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;

use crate::error::{AuthError, TokenRejection};
use crate::external::{ExternalIdentity, ExternalSubject};
use state::IssuerState;

/// Why a [`JwksVerifier`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// No issuer, an issuer without audience, the same issuer twice, a
    /// key URL that breaks the transport rule (plain `http` to a host that
    /// is not loopback), or [`JwksOptions`] that cannot work.
    #[error("invalid issuer configuration: {0}")]
    Config(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Verifies external identity providers' tokens against their published
/// keys. Cheap to clone (clones share the key caches).
#[derive(Clone)]
pub struct JwksVerifier {
    issuers: Arc<[Arc<IssuerState>]>,
}

impl std::fmt::Debug for JwksVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let issuers: Vec<&str> = self.issuers.iter().map(|i| i.config.issuer.as_str()).collect();
        f.debug_struct("JwksVerifier").field("issuers", &issuers).finish()
    }
}

impl JwksVerifier {
    /// A verifier for `issuers`. Nothing is fetched yet: the first token of
    /// an issuer fetches its keys ([`prefetch`](Self::prefetch) does it
    /// ahead).
    ///
    /// Refused here ([`JwksError::Config`]) rather than at the first token:
    /// no issuer, an issuer without audience or algorithm, one issuer
    /// twice, a JWKS URL (or, with discovery, an issuer URL) that is
    /// neither `https` nor plain `http` to a loopback host (unless
    /// [`JwksOptions::allow_insecure_http`]; then a warning names it), and
    /// [`JwksOptions`] that cannot work (`min_max_age` above
    /// `max_max_age`, a zero timeout, ...).
    ///
    /// ```
    /// use auth_core::jwks::{IssuerConfig, JwksError, JwksOptions, JwksVerifier};
    /// let tenant = IssuerConfig::new("https://idp.example/", "api").jwks_url("https://idp.example/jwks.json");
    /// assert!(JwksVerifier::new(vec![tenant], JwksOptions::default()).is_ok());
    /// assert!(JwksVerifier::new(vec![], JwksOptions::default()).is_err());
    /// let plain = IssuerConfig::new("https://idp.example/", "api").jwks_url("http://idp.example/jwks.json");
    /// let err = JwksVerifier::new(vec![plain], JwksOptions::default()).unwrap_err();
    /// assert!(matches!(err, JwksError::Config(ref m) if m.contains("http://idp.example/jwks.json")));
    /// let local = IssuerConfig::new("https://idp.example/", "api").jwks_url("http://127.0.0.1:8080/jwks.json");
    /// assert!(JwksVerifier::new(vec![local], JwksOptions::default()).is_ok());
    /// ```
    pub fn new(issuers: Vec<IssuerConfig>, options: JwksOptions) -> Result<Self, JwksError> {
        if issuers.is_empty() {
            return Err(JwksError::Config("no issuer".into()));
        }
        if let Some(problem) = options.problem() {
            return Err(JwksError::Config(problem));
        }
        let mut insecure = Vec::new();
        for config in &issuers {
            let (what, url) = match &config.source {
                KeySource::JwksUrl(url) => ("JWKS URL", url.clone()),
                KeySource::Discovery => ("discovery URL", fetch::discovery_url(&config.issuer)),
            };
            let what = format!("issuer {}: {what}", config.issuer);
            match transport::check(&what, &url, options.allow_insecure_http) {
                Ok(transport::Transport::InsecureHttp) => insecure.push(url),
                Ok(_) => {}
                Err(rule) => return Err(JwksError::Config(rule)),
            }
        }
        let client = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            .redirect(transport::redirect_policy(options.allow_insecure_http))
            .user_agent(concat!("auth-core/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| JwksError::Client(e.to_string()))?;
        let options = Arc::new(options);
        let mut states = Vec::with_capacity(issuers.len());
        for config in issuers {
            if config.audiences.iter().all(String::is_empty) {
                return Err(JwksError::Config(format!("issuer {} has no audience", config.issuer)));
            }
            if config.algorithms.is_empty() {
                return Err(JwksError::Config(format!("issuer {} allows no algorithm", config.issuer)));
            }
            if states.iter().any(|s: &Arc<IssuerState>| s.config.issuer == config.issuer) {
                return Err(JwksError::Config(format!("issuer {} is configured twice", config.issuer)));
            }
            states.push(Arc::new(IssuerState::new(config, client.clone(), options.clone())));
        }
        if !insecure.is_empty() {
            tracing::warn!(
                urls = ?insecure,
                "JwksOptions::allow_insecure_http: identity provider keys are fetched over plain http; \
                 whoever can change them in transit can sign any token"
            );
        }
        Ok(Self { issuers: states.into() })
    }

    /// Fetches every issuer's keys now; `false` if any fetch failed (the
    /// verifier still works: it tries again on the next token).
    pub async fn prefetch(&self) -> bool {
        let mut all = true;
        for issuer in self.issuers.iter() {
            all &= issuer.keys(std::time::Instant::now()).await.is_ok();
        }
        all
    }

    /// The configured issuers.
    pub fn issuers(&self) -> impl Iterator<Item = &IssuerConfig> {
        self.issuers.iter().map(|i| &i.config)
    }

    /// Verifies `token` as an access token of one of the issuers (its
    /// signature, `iss`, `aud`, `exp`, `nbf` and its type: see
    /// [`TokenTypes`]) and returns that issuer's configuration and the
    /// claims. The subject allow-list is not checked here.
    pub async fn verify_claims(&self, token: &str) -> Result<(&IssuerConfig, serde_json::Value), AuthError> {
        let invalid = |r| AuthError::InvalidToken(r);
        if token.len() > crate::header::MAX_HEADER_LEN {
            return Err(invalid(TokenRejection::TooLong));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid(TokenRejection::Malformed))?;
        let issuer = unverified_issuer(token).ok_or(invalid(TokenRejection::Malformed))?;
        let state =
            self.issuers.iter().find(|s| s.config.issuer == issuer).ok_or(invalid(TokenRejection::Issuer))?;
        let kid = header.kid.as_deref().ok_or(invalid(TokenRejection::UnknownKey))?;
        let keys = state.key(kid).await?;
        let key = keys
            .iter()
            .find(|k| k.algorithm() == header.alg)
            .filter(|_| state.config.algorithms.contains(&header.alg))
            .ok_or(invalid(TokenRejection::Algorithm))?;
        let mut validation = jsonwebtoken::Validation::new(key.algorithm());
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_issuer(&[&state.config.issuer]);
        validation.set_audience(&state.config.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(token, key.decoding(), &validation)
            .map_err(|e| invalid(rejection(e.kind())))?;
        typing::check(&state.config.token_types, data.header.typ.as_deref(), &data.claims)
            .map_err(invalid)?;
        Ok((&state.config, data.claims))
    }
}

/// The `iss` of a token's payload, read without verifying anything: only
/// to choose which issuer's rules and keys verify it.
fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

fn rejection(kind: &ErrorKind) -> TokenRejection {
    match kind {
        ErrorKind::ExpiredSignature => TokenRejection::Expired,
        ErrorKind::ImmatureSignature => TokenRejection::NotYetValid,
        ErrorKind::InvalidAudience => TokenRejection::Audience,
        ErrorKind::InvalidIssuer => TokenRejection::Issuer,
        ErrorKind::InvalidSignature => TokenRejection::Signature,
        ErrorKind::InvalidAlgorithm => TokenRejection::Algorithm,
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "exp" => TokenRejection::MissingClaim("exp"),
            "iss" => TokenRejection::MissingClaim("iss"),
            "aud" => TokenRejection::MissingClaim("aud"),
            _ => TokenRejection::MissingClaim("sub"),
        },
        _ => TokenRejection::Malformed,
    }
}

#[async_trait::async_trait]
impl ExternalIdentity for JwksVerifier {
    async fn verify(&self, token: &str) -> Result<ExternalSubject, AuthError> {
        let (issuer, claims) = self.verify_claims(token).await?;
        let sub = claims["sub"]
            .as_str()
            .filter(|s| !s.is_empty() && s.len() <= 255)
            .ok_or(AuthError::InvalidToken(TokenRejection::MissingClaim("sub")))?;
        if let Some(allowed) = &issuer.allowed_subjects
            && !allowed.iter().any(|a| a == sub)
        {
            return Err(AuthError::InvalidToken(TokenRejection::SubjectNotAllowed));
        }
        Ok(ExternalSubject::new(issuer.issuer.clone(), sub))
    }

    fn describe(&self) -> Vec<String> {
        self.issuers().map(IssuerConfig::describe).collect()
    }
}
